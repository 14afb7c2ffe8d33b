// The ledger's canonical JSON (RFC 8785): every entry's hash is taken over it,
// and an auditor recomputes the hash with any JCS tool. The writer appends
// strings and names a path only when it refuses a value; it must write the same
// bytes as a straightforward reading of the RFC.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, withWellFormedText } from '../../src/evidence/canonical-json.ts';
import { isChangegateError } from '../../src/errors.ts';

/** RFC 8785 read plainly: members sorted by UTF-16 code units, undefined members left out, ECMAScript's string and number forms. */
function reference(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('not a JSON number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (typeof value === 'object') {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  throw new Error(`a ${typeof value} has no JSON form`);
}

// Keys that sort differently by code unit than JavaScript enumerates them: integer-like ("10" before "9"), astral and accented.
const key = fc.oneof(fc.string(), fc.constantFrom('10', '9', '1', '', 'é', 'e', '\u{1F600}', '\uFFFF', 'a b', '__proto__x'), fc.nat({ max: 200 }).map(String));
const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 1e21, 1e-7, 0.1 + 0.2, Number.MAX_SAFE_INTEGER + 2, 5e-324));
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.constant(null), fc.boolean(), number, fc.string(), fc.string({ unit: 'grapheme' })),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(key, fc.oneof(tie('node'), fc.constant(undefined)), { maxKeys: 6 })),
})).node;

/** The message canonicalJson refuses `v` with. */
function refusal(v: unknown): string {
  try {
    canonicalJson(v);
  } catch (err) {
    if (isChangegateError(err, 'CG_INPUT_INVALID')) return err.message;
    throw err;
  }
  throw new Error('accepted');
}

describe('canonicalJson', () => {
  it('writes what RFC 8785 read plainly writes, for any JSON value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 2_000 },
    );
  });

  it('sorts members by code unit, not as JavaScript enumerates integer-like keys, and writes numbers as ECMAScript does', () => {
    expect(canonicalJson({ 9: 'nine', 10: 'ten', b: [1e21, -0, 0.000001, 1e-7], a: 'é\u2028', '\u{1F600}': true, '\uFFFF': false, skipped: undefined })).toBe(
      '{"10":"ten","9":"nine","a":"é\u2028","b":[1e+21,0,0.000001,1e-7],"\u{1F600}":true,"\uFFFF":false}',
    );
  });

  it('writes a value with toJSON, or a boxed primitive, as JSON.stringify does, so the hash is the one any JCS tool takes over the written text', () => {
    const at = new Date('2026-03-12T08:00:00Z');
    expect(canonicalJson({ plannedStart: at, window: [at], label: new String('b'), n: new Number(2), ok: new Boolean(false) })).toBe(
      '{"label":"b","n":2,"ok":false,"plannedStart":"2026-03-12T08:00:00.000Z","window":["2026-03-12T08:00:00.000Z"]}',
    );
    // toJSON is called with the member's name (an item's index as text), and a member it turns into undefined is left out, as JSON.stringify does.
    const keyed = { toJSON: (k: string) => `as ${JSON.stringify(k)}` };
    expect(canonicalJson({ a: keyed, b: [keyed], gone: { toJSON: () => undefined } })).toBe('{"a":"as \\"a\\"","b":["as \\"0\\""]}');
    expect(canonicalJson(keyed)).toBe('"as \\"\\""');
  });

  it('hashes any value it accepts as RFC 8785 hashes the JSON text JSON.stringify writes of it (property)', () => {
    const anything = fc.anything({ withBoxedValues: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withObjectString: true, maxDepth: 3 });
    fc.assert(
      fc.property(anything, (v) => {
        let written: string;
        try {
          written = canonicalJson(v);
        } catch (err) {
          if (isChangegateError(err, 'CG_INPUT_INVALID')) return;
          throw err;
        }
        expect(written).toBe(reference(JSON.parse(JSON.stringify(v))));
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses what JSON cannot carry, naming where it is', () => {
    expect(refusal({ gate: { scores: [1, Number.NaN] } })).toMatch(/at \$\.gate\.scores\[1\]: NaN is not a JSON number/);
    expect(refusal({ a: [{ b: () => 1 }] })).toMatch(/at \$\.a\[0\]\.b: a function has no JSON form/);
    expect(refusal([1, undefined])).toMatch(/at \$\[1\]: a undefined has no JSON form/);
    expect(refusal({ n: 10n })).toMatch(/at \$\.n: a bigint has no JSON form/);
    // Not Unicode text, so RFC 8785 (I-JSON) refuses it, and so do other JCS tools: the writer must not hand one over (see evidence-entry.ts).
    expect(refusal({ change: { title: 'Upgrade the payments gateway \u{1F680}'.slice(0, -1) } })).toMatch(/at \$\.change\.title: the text holds a lone UTF-16 surrogate \(\\ud83d at character 29\), which is not Unicode text; RFC 8785 refuses it/);
    expect(refusal({ fields: { ['x\udc00']: 1 } })).toMatch(/at \$\.fields: the member name "x\\udc00" holds a lone UTF-16 surrogate \(\\udc00 at character 1\)/);
    // A sparse array's hole is refused like an undefined item (it used to be written as `[1,,3]`, which is not JSON).
    // oxlint-disable-next-line no-sparse-arrays
    expect(refusal({ runs: [1, , 3] })).toMatch(/at \$\.runs\[1\]: a undefined has no JSON form/);
  });

  it('refuses a cycle naming where it closes and the value it leads back to, and writes a value met twice side by side twice', () => {
    const change: Record<string, unknown> = { key: 'CHG0030001' };
    change['gate'] = { evidence: { change } };
    expect(refusal({ a: { b: change } })).toBe('cannot write canonical JSON: cycle at $.a.b.gate.evidence.change, which is the value at $.a.b again');
    const items: unknown[] = [1];
    items.push(items);
    expect(refusal(items)).toBe('cannot write canonical JSON: cycle at $[1], which is the value at $ again');
    // Not a cycle: the same approval under two names, as JSON.stringify writes it.
    const approval = { id: 'a1', state: 'approved' };
    expect(canonicalJson({ first: approval, last: [approval] })).toBe('{"first":{"id":"a1","state":"approved"},"last":[{"id":"a1","state":"approved"}]}');
  });

  it('refuses a Map or a Set naming the path, rather than hashing it as {} whatever it holds', () => {
    expect(refusal({ gate: { approvers: new Map([['cab', 'approved']]) } })).toMatch(/^cannot write canonical JSON at \$\.gate\.approvers: a Map has no JSON form \(JSON\.stringify writes \{\} and drops its entries\)/);
    expect(refusal({ services: [new Set(['payments'])] })).toMatch(/^cannot write canonical JSON at \$\.services\[0\]: a Set has no JSON form/);
    // With a toJSON it has a JSON form, as for JSON.stringify.
    const tagged = Object.assign(new Set(['payments']), { toJSON: () => ['payments'] });
    expect(canonicalJson({ services: tagged })).toBe('{"services":["payments"]}');
  });

  it('keeps a cycle and a Map when it replaces lone surrogates, so the refusal stands', () => {
    const change: Record<string, unknown> = { title: 'x\ud83d' };
    change['self'] = change;
    expect(refusal(withWellFormedText(change))).toMatch(/^cannot write canonical JSON: cycle at \$\.self/);
    expect(refusal(withWellFormedText({ title: 'x\ud83d', approvers: new Map([['cab', 'approved']]) }))).toMatch(/at \$\.approvers: a Map has no JSON form/);
  });
});
