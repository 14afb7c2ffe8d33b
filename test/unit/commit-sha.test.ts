// One rule for "the same commit" (src/domain/commit-sha.ts), read by the gates,
// the correlation and both stores' indexes: a full sha and its abbreviations
// from 7 hex characters, in any case; and every pair it matches shares the
// bucket the stores index, so an indexed look-up never misses one.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commitBucket, sameCommit } from '../../src/domain/commit-sha.ts';

const FULL = '9fceb02d0ae598e95dc970b74767f19372d61af8';

describe('sameCommit', () => {
  it('matches an abbreviation only when both are hex: a chart version or a tag is only itself', () => {
    expect(sameCommit(FULL, '9FCEB02D0A')).toBe(true);
    expect(sameCommit('release-2026', 'release-2026-hotfix')).toBe(false);
    expect(sameCommit('Release-2026', ' release-2026 ')).toBe(true);
    expect(sameCommit('9fceb02-dirty', '9fceb02')).toBe(false);
  });
});

describe('commitBucket', () => {
  it('is the first 7 characters of a hex reference, else the reference itself, normalised', () => {
    expect([FULL, ' 9FCEB02D0A ', '9fceb02'].map(commitBucket)).toEqual(['9fceb02', '9fceb02', '9fceb02']);
    expect(['9fceb0', 'Release-2026', '  '].map(commitBucket)).toEqual(['9fceb0', 'release-2026', '']);
  });

  it('is shared by every two references sameCommit matches', () => {
    const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 40 });
    const any = fc.oneof(hex, fc.string({ maxLength: 12 }), hex.map((h) => ` ${h}-x `));
    const pair = fc.oneof(
      fc.tuple(any, any),
      // An abbreviation of a reference, case and blanks changed.
      fc.tuple(hex, fc.nat(40), fc.boolean()).map(([h, n, upper]) => [h, `  ${(upper ? h.toUpperCase() : h.toLowerCase()).slice(0, n)}`] as [string, string]),
    );
    fc.assert(fc.property(pair, ([a, b]) => !sameCommit(a, b) || commitBucket(a) === commitBucket(b)));
    // The generator does reach abbreviations, not only strangers.
    expect(sameCommit(FULL.toUpperCase(), `  ${FULL.slice(0, 9)}`)).toBe(true);
  });
});
