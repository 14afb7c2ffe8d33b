// Text a file or an ITSM tool supplied, made safe to print to a terminal. A control character
// (ESC starts a sequence that can move the cursor or erase a line) or a Unicode
// bidirectional control (U+202A–U+202E, U+2066–U+2069: the "Trojan Source"
// trick) would make a line display otherwise than it reads; each is shown as
// its \uXXXX escape instead (lower-case hex, as JSON.stringify writes one), so
// what the reader sees is what the line says.

/** Bidirectional marks, embeddings, overrides and isolates, and the line and paragraph separators (a character class's body). */
const BIDI = '\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';

/** Every control character, and BIDI. */
const UNSAFE = new RegExp(`[\\p{Cc}${BIDI}]`, 'gu');

/** In JSON.stringify's output: not the C0 range, which it already escapes inside strings and uses raw (newlines) between them. */
const UNSAFE_IN_JSON = new RegExp(`[\\u007f-\\u009f${BIDI}]`, 'gu');

const escaped = (char: string): string => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/** One line's text (without its newline) with every unsafe character escaped. */
export const terminalText = (text: string): string => text.replace(UNSAFE, escaped);

/** JSON.stringify's output with the unsafe characters it leaves raw escaped: the same JSON value, safe to print. */
export const terminalJson = (json: string): string => json.replace(UNSAFE_IN_JSON, escaped);

/**
 * `value` with every string in it (in arrays and plain objects, at any depth) passed through
 * terminalText: the facts a report is rendered from, made safe once before rendering, so that the
 * colour and the newlines the renderer adds around them stay as they are, and a table measures
 * its columns on what it prints.
 */
export function terminalValues<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => terminalValues(item)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, terminalValues(item as unknown)])) as T;
}
