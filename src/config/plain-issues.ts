// The validator's issues in the words of the person editing the file: what was
// expected, what was found, and a suggestion ("did you mean", the accepted
// values, an example), never zod's "Invalid input" or "Unrecognized key".

import type { z } from 'zod';
import { suggestKey } from '../mapping/strict-object.ts';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** Values never echoed back: a typo in a password must not land in a terminal or a log. */
const SECRET_KEY = /pass|secret|token|credential|key$|uri$/i;

function valueAt(data: unknown, path: Path): unknown {
  let at = data;
  for (const step of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[step];
  }
  return at;
}

function shown(value: unknown, path: Path): string {
  // An entry of a list is named by its list (`apiTokens[0]`, `secrets[1]`), not by its index.
  const key = String(path.findLast((step) => typeof step !== 'number') ?? '');
  if (SECRET_KEY.test(key)) return 'a value';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…"` : text;
}

const A: Record<string, string> = { string: 'a string', number: 'a number', boolean: 'true or false', object: 'a map (key: value lines)', array: 'a list', int: 'a whole number' };

interface Def {
  type: string;
  shape?: Record<string, { def: Def }>;
  innerType?: { def: Def };
  in?: { def: Def };
  element?: { def: Def };
  options?: { def: Def }[];
  discriminator?: string;
}

/** The keys the schema knows at `path` (for "did you mean"), following the data through unions. */
export function knownKeysAt(schema: z.ZodType, path: Path, data: unknown): string[] {
  let def = (schema as unknown as { def: Def }).def;
  let depth = 0;
  for (let guard = 0; guard < 200; guard++) {
    if (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type) && def.innerType) def = def.innerType.def;
    else if (def.type === 'pipe' && def.in) def = def.in.def;
    else if (def.type === 'union' && def.options) {
      const here = valueAt(data, path.slice(0, depth)) as Record<string, unknown> | undefined;
      const objects = def.options.map((o) => o.def).filter((d) => d.type === 'object' || d.type === 'pipe' || d.type === 'default');
      const chosen = def.discriminator !== undefined && here ? objects.find((d) => literalOf(d.shape?.[def.discriminator as string]?.def) === here[def.discriminator as string]) : objects[0];
      if (chosen === undefined) return [];
      def = chosen;
    } else if (depth === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    else if (def.type === 'object' && def.shape) {
      const next = def.shape[String(path[depth])];
      if (next === undefined) return [];
      def = next.def;
      depth++;
    } else if (def.type === 'array' && def.element) {
      def = def.element.def;
      depth++;
    } else return [];
  }
  return [];
}

function literalOf(def: Def | undefined): unknown {
  const values = (def as { values?: unknown[] } | undefined)?.values;
  return def?.type === 'literal' && Array.isArray(values) ? values[0] : undefined;
}

function didYouMean(value: unknown, options: readonly string[]): string {
  if (typeof value !== 'string') return '';
  const hint = suggestKey(value, options);
  return hint === null ? '' : `; did you mean "${hint}"?`;
}

/** One issue (an `unrecognized_keys` with several keys gives one per key) as `{ path, message }`. */
/** zod's own wording; anything else is a schema's custom message, already written for people. */
const ZOD_WORDING = /^(Invalid|Too (small|big)|Unrecognized|Expected)/;

export function plainIssues(issue: Issue, data: unknown, schema: z.ZodType): { path: Path; message: string }[] {
  const path = issue.path as Path;
  if (issue.code !== 'unrecognized_keys' && issue.code !== 'invalid_union' && !ZOD_WORDING.test(issue.message)) return [{ path, message: issue.message }];
  const value = valueAt(data, path);
  const key = String(path.at(-1) ?? 'the file');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, path, data);
      return issue.keys.map((k) => {
        const hint = suggestKey(k, known);
        const message = hint ? `unknown key "${k}"; did you mean "${hint}"?` : `unknown key "${k}"; expected one of ${known.join(', ') || '(none)'}`;
        return { path: [...path, k], message };
      });
    }
    case 'invalid_union': {
      const u = issue as Issue & { note?: string; discriminator?: string; options?: unknown[] };
      if (u.note === 'No matching discriminator') {
        const options = (u.options ?? []).map(String);
        const at = u.discriminator !== undefined && path.at(-1) !== u.discriminator ? [...path, u.discriminator] : path;
        const found = valueAt(data, at);
        const name = String(at.at(-1));
        const message =
          found === undefined
            ? `missing: ${name} is required, one of ${options.join(', ')}`
            : `${shown(found, at)} is not a known ${name}; expected one of ${options.join(', ')}${didYouMean(found, options)}`;
        return [{ path: at, message }];
      }
      const branches = issue.errors.flat();
      const advice = [...new Set(branches.filter((b) => b.code !== 'invalid_type').map((b) => b.message))];
      const types = [...new Set(branches.filter((b) => b.code === 'invalid_type').map((b) => A[(b as { expected: string }).expected] ?? (b as { expected: string }).expected))];
      const expected = advice.length > 0 ? `${advice.join('; or ')}${types.length > 0 ? ` (or ${types.join(' or ')})` : ''}` : `expected ${types.join(' or ') || 'another value'}`;
      return [{ path, message: `${expected}, got ${shown(value, path)}` }];
    }
    case 'invalid_type': {
      const expected = A[issue.expected] ?? issue.expected;
      if (value === undefined) return [{ path, message: `missing: ${key} is required (${expected})` }];
      return [{ path, message: `expected ${expected}, got ${shown(value, path)}` }];
    }
    case 'invalid_value': {
      const options = issue.values.map(String);
      if (options.length === 1) return [{ path, message: `expected ${JSON.stringify(issue.values[0])}, got ${shown(value, path)}` }];
      return [{ path, message: `${shown(value, path)} is not one of ${options.join(', ')}${didYouMean(value, options)}` }];
    }
    case 'invalid_format': {
      if (issue.format === 'url') return [{ path, message: `expected a URL such as https://acme.service-now.com, got ${shown(value, path)}` }];
      const own = issue.message.startsWith('Invalid') ? `expected ${issue.format === 'regex' ? 'another form' : `a ${issue.format}`}` : issue.message;
      return [{ path, message: `${own}, got ${shown(value, path)}` }];
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum);
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'string') return [{ path, message: small && bound === 1 ? `must not be empty` : `must be ${small ? 'at least' : 'at most'} ${bound} characters long` }];
      if (issue.origin === 'array') return [{ path, message: `needs ${small ? 'at least' : 'at most'} ${bound} ${bound === 1 ? 'entry' : 'entries'}` }];
      const word = small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
      return [{ path, message: `must be ${word} ${bound}, got ${shown(value, path)}` }];
    }
    default:
      return [{ path, message: issue.message.replace(/^Invalid input:?\s*/, '') || `not accepted: ${shown(value, path)}` }];
  }
}
