// `${VAR}` and `${VAR:-default}` in changegate.yaml, filled from the environment
// in the parsed values, so an error still points at the line the placeholder is
// on. A placeholder that is a whole unquoted value (`pageSize: ${PAGE_SIZE}`)
// reads as YAML would read its value there: `500` a number, `true` a boolean;
// a quoted one or one inside a longer string stays text.

import { isScalar, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { YamlPath, YamlSource } from './yaml-source.ts';

export type Env = Readonly<Record<string, string | undefined>>;

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

// A placeholder that is a whole unquoted value, e.g. `{ password: ${SN_PASSWORD} }`:
// in a YAML flow map `{` would open a nested map, so it is quoted before parsing
// (line numbers are unchanged). Quoted or embedded placeholders are left alone.
const BARE_PLACEHOLDER = /(?<=(?:^|[:[{,]|-\s)[ \t]*)\$\{[A-Za-z_]\w*(?::-[^}"'\n]*)?\}(?=[ \t]*(?:[,}\]]|[ \t]#|$))/gm;

/** The text to parse, and where each placeholder that was a whole unquoted value now starts (at the quote added). */
export function quoteBarePlaceholders(text: string): { text: string; bare: ReadonlySet<number> } {
  const bare = new Set<number>();
  const quoted = text.replace(BARE_PLACEHOLDER, (match: string, offset: number) => {
    bare.add(offset + 2 * bare.size);
    return `"${match}"`;
  });
  return { text: quoted, bare };
}

/** Where a value came from: the variables filled into it, and whether a default stood in for an unset one. */
export interface Substituted {
  path: YamlPath;
  variables: { name: string; fromDefault: boolean }[];
}

export interface Substitution {
  data: unknown;
  /** Unset variables with no default, left as written so one pass reports them all. */
  missing: { path: YamlPath; variable: string }[];
  substituted: Substituted[];
  /** Whole-value placeholders read as a number or boolean, with the text they came from. */
  typed: { path: YamlPath; text: string }[];
}

/** A number or boolean as YAML reads the text as a plain value; anything else stays text. */
function yamlScalar(text: string): unknown {
  const doc = parseDocument(text);
  const node = doc.contents;
  if (doc.errors.length > 0 || !isScalar(node) || node.type !== 'PLAIN') return text;
  return typeof node.value === 'number' || typeof node.value === 'boolean' ? node.value : text;
}

export function substitute(source: YamlSource, bare: ReadonlySet<number>, env: Env): Substitution {
  const out: Substitution = { data: undefined, missing: [], substituted: [], typed: [] };
  const walk = (value: unknown, path: YamlPath): unknown => {
    if (typeof value === 'string') {
      const variables: Substituted['variables'] = [];
      const text = value.replace(PLACEHOLDER, (match, name: string, fallback: string | undefined) => {
        const found = env[name];
        if (found !== undefined && found !== '') {
          variables.push({ name, fromDefault: false });
          return found;
        }
        if (fallback !== undefined) {
          variables.push({ name, fromDefault: true });
          return fallback;
        }
        out.missing.push({ path, variable: name });
        return match;
      });
      if (variables.length === 0) return text;
      out.substituted.push({ path, variables });
      const start = source.offsetOf(path);
      if (start === null || !bare.has(start)) return text;
      const typed = yamlScalar(text);
      if (typed !== text) out.typed.push({ path, text });
      return typed;
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key])]));
    }
    return value;
  };
  out.data = walk(source.data ?? {}, []);
  return out;
}

const samePath = (a: readonly PropertyKey[], b: YamlPath): boolean => a.length === b.length && a.every((p, i) => p === b[i]);

function wantsText(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'invalid_type') return issue.expected === 'string';
  if (issue.code === 'invalid_union') return issue.errors.some((branch) => branch.some((inner) => inner.path.length === 0 && wantsText(inner)));
  return false;
}

/**
 * Parses the substituted data, giving back its text to every typed value the
 * schema wants as a string (a password or a client id of digits stays what was
 * exported), so a value is a number or boolean only where the field takes one.
 */
export function parseSubstituted<T>(schema: z.ZodType<T, unknown>, substitution: Substitution): { result: z.ZodSafeParseResult<T>; data: unknown } {
  let data = substitution.data;
  let typed = substitution.typed;
  for (;;) {
    const result = schema.safeParse(data);
    if (result.success) return { result, data };
    const back = typed.filter((t) => result.error.issues.some((issue) => samePath(issue.path, t.path) && wantsText(issue)));
    if (back.length === 0) return { result, data };
    for (const t of back) data = setAt(data, t.path, t.text);
    typed = typed.filter((t) => !back.includes(t));
  }
}

function setAt(data: unknown, path: YamlPath, value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (Array.isArray(data)) return data.map((item, i) => (i === head ? setAt(item, rest, value) : item));
  const map = data as Record<PropertyKey, unknown>;
  return { ...map, [head]: setAt(map[head], rest, value) };
}

/** ` (from ${VAR})` for an issue about a value filled from the environment; never the value itself. */
export function originOf(substituted: readonly Substituted[], path: YamlPath): string {
  const found = substituted.find((s) => samePath(path, s.path));
  if (found === undefined) return '';
  const names = found.variables.map((v) => `\${${v.name}}`).join(', ');
  if (found.variables.every((v) => v.fromDefault)) return ` (the default of ${names}, which ${found.variables.length === 1 ? 'is' : 'are'} not set)`;
  return ` (from ${names})`;
}
