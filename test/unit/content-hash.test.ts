import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash, stableStringify } from '../../src/store/content-hash.ts';
import { buildChange } from '../support/change-builder.ts';

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length] as [string, unknown]);
  return Object.fromEntries(rotated.toReversed().map(([k, v]) => [k, shuffleKeys(v, seed)]));
}

describe('contentHash', () => {
  it('is the same whatever order the keys arrived in, at any depth (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(7), (value, seed) => {
        expect(contentHash(shuffleKeys(value, seed))).toBe(contentHash(value));
      }),
    );
  });

  it('parses back to the same value JSON.stringify gives (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withDate: true, withBoxedValues: true, withSparseArray: true, withMap: true }), (value) => {
        const plain = JSON.stringify(value) as string | undefined;
        expect(JSON.parse(stableStringify(value))).toEqual(plain === undefined ? null : JSON.parse(plain));
      }),
    );
  });

  it('writes object keys sorted at every depth, array-index keys first in numeric order', () => {
    expect(stableStringify({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined }, 10: 'x', 9: 'y', B: null })).toBe(
      '{"9":"y","10":"x","B":null,"a":{"d":[{"y":2,"z":1}]},"b":1}',
    );
  });

  it('keeps a key named __proto__ as data', () => {
    const parsed: unknown = JSON.parse('{"z":1,"__proto__":{"polluted":true}}');
    expect(stableStringify(parsed)).toBe('{"__proto__":{"polluted":true},"z":1}');
  });

  it('changes when any field of a change changes', () => {
    const base = buildChange();
    expect(contentHash(buildChange({ title: `${base.title}.` }))).not.toBe(contentHash(base));
    expect(contentHash({ ...base, risk: { ...base.risk, level: 'high' } })).not.toBe(contentHash(base));
    expect(contentHash(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a circular value instead of hashing part of it', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    expect(() => contentHash({ raw: loop })).toThrow(TypeError);
  });
});
