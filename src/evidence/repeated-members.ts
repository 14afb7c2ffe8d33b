// Member names given more than once in one object of a JSON text. JSON.parse
// keeps the last; a viewer, jq in some modes or another language's parser may
// keep the first, so text that repeats a name can show a reader other content
// than the value verify checked. changegate never writes a name twice.
//
// One pass over the text with a stack of open objects and arrays: a string is a
// member name when its object expects one. Names are compared as JSON.parse
// decodes them (`summ\u0061ry` is `summary`); only a name holding an escape is
// decoded, by JSON.parse itself over that one string literal.

/** A member's place: names of object members, positions (from 0) in arrays. */
export type JsonPathStep = string | number;

interface OpenObject {
  /** The names seen so far, each with whether it was already reported. */
  names: Map<string, boolean>;
  /** The name whose value is being read, or was last read. */
  step: string;
  expectsName: boolean;
}

interface OpenArray {
  names: null;
  step: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The path of each name some object of `text` gives more than once, once per name, in the order
 * of its second occurrence: the first `limit` of them (a path is as long as the nesting, so a
 * crafted file repeating names deep down would otherwise cost its size squared). `text` is JSON
 * that JSON.parse accepted: no other text is checked.
 */
export function repeatedMembers(text: string, limit = 100): JsonPathStep[][] {
  const found: JsonPathStep[][] = [];
  const open: (OpenObject | OpenArray)[] = [];
  let at = 0;
  while (at < text.length) {
    const unit = text.charCodeAt(at);
    if (unit === QUOTE) {
      // To the closing quote; an escape's next unit is never one.
      let end = at + 1;
      let escaped = false;
      for (let u = text.charCodeAt(end); u !== QUOTE && end < text.length; u = text.charCodeAt(++end)) {
        if (u === BACKSLASH) {
          escaped = true;
          end++;
        }
      }
      const inside = open.at(-1);
      if (inside !== undefined && inside.names !== null && inside.expectsName) {
        const name = escaped ? (JSON.parse(text.slice(at, end + 1)) as string) : text.slice(at + 1, end);
        const reported = inside.names.get(name);
        if (reported === false) {
          found.push([...open.slice(0, -1).map((o) => o.step), name]);
          if (found.length === limit) return found;
        }
        inside.names.set(name, reported !== undefined);
        inside.step = name;
        inside.expectsName = false;
      }
      at = end + 1;
      continue;
    }
    if (unit === 0x7b /* { */) open.push({ names: new Map(), step: '', expectsName: true });
    else if (unit === 0x5b /* [ */) open.push({ names: null, step: 0 });
    else if (unit === 0x7d /* } */ || unit === 0x5d /* ] */) open.pop();
    else if (unit === 0x2c /* , */) {
      const inside = open.at(-1);
      if (inside?.names === null) inside.step++;
      else if (inside !== undefined) inside.expectsName = true;
    }
    at++;
  }
  return found;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `entries[3].summary`; a name that is no identifier quoted as JSON (`payload["a b"]`), so a control character is shown escaped. */
export function jsonPath(steps: readonly JsonPathStep[]): string {
  let out = '';
  for (const step of steps) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (IDENTIFIER.test(step)) out += out === '' ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}
