// Canonical JSON per RFC 8785 (JCS), so any tool can recompute an entry's hash:
// object members sorted by their names' UTF-16 code units, no whitespace,
// strings and numbers serialised as ECMAScript's JSON.stringify does (which is
// what RFC 8785 specifies for both). Values JSON cannot carry are refused.

import { ChangegateError } from '../errors.ts';

export function canonicalJson(value: unknown): string {
  try {
    return plain(value);
  } catch (err) {
    if (err !== NOT_PLAIN) throw err;
  }
  // Something JSON cannot carry: the careful writer below finds it and names its path.
  return write(value, '$');
}

/** Thrown by `plain` at a value it will not write; `write` then says where and why. */
const NOT_PLAIN = Symbol('not plain JSON');

/**
 * The writer every ledger entry goes through (twice: its payload, its hashed
 * fields), on the sync's hot path: no path strings, no intermediate arrays.
 * Writes exactly what `write` does for every value `write` accepts.
 */
function plain(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw NOT_PLAIN;
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          // A hole reads as undefined here: `write` decides what a sparse array becomes.
          if (!(i in value)) throw NOT_PLAIN;
          out += i === 0 ? plain(value[i]) : `,${plain(value[i])}`;
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units, as `write`'s comparator does.
      const keys = Object.keys(record).toSorted();
      let out = '{';
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${plain(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw NOT_PLAIN;
  }
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw refuse(path, `${value} is not a JSON number`);
      // ECMAScript's Number-to-string, as RFC 8785 section 3.2.2.3 requires (-0 becomes 0).
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(',')}]`;
      const members = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      // Default sort compares UTF-16 code units, the order RFC 8785 section 3.2.3 asks for.
      members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${write(v, `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw refuse(path, `a ${typeof value} has no JSON form`);
  }
}

function refuse(path: string, why: string): ChangegateError {
  return new ChangegateError('CG_INPUT_INVALID', `cannot write canonical JSON at ${path}: ${why}`, { details: { path } });
}
