// The read cache's bound: however many changes a sync or a server reads, the
// parsed entries stay within the byte budget, and the ones read most recently
// (the busy services' active changes, each the neighbour of many) are the ones kept.

import { describe, expect, it } from 'vitest';
import { MirrorReadCache } from '../../src/store/mirror-read-cache.ts';
import { buildChanges } from '../support/change-builder.ts';

const unchanged = () => 1;

describe('the mirror read cache', () => {
  it('stays within its byte budget however many changes are read', () => {
    const changes = buildChanges(400);
    const jsonBytes = JSON.stringify(changes[0]).length;
    const cache = new MirrorReadCache(unchanged, { maxBytes: 40 * jsonBytes });
    let peak = 0;
    for (const change of changes) {
      cache.add(change, change.instance, change.nativeId, JSON.stringify(change).length);
      peak = Math.max(peak, cache.bytes);
    }
    expect(peak).toBeLessThanOrEqual(40 * jsonBytes);
    // An entry counts at least its JSON (a parsed core takes about as much heap), and not many times it.
    expect(cache.size).toBeGreaterThan(20);
    expect(cache.size).toBeLessThan(40);
    // The latest reads are kept, the earliest evicted.
    expect(cache.byId(changes.at(-1)?.id ?? '')).toBeDefined();
    expect(cache.byId(changes[0]?.id ?? '')).toBeUndefined();
  });

  it('keeps neighbour views within their own budget, the most recently read, and forgets them with the cores', () => {
    let generation = 1;
    const changes = buildChanges(400);
    const view = ({ id, instance, key, state, plannedStart, plannedEnd, services, cis }: (typeof changes)[number]) => ({ id, instance, key, state, plannedStart, plannedEnd, services, cis });
    const viewBytes = JSON.stringify(view(changes[0] as (typeof changes)[number])).length;
    const cache = new MirrorReadCache(() => generation, { maxViewBytes: 40 * viewBytes, recheckMs: 0 });
    cache.refresh();
    let peak = 0;
    for (const change of changes) {
      cache.addView(view(change), JSON.stringify(view(change)).length);
      peak = Math.max(peak, cache.viewBytes);
    }
    expect(peak).toBeLessThanOrEqual(40 * viewBytes);
    const kept = changes.filter((c) => cache.viewById(c.id) !== undefined);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(40);
    expect(kept.at(-1)?.id).toBe(changes.at(-1)?.id);
    expect(cache.viewById(changes[0]?.id ?? '')).toBeUndefined();
    // The cores' budget is apart: a view is not evicted by cores read after it.
    const last = changes.at(-1) as (typeof changes)[number];
    for (const change of buildChanges(50, 1_000)) cache.add(change, change.instance, change.nativeId, 100_000);
    expect(cache.viewById(last.id)).toEqual(view(last));
    generation = 2;
    cache.refresh();
    expect([cache.viewById(last.id), cache.viewBytes]).toEqual([undefined, 0]);
  });

  it('evicts the least recently used entry, not the oldest read', () => {
    const [a, b, c, d] = buildChanges(4);
    if (!a || !b || !c || !d) throw new Error('four changes expected');
    const cache = new MirrorReadCache(unchanged, { capacity: 3 });
    for (const change of [a, b, c]) cache.add(change, change.instance, change.nativeId, 100);
    expect(cache.byId(a.id)?.change.id).toBe(a.id); // a is now the most recently used
    cache.add(d, d.instance, d.nativeId, 100);
    expect(cache.byId(b.id)).toBeUndefined();
    expect([a, c, d].map((x) => cache.byId(x.id)?.change.id)).toEqual([a.id, c.id, d.id]);
    expect(cache.size).toBe(3);
  });

  it('forgets every entry and its bytes when another process writes the mirror', () => {
    let generation = 1;
    const cache = new MirrorReadCache(() => generation, { recheckMs: 0 });
    cache.refresh();
    for (const change of buildChanges(5)) cache.add(change, change.instance, change.nativeId, 1_000);
    expect(cache.bytes).toBeGreaterThan(0);
    generation = 2;
    cache.refresh();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });

  it('keeps neighbour answers only while they hold a bounded number of changes, evicted ones included', () => {
    const cache = new MirrorReadCache(unchanged);
    const changes = buildChanges(6_000);
    let computed = 0;
    const answer = (): typeof changes => {
      computed++;
      return [...changes];
    };
    cache.lookup('busy CI, Monday', answer);
    cache.lookup('busy CI, Monday', answer);
    expect(computed).toBe(1);
    // A second answer as large would hold twelve thousand changes: the kept answers start over.
    cache.lookup('busy CI, Tuesday', answer);
    cache.lookup('busy CI, Monday', answer);
    expect(computed).toBe(3);
  });
});
