// Whether a note says what a gate looks for. A marker is a phrase configured in
// the policy (`[PIR]`, `cancel`), found anywhere in the text in any case. An
// occurrence counts unless a negation stands just before it in the same clause:
// "do not cancel", "no post-implementation review yet" say the opposite. A
// negation after it ("Cancel: no budget left") or across a comma, colon or
// full stop ("No, cancel it") leaves it standing.

import { NEGATION_WORDS } from '../kit/note-negations.ts';

const NEGATIONS = new Set(NEGATION_WORDS);

/** How many words before an occurrence a negation reaches: "not cancel", "not to cancel", "not going to cancel". */
const REACH = 3;
/** At most this much text before an occurrence is read for a negation. */
const LOOK_BACK = 60;
const CLAUSE_BREAK = /[.,;:!?()\n]/;

function negation(word: string): boolean {
  const w = word.replaceAll('’', "'");
  return w.endsWith("n't") || NEGATIONS.has(w.replace(/[^a-z]/g, ''));
}

/** Is the occurrence at `index` of the lower-cased text negated by a word just before it? */
function negated(lower: string, index: number): boolean {
  const clause = lower.slice(Math.max(0, index - LOOK_BACK), index).split(CLAUSE_BREAK).at(-1) ?? '';
  return clause.split(/\s+/).filter((w) => w !== '').slice(-REACH).some(negation);
}

/** Does the text state one of the markers: an occurrence, in any case, that no negation just before it denies? */
export function mentions(text: string | null, markers: readonly string[]): boolean {
  if (text === null) return false;
  const lower = text.toLowerCase();
  for (const marker of markers) {
    const needle = marker.toLowerCase();
    for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + 1)) {
      if (!negated(lower, at)) return true;
    }
  }
  return false;
}
