// Verifies an evidence bundle offline: every entry's payload hash and hash
// recomputed, the chain followed from the genesis value, positions counted, the
// head compared with the last entry, and the signature (when there is one, or
// when the auditor brings the public key) checked. The first problem names the
// entry and the field, so an auditor knows where the record was altered. A
// member name given twice shows only in the file's text, not in the value read
// from it: verify-evidence-text.ts checks the text for one.

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { isChangegateError } from '../errors.ts';
import { canonicalJson, LONE_SURROGATE, type CanonicalJsonOptions } from './canonical-json.ts';
import { BUNDLE_FORMAT, LEGACY_BUNDLE_FORMAT, signedHead, type EvidenceBundle } from './evidence-bundle.ts';
import { entryHash, GENESIS_HASH, sha256Hex, type EvidenceEntry } from './evidence-entry.ts';
import { jsonPath, repeatedMembers, type JsonPathStep } from './repeated-members.ts';

export interface VerifyProblem {
  /** The entry's position in the bundle (1-based), or null for the bundle as a whole. */
  entry: number | null;
  field: string;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  changeKey: string | null;
  entries: number;
  head: string | null;
  signed: boolean;
  /** Every problem found, the first (in chain order) first. */
  problems: VerifyProblem[];
  /**
   * What an intact bundle does not prove, for the auditor to check by other means: a format /1
   * bundle's unsigned change key and title, a signature checked against the key the bundle itself
   * names, a hash only changegate can recompute (text an earlier build wrote with a lone surrogate).
   */
  warnings: VerifyProblem[];
}

const TEXT_FIELDS = ['changeId', 'kind', 'at', 'source', 'summary', 'payloadHash', 'prevHash', 'hash'] as const;

/**
 * The members each part of a bundle has (formats /1 and /2 alike). Anything else is covered
 * by no hash and no signature, yet an auditor reading the file would take it as part of the
 * record (an entry's `approvedBy`), so it is reported as added.
 */
const MEMBERS = {
  bundle: ['format', 'change', 'exportedAt', 'entries', 'head', 'signature'],
  change: ['id', 'key', 'instance', 'title'],
  head: ['seq', 'hash'],
  signature: ['algorithm', 'publicKey', 'value'],
  entry: [...TEXT_FIELDS, 'seq', 'actor', 'payload'],
} as const satisfies Record<string, readonly string[]>;
const ADDED = 'is not part of the bundle format: no hash or signature covers it, so it was added after export';

/**
 * The paths (after `under`) of the members of `value` (when it is an object) that `known` does not
 * list. A name is the file's: one that is no identifier is quoted as JSON, as a repeated name's path
 * is, so a name holding a control and one spelling its escape (`\u202e`) print differently.
 */
function added(value: unknown, known: readonly string[], under: readonly JsonPathStep[] = []): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.keys(value)
    .filter((name) => !known.includes(name))
    .map((name) => jsonPath([...under, name]));
}

/**
 * A problem for each member name the JSON `text` gives twice in one object, named by its path
 * (after `under`, such as `envelope`); `where` says which text in the reason. Only a file's text
 * shows one: the value JSON.parse makes of it holds the last.
 */
export function repeatedMemberProblems(text: string, under: readonly JsonPathStep[] = [], where = ''): VerifyProblem[] {
  return repeatedMembers(text).map((path) => ({
    entry: null,
    field: jsonPath([...under, ...path]),
    reason: `appears more than once in its object${where}: JSON readers disagree on which one counts (verify reads the last, as JSON.parse does; others show the first), so what a reader shows may not be what was verified; changegate never writes a name twice`,
  }));
}

/** Where an earlier build hashed text holding a lone UTF-16 surrogate, which RFC 8785 refuses: its path and the surrogate. */
interface LoneSurrogate {
  path: string;
  unit: string;
}

/**
 * `compute` over RFC 8785's canonical JSON, or, where that refuses a lone surrogate, over the
 * form builds before the ledger's writer replaced them hashed (the surrogate escaped, as
 * JSON.stringify writes it), and where it was. Any other refusal is thrown.
 */
function hashedAsWritten<T>(compute: (options: CanonicalJsonOptions) => T): { value: T; lone: LoneSurrogate | null } {
  try {
    return { value: compute({}), lone: null };
  } catch (err) {
    if (!isChangegateError(err, 'CG_INPUT_INVALID') || err.details['reason'] !== LONE_SURROGATE) throw err;
    return { value: compute({ loneSurrogates: 'escape' }), lone: { path: String(err.details['path']), unit: String(err.details['unit']) } };
  }
}

/** Why a value could not be hashed: canonicalJson's refusal names the path; anything else is a missing or malformed part. */
const why = (err: unknown): string => (isChangegateError(err) ? err.message : 'a part it covers is missing or malformed');

const loneSurrogateWarning = (lone: LoneSurrogate) =>
  `holds a lone UTF-16 surrogate at ${lone.path}: the hash was recomputed over its escaped form (${lone.unit}), as earlier builds wrote it; RFC 8785 tools refuse it, so only changegate can recompute this hash`;

export function verifyBundle(input: unknown, options: { publicKey?: KeyObject } = {}): VerifyReport {
  const problems: VerifyProblem[] = [];
  const warnings: VerifyProblem[] = [];
  const problem = (entry: number | null, field: string, reason: string) => problems.push({ entry, field, reason });
  const warn = (entry: number | null, field: string, reason: string) => warnings.push({ entry, field, reason });
  const report = (bundle: Partial<EvidenceBundle>, signed: boolean): VerifyReport => ({
    ok: problems.length === 0,
    changeKey: typeof bundle.change?.key === 'string' ? bundle.change.key : null,
    entries: Array.isArray(bundle.entries) ? bundle.entries.length : 0,
    head: typeof bundle.head?.hash === 'string' ? bundle.head.hash : null,
    signed,
    problems,
    warnings,
  });
  if (typeof input !== 'object' || input === null) {
    problem(null, 'bundle', 'not a JSON object');
    return report({}, false);
  }
  const bundle = input as Partial<EvidenceBundle>;
  if (bundle.format !== BUNDLE_FORMAT && bundle.format !== LEGACY_BUNDLE_FORMAT) problem(null, 'format', `expected "${BUNDLE_FORMAT}" (or "${LEGACY_BUNDLE_FORMAT}"), found ${JSON.stringify(bundle.format)}`);
  if (typeof bundle.change?.id !== 'string') problem(null, 'change.id', 'missing');
  for (const path of added(bundle, MEMBERS.bundle)) problem(null, path, ADDED);
  for (const path of added(bundle.change, MEMBERS.change, ['change'])) problem(null, path, ADDED);
  if (!Array.isArray(bundle.entries)) {
    problem(null, 'entries', 'missing or not a list');
    return report(bundle, false);
  }

  let previous = GENESIS_HASH;
  bundle.entries.forEach((raw, i) => {
    const n = i + 1;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      // Nothing to hash: the entry after it cannot chain to it either.
      problem(n, 'entry', `${JSON.stringify(raw)} where an entry should be: an entry was replaced`);
      previous = '';
      return;
    }
    const entry = raw as Partial<EvidenceEntry>;
    for (const path of added(entry, MEMBERS.entry)) problem(n, path, ADDED);
    for (const field of TEXT_FIELDS) if (typeof entry[field] !== 'string') problem(n, field, 'missing or not text');
    if (entry.actor !== null && typeof entry.actor !== 'string') problem(n, 'actor', 'neither text nor null');
    if (entry.seq !== n) problem(n, 'seq', `entry ${n} says ${JSON.stringify(entry.seq)}: an entry was removed, inserted or moved before it`);
    if (entry.changeId !== bundle.change?.id) problem(n, 'changeId', `belongs to ${JSON.stringify(entry.changeId)}, not to this change`);
    if (entry.prevHash !== previous) problem(n, 'prevHash', 'does not match the hash of the entry before it: the chain is broken here');
    let payloadHash: { value: string; lone: LoneSurrogate | null } | null = null;
    try {
      payloadHash = hashedAsWritten((o) => sha256Hex(canonicalJson(entry.payload ?? null, o)));
    } catch (err) {
      problem(n, 'payload', `cannot be hashed: ${why(err)}`);
    }
    if (payloadHash !== null && entry.payloadHash !== payloadHash.value) problem(n, 'payload', 'differs from the payload hash: the payload or its hash was altered');
    else if (payloadHash?.lone) warn(n, 'payload', loneSurrogateWarning(payloadHash.lone));
    if (TEXT_FIELDS.every((f) => typeof entry[f] === 'string') && typeof entry.seq === 'number') {
      try {
        const recomputed = hashedAsWritten((o) => entryHash(entry as EvidenceEntry, o));
        if (recomputed.value !== entry.hash) problem(n, 'hash', 'does not match the entry\'s fields: a field of this entry was altered');
        else if (recomputed.lone) warn(n, recomputed.lone.path.replace(/^\$\./, ''), loneSurrogateWarning(recomputed.lone));
      } catch (err) {
        problem(n, 'hash', `cannot be recomputed: ${why(err)}`);
      }
    }
    previous = typeof entry.hash === 'string' ? entry.hash : '';
  });

  const last = bundle.entries.at(-1) as Partial<EvidenceEntry> | null | undefined;
  const head = bundle.head ?? null;
  if (last === undefined ? head !== null : head?.hash !== last?.hash || head?.seq !== last?.seq) {
    problem(null, 'head', 'does not name the last entry: entries were removed from the end or added after it');
  }
  for (const path of added(head, MEMBERS.head, ['head'])) problem(null, path, ADDED);

  const signature = bundle.signature ?? null;
  if (signature === null) {
    if (options.publicKey !== undefined) problem(null, 'signature', 'the bundle is not signed, but a public key was given to check it against');
    return report(bundle, false);
  }
  for (const path of added(signature, MEMBERS.signature, ['signature'])) problem(null, path, ADDED);
  if (signature.algorithm !== 'Ed25519') problem(null, 'signature.algorithm', `expected "Ed25519", found ${JSON.stringify(signature.algorithm)}`);
  let covered: { value: string; lone: LoneSurrogate | null };
  try {
    covered = hashedAsWritten((o) => signedHead(bundle as EvidenceBundle, o));
  } catch (err) {
    // What it covers cannot be written (a hand-edited number JSON reads as Infinity, a missing change): not a key problem.
    problem(null, 'signature', `cannot be checked: ${why(err)}`);
    return report(bundle, true);
  }
  try {
    const embedded = createPublicKey({ key: Buffer.from(String(signature.publicKey), 'base64'), format: 'der', type: 'spki' });
    const key = options.publicKey ?? embedded;
    // Node checks an ECDSA or RSA signature too when no digest is named: the format says Ed25519, so nothing else counts.
    const ed25519 = embedded.asymmetricKeyType === 'ed25519';
    if (!ed25519) problem(null, 'signature.publicKey', `is an ${embedded.asymmetricKeyType?.toUpperCase() ?? 'unknown'} key, not an Ed25519 key: the bundle was not signed as the format says`);
    if (options.publicKey !== undefined && !options.publicKey.equals(embedded)) problem(null, 'signature.publicKey', 'is not the public key given: someone else signed this bundle');
    if (!ed25519) return report(bundle, true);
    const good = verify(null, Buffer.from(covered.value), key, Buffer.from(String(signature.value), 'base64'));
    if (!good) problem(null, 'signature', 'does not verify over the change, the export time and the head: one of them or the signature was altered');
    else if (covered.lone) warn(null, 'signature', loneSurrogateWarning(covered.lone));
    if (good && options.publicKey === undefined) {
      // Valid only says the key in the file signed it: re-signing an edited bundle with a new key passes the same check.
      const fingerprint = sha256Hex(embedded.export({ type: 'spki', format: 'der' }));
      warn(null, 'signature', `made with the key the bundle itself names (SHA-256 fingerprint ${fingerprint}); nothing shows that key is the deployment's, and anyone who edits a bundle can sign it again with a key of their own: compare the fingerprint with the published one, or give --public-key`);
    }
    if (bundle.format === LEGACY_BUNDLE_FORMAT) {
      // What verify prints as the change ("intact CHG…") could have been edited without breaking a /1 signature.
      const change = bundle.change as Partial<EvidenceBundle['change']> | undefined;
      warnings.push({
        entry: null,
        field: 'change',
        reason: `format ${LEGACY_BUNDLE_FORMAT} signs only the change id and the head: its key ${JSON.stringify(change?.key)}, instance, title ${JSON.stringify(change?.title)} and export time are not signed; check them against the ticket the bundle was attached to`,
      });
    }
  } catch {
    problem(null, 'signature', 'unreadable (not an Ed25519 public key and signature in base64)');
  }
  return report(bundle, true);
}
