// Canonical JSON per RFC 8785 (JCS), so any tool can recompute an entry's hash:
// object members sorted by their names' UTF-16 code units, no whitespace,
// strings and numbers serialised as ECMAScript's JSON.stringify does (which is
// what RFC 8785 specifies for both). JCS is defined over JSON values, and what
// the stores keep and a bundle carries is the text JSON.stringify writes, so a
// value is first taken as JSON.stringify takes it: its toJSON (a Date becomes
// its ISO string) and a boxed primitive unwrapped. Values JSON cannot carry are
// refused.

import { types } from 'node:util';
import { ChangegateError } from '../errors.ts';

export function canonicalJson(value: unknown): string {
  const json = asJson(value, '');
  if (json === undefined) throw refuse([], `a ${typeof value} has no JSON form`);
  return write(json, []);
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
 */
function write(value: unknown, trail: (string | number)[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw refuse(trail, `${value} is not a JSON number`);
      // ECMAScript's Number-to-string, as RFC 8785 section 3.2.2.3 requires (-0 becomes 0).
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          trail.push(i);
          // A hole reads as undefined: refused like an undefined item, not written as an empty slot (or as JSON.stringify's null).
          out += i === 0 ? write(asJson(value[i], String(i)), trail) : `,${write(asJson(value[i], String(i)), trail)}`;
          trail.pop();
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units, the order RFC 8785 section 3.2.3 asks for.
      let out = '{';
      for (const key of Object.keys(record).toSorted()) {
        const member = asJson(record[key], key);
        if (member === undefined) continue;
        trail.push(key);
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${write(member, trail)}`;
        trail.pop();
      }
      return `${out}}`;
    }
    default:
      throw refuse(trail, `a ${typeof value} has no JSON form`);
  }
}

function refuse(trail: readonly (string | number)[], why: string): ChangegateError {
  const path = `$${trail.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('')}`;
  return new ChangegateError('CG_INPUT_INVALID', `cannot write canonical JSON at ${path}: ${why}`, { details: { path } });
}
