// The words that deny a marker standing just after them ("do not cancel"), shared
// by the service's reading of notes (src/policy/note-markers.ts) and the
// in-ITSM plugins that must read a note typed in a save the same way.

/** Negations written without the apostrophe too; any word ending in n't is one as well. */
export const NEGATION_WORDS: readonly string[] = [
  'not', 'no', 'never', 'without', 'nor', 'neither', 'cannot',
  'dont', 'doesnt', 'didnt', 'wont', 'wouldnt', 'shouldnt', 'cant', 'couldnt', 'mustnt', 'isnt', 'arent', 'wasnt', 'werent', 'havent', 'hasnt',
];
