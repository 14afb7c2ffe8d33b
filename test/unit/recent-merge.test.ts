import { describe, expect, it } from 'vitest';
import { mergeMostRecent, type RecentRow } from '../../src/store/recent-merge.ts';

/** A stream over `rows` that counts how many rows were taken from it. */
function counted(rows: readonly RecentRow[]): { stream: Iterator<RecentRow>; taken: () => number } {
  let taken = 0;
  const inner = rows[Symbol.iterator]();
  return {
    stream: {
      next: () => {
        const next = inner.next();
        if (next.done !== true) taken++;
        return next;
      },
    },
    taken: () => taken,
  };
}

/** 10,000 changes a second apart, most recent first, from the `offset`th. */
const rows = (offset: number): RecentRow[] =>
  Array.from({ length: 10_000 }, (_, i) => [new Date(Date.UTC(2026, 2, 2) - (i + offset) * 1000).toISOString(), `c${String(i + offset).padStart(6, '0')}`] as const);

const at = (minute: number): string => new Date(Date.UTC(2026, 2, 2, 9, minute)).toISOString();

describe('mergeMostRecent', () => {
  it('takes the most recently updated first across streams, ties by id, each change once', () => {
    const a = counted([[at(9), 'c'], [at(5), 'a'], [at(1), 'x']]);
    const b = counted([[at(9), 'b'], [at(9), 'c'], [at(5), 'a'], [at(2), 'y']]);
    const c = counted([]);
    expect(mergeMostRecent([a.stream, b.stream, c.stream], 10)).toEqual(['b', 'c', 'a', 'y', 'x']);
  });

  it('reads about as many rows as it returns, however long the streams', () => {
    // Three busy CIs with 10,000 changes each, half of them shared: a lookup of 20 reads a few dozen rows.
    const streams = [counted(rows(0)), counted(rows(5_000)), counted(rows(5_000))];
    const ids = mergeMostRecent(streams.map((s) => s.stream), 20);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
    const read = streams.reduce((n, s) => n + s.taken(), 0);
    expect(read).toBeLessThanOrEqual(20 * 2 + streams.length);
  });
});
