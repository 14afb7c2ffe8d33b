// Canonical JSON per RFC 8785 (JCS), so any tool can recompute an entry's hash:
// object members sorted by their names' UTF-16 code units, no whitespace,
// strings and numbers serialised as ECMAScript's JSON.stringify does (which is
// what RFC 8785 specifies for both). JCS is defined over JSON values, and what
// the stores keep and a bundle carries is the text JSON.stringify writes, so a
// value is first taken as JSON.stringify takes it: its toJSON (a Date becomes
// its ISO string) and a boxed primitive unwrapped. Values JSON cannot carry are
// refused, and so is a lone UTF-16 surrogate (half of a pair, not Unicode text):
// RFC 8785 section 3.2.2.2 requires that, and other JCS tools refuse one, so a
// hash over it could be recomputed by changegate alone. The ledger's writer puts
// U+FFFD in its place before hashing (evidence-entry.ts). A Map or Set (which
// JSON.stringify writes as {}, dropping its entries, so two different ones would
// hash alike) and a cycle are refused too, naming the path.

import { types } from 'node:util';
import { ChangegateError } from '../errors.ts';
import { jsonPath } from './repeated-members.ts';

export interface CanonicalJsonOptions {
  /**
   * `refuse` (the default, RFC 8785); `escape`: write it as JSON.stringify does (`\ud83d`), as
   * builds before the writer replaced them hashed it: only to verify what those builds wrote.
   */
  loneSurrogates?: 'refuse' | 'escape';
}

/** `details.reason` of a refusal for a lone surrogate, which a caller may act on (the path is in `details.path`). */
export const LONE_SURROGATE = 'lone-surrogate';

export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  const json = asJson(value, '');
  if (json === undefined) throw refuse([], `a ${typeof value} has no JSON form`);
  return write(json, [], new Map(), options.loneSurrogates !== 'escape');
}

/**
 * A copy of `value` as JSON (toJSON applied, as canonicalJson takes it) with each lone
 * surrogate in a string or a member name replaced by U+FFFD, the character any UTF-8
 * encoder writes for one. What JSON cannot carry is kept as it is, for canonicalJson to
 * refuse. Two names that differ only in a lone surrogate become one, the later winning,
 * as JSON.parse treats a repeated name.
 */
export function withWellFormedText(value: unknown, key = '', open: Set<object> = new Set()): unknown {
  const json = asJson(value, key);
  if (typeof json === 'string') return json.toWellFormed();
  // A cycle and a collection are kept (a copy would end the cycle or drop the entries), so canonicalJson still refuses them.
  if (typeof json !== 'object' || json === null || open.has(json) || collectionName(json) !== null) return json;
  open.add(json);
  try {
    if (Array.isArray(json)) {
      const items: unknown[] = [];
      items.length = json.length;
      // A hole stays a hole.
      for (let i = 0; i < json.length; i++) if (i in json) items[i] = withWellFormedText(json[i], String(i), open);
      return items;
    }
    const record = json as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    // defineProperty: a member named __proto__ stays a member, as JSON.parse makes it.
    for (const name of Object.keys(record)) Object.defineProperty(out, name.toWellFormed(), { value: withWellFormedText(record[name], name, open), enumerable: true, writable: true, configurable: true });
    return out;
  } finally {
    open.delete(json);
  }
}

/** The kind of a keyed collection, whose entries are no members: JSON.stringify writes `{}` for any of them. */
function collectionName(value: object): string | null {
  if (types.isMap(value)) return 'Map';
  if (types.isSet(value)) return 'Set';
  if (types.isWeakMap(value)) return 'WeakMap';
  if (types.isWeakSet(value)) return 'WeakSet';
  return null;
}

/**
 * The value as JSON.stringify serialises it (ECMA-262 SerializeJSONProperty):
 * an object's or bigint's toJSON called with the member's name, then a Number,
 * String, Boolean or BigInt object unwrapped. Anything else is left as it is.
 */
function asJson(value: unknown, key: string): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key) as unknown;
  }
  // By internal slot, as the specification tests it (so a value from another realm counts too); a boxed Symbol stays an object.
  if (typeof value !== 'object' || value === null || !types.isBoxedPrimitive(value)) return value;
  if (types.isNumberObject(value)) return Number(value);
  if (types.isStringObject(value)) return String(value);
  if (types.isBooleanObject(value) || types.isBigIntObject(value)) return value.valueOf();
  return value;
}

/**
 * Every ledger entry goes through here twice (its payload, its hashed fields), on the
 * sync's hot path: the path to the value being written is kept as a stack of keys,
 * spelled out only in a refusal, and strings are appended, not collected and joined.
 * `open` holds the objects being written around this one, each with the length of its
 * path: meeting one again is a cycle (the same object twice side by side is not, and is
 * written twice, as JSON.stringify does).
 */
function write(value: unknown, trail: (string | number)[], open: Map<object, number>, strict: boolean): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      if (strict && !value.isWellFormed()) throw refuseSurrogate(trail, value, 'the text');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw refuse(trail, `${value} is not a JSON number`);
      // ECMAScript's Number-to-string, as RFC 8785 section 3.2.2.3 requires (-0 becomes 0).
      return JSON.stringify(value);
    case 'object': {
      const depth = open.get(value);
      if (depth !== undefined) throw refuseCycle(trail, depth);
      const collection = collectionName(value);
      if (collection !== null) throw refuse(trail, `a ${collection} has no JSON form (JSON.stringify writes {} and drops its entries); give its entries as an object or array`);
      open.set(value, trail.length);
      const out = Array.isArray(value) ? writeItems(value, trail, open, strict) : writeMembers(value as Record<string, unknown>, trail, open, strict);
      open.delete(value);
      return out;
    }
    default:
      throw refuse(trail, `a ${typeof value} has no JSON form`);
  }
}

function writeItems(value: unknown[], trail: (string | number)[], open: Map<object, number>, strict: boolean): string {
  let out = '[';
  for (let i = 0; i < value.length; i++) {
    trail.push(i);
    // A hole reads as undefined: refused like an undefined item, not written as an empty slot (or as JSON.stringify's null).
    out += i === 0 ? write(asJson(value[i], String(i)), trail, open, strict) : `,${write(asJson(value[i], String(i)), trail, open, strict)}`;
    trail.pop();
  }
  return `${out}]`;
}

function writeMembers(record: Record<string, unknown>, trail: (string | number)[], open: Map<object, number>, strict: boolean): string {
  // The default sort compares UTF-16 code units, the order RFC 8785 section 3.2.3 asks for.
  let out = '{';
  for (const key of Object.keys(record).toSorted()) {
    const member = asJson(record[key], key);
    if (member === undefined) continue;
    if (strict && !key.isWellFormed()) throw refuseSurrogate(trail, key, `the member name ${JSON.stringify(key)}`);
    trail.push(key);
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${write(member, trail, open, strict)}`;
    trail.pop();
  }
  return `${out}}`;
}

/** `$.change.title`; a name that is no identifier quoted as JSON (`$.payload["a.b"]`), as verify names an added member, so `a.b` reads unlike `b` inside `a`. */
const pathOf = (trail: readonly (string | number)[]): string => jsonPath(['$', ...trail]);

function refuse(trail: readonly (string | number)[], why: string, reason?: string): ChangegateError {
  const path = pathOf(trail);
  return new ChangegateError('CG_INPUT_INVALID', `cannot write canonical JSON at ${path}: ${why}`, { details: reason === undefined ? { path } : { path, reason } });
}

/** A value met again inside itself: where the cycle closes, and the value (at `depth` keys) it leads back to. */
function refuseCycle(trail: readonly (string | number)[], depth: number): ChangegateError {
  const path = pathOf(trail);
  const target = pathOf(trail.slice(0, depth));
  return new ChangegateError('CG_INPUT_INVALID', `cannot write canonical JSON: cycle at ${path}, which is the value at ${target} again`, { details: { path, reason: 'cycle', target } });
}

function refuseSurrogate(trail: readonly (string | number)[], text: string, subject: string): ChangegateError {
  let at = 0;
  while (at < text.length) {
    const unit = text.charCodeAt(at);
    const next = text.charCodeAt(at + 1);
    if (unit >= 0xdc00 && unit <= 0xdfff) break;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      if (!(next >= 0xdc00 && next <= 0xdfff)) break;
      at++;
    }
    at++;
  }
  const shown = `\\u${text.charCodeAt(at).toString(16).padStart(4, '0')}`;
  const error = refuse(trail, `${subject} holds a lone UTF-16 surrogate (${shown} at character ${at}), which is not Unicode text; RFC 8785 refuses it`, LONE_SURROGATE);
  error.details['unit'] = shown;
  return error;
}
