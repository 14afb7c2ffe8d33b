// Canonical JSON per RFC 8785 (JCS), so any tool can recompute an entry's hash:
// object members sorted by their names' UTF-16 code units, no whitespace,
// strings and numbers serialised as ECMAScript's JSON.stringify does (which is
// what RFC 8785 specifies for both). Values JSON cannot carry are refused.

import { ChangegateError } from '../errors.ts';

export function canonicalJson(value: unknown): string {
  return write(value, '$');
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
