// The neighbour lookup (`listActiveChangesTouching`) on random mirrors, on
// every store adapter, against a brute-force reading of what it promises:
// the active changes of the instance that name one of the refs (id or name,
// any case and surrounding blanks) and, when a window is given, whose planned
// window overlaps it; the change asking left out; most recently updated first,
// then by id; at most the limit. The mirrors are skewed (one CI on most
// changes, so answers hit the limit), hold ties in updatedAt, windows missing
// an end, reversed, across midnight and weeks long, and later versions that
// move a change to other CIs, other windows or a finished state.
// `listNeighbours` answers the same changes with what the overlap gate reads of
// them: checked field by field against the whole changes.

import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalState, Change, NeighbourChange, Ref } from '../../src/domain/change.ts';
import type { ChangeStore, TouchingQuery } from '../../src/store/change-store.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { sqliteStoreAdapter } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { MongoClient } from 'mongodb';
import { buildChange, sysId } from '../support/change-builder.ts';

const HOUR = 3_600_000;

/** What the overlap gate reads of a change, and nothing else. */
const gateView = (c: NeighbourChange): NeighbourChange => ({
  id: c.id,
  instance: c.instance,
  key: c.key,
  state: c.state,
  plannedStart: c.plannedStart,
  plannedEnd: c.plannedEnd,
  services: c.services,
  cis: c.cis,
});
const BASE = Date.parse('2026-03-09T00:00:00Z');

/** Six CIs and three services; the first of each is on most changes. */
const CIS: Ref[] = Array.from({ length: 6 }, (_, i) => ({ id: sysId(0xc1000 + i), name: `erp-node-${i}` }));
const SERVICES: Ref[] = Array.from({ length: 3 }, (_, i) => ({ id: sysId(0x5e000 + i), name: `Shared Service ${i}` }));
const skewedPick = <T,>(items: readonly T[]) => fc.oneof({ arbitrary: fc.constant(items[0] as T), weight: 3 }, { arbitrary: fc.constantFrom(...items), weight: 1 });
const refs = (items: readonly Ref[]) => fc.uniqueArray(skewedPick(items), { maxLength: 3, selector: (r) => r.id });

/** An instant on a half-hour grid over five days, in either precision a source sends. */
const instant = fc.tuple(fc.integer({ min: 0, max: 5 * 48 }), fc.boolean()).map(([slot, millis]) => {
  const iso = new Date(BASE + slot * (HOUR / 2)).toISOString();
  return millis ? iso : iso.replace('.000Z', 'Z');
});
/** A planned window: usual (hours, maybe across midnight), weeks long, reversed or empty, or missing an end. */
const plannedWindow = fc.oneof(
  { arbitrary: fc.tuple(instant, fc.integer({ min: 1, max: 10 })).map(([start, halfHours]) => [start, new Date(Date.parse(start) + halfHours * (HOUR / 2)).toISOString()] as const), weight: 6 },
  { arbitrary: instant.map((start) => [start, new Date(Date.parse(start) + 20 * 24 * HOUR).toISOString()] as const), weight: 1 },
  { arbitrary: fc.tuple(instant, instant), weight: 1 },
  { arbitrary: fc.tuple(fc.option(instant), fc.option(instant)).filter(([s, e]) => s === null || e === null), weight: 1 },
);
const STATES: CanonicalState[] = ['new', 'assess', 'authorize', 'scheduled', 'implement', 'review', 'closed', 'canceled', 'failed'];
/** Few distinct instants, so ties in updatedAt are common. */
const updatedAt = fc.integer({ min: 0, max: 6 }).map((m) => new Date(Date.parse('2026-03-02T09:00:00Z') + m * 60_000).toISOString());

const version = fc.record({
  instance: fc.constantFrom('a', 'b'),
  cis: refs(CIS),
  services: refs(SERVICES),
  state: fc.constantFrom(...STATES),
  window: plannedWindow,
  updatedAt,
});
/** Up to 40 changes, some with a later version that replaces the first: often the same refs and window (a field or state moved), else anything. */
const mirror = fc.array(fc.tuple(version, fc.option(fc.tuple(version, fc.boolean()), { freq: 3 })), { minLength: 1, maxLength: 40 });

/** A ref as a caller may spell it: id or name, in another case, with blanks around; or one nothing names. */
const spelledRef = fc.oneof(
  fc.tuple(fc.constantFrom(...CIS, ...SERVICES), fc.constantFrom('id', 'name'), fc.constantFrom('same', 'upper', 'padded')).map(([ref, which, how]) => {
    const text = which === 'id' ? ref.id : ref.name ?? ref.id;
    return how === 'upper' ? text.toUpperCase() : how === 'padded' ? `  ${text} ` : text;
  }),
  fc.constantFrom('unknown-ci', '', '  '),
);
const query = fc.record({
  instance: fc.constantFrom('a', 'b'),
  // Or every ref by id and by name: with the days of a window, more arms than one statement takes (sqlite-neighbours.ts MAX_ARMS).
  refs: fc.oneof({ arbitrary: fc.array(spelledRef, { maxLength: 4 }), weight: 3 }, { arbitrary: fc.constant([...CIS, ...SERVICES].flatMap((r) => [r.id, r.name ?? r.id])), weight: 1 }),
  window: fc.option(plannedWindow, { freq: 4 }),
  exclude: fc.option(fc.integer({ min: 0, max: 39 })),
  limit: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 6, max: 60 })),
});

type Version = typeof version extends fc.Arbitrary<infer V> ? V : never;

function changeOf(run: string, n: number, v: Version, revision: number): Change {
  return buildChange({
    instance: `${run}-${v.instance}`,
    nativeId: sysId(n + 1),
    key: `CHG${String(n + 1).padStart(7, '0')}`,
    state: v.state,
    cis: v.cis,
    services: v.services,
    plannedStart: v.window[0],
    plannedEnd: v.window[1],
    // A later version is later in the source, whatever its updatedAt says.
    nativeRevision: revision,
    updatedAt: v.updatedAt,
    raw: null,
  });
}

const norm = (text: string): string => text.trim().toLowerCase();
const ms = (text: string | null): number => (text === null ? Number.NaN : Date.parse(text));

/** What the lookup promises, read off the mirror's latest versions one by one. */
function reference(latest: readonly Change[], q: TouchingQuery): string[] {
  const wanted = new Set(q.refs.map(norm).filter((r) => r !== ''));
  const window = q.plannedOverlap;
  if (window !== undefined && !(ms(window.end) > ms(window.start))) return [];
  return latest
    .filter((c) => c.instance === q.instance && c.id !== q.excludeId && !['closed', 'canceled', 'failed'].includes(c.state))
    .filter((c) => [...c.services, ...c.cis].some((r) => wanted.has(norm(r.id)) || (r.name !== null && wanted.has(norm(r.name)))))
    .filter((c) => {
      if (window === undefined) return true;
      const [s, e] = [ms(c.plannedStart), ms(c.plannedEnd)];
      return e > s && s < ms(window.end) && e > ms(window.start);
    })
    .toSorted((x, y) => ms(y.updatedAt) - ms(x.updatedAt) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
    .slice(0, q.limit)
    .map((c) => c.id);
}

interface Adapter {
  name: string;
  open(): Promise<StoreBundle>;
  /** Mirrors per adapter: a store per mirror is cheap in memory, a database per mirror is not. */
  runs: number;
}

const mongoUri = process.env['MONGODB_URI'] ?? '';
const mongoDatabase = `cg_neighbours_${process.pid}_${Date.now().toString(36)}`;
const ADAPTERS: Adapter[] = [{ name: 'SQLite', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: ':memory:' }), runs: 150 }];
if (mongoUri !== '') ADAPTERS.push({ name: 'MongoDB', open: () => mongoStoreAdapter.open({ kind: 'mongodb', uri: mongoUri, database: mongoDatabase }), runs: 25 });

afterAll(async () => {
  if (mongoUri === '') return;
  const client = await MongoClient.connect(mongoUri);
  await client.db(mongoDatabase).dropDatabase().finally(() => client.close());
});

describe('MongoDB neighbour lookups', () => {
  it('run against a server: MONGODB_URI is set (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)', () => {
    expect(mongoUri, 'MONGODB_URI is unset, so the MongoDB neighbour lookup was not tested').not.toBe('');
  });
});

describe.each(ADAPTERS)('listActiveChangesTouching and listNeighbours on $name', (adapter) => {
  let bundle: StoreBundle;
  let store: ChangeStore;
  let runs = 0;
  beforeAll(async () => {
    bundle = await adapter.open();
    store = bundle.changes;
  });
  afterAll(async () => {
    await bundle.close();
  });

  it('answers as a brute-force reading of the mirror does, in the same order, up to the limit', async () => {
    await fc.assert(
      fc.asyncProperty(mirror, fc.array(query, { minLength: 1, maxLength: 8 }), async (changes, queries) => {
        // One store for every run: each run's instances are its own.
        const run = `r${++runs}`;
        const first = changes.map(([v], n) => changeOf(run, n, v, 1));
        // A change stays on its instance.
        const later = changes.flatMap(([v1, next], n) => {
          if (next === null) return [];
          const [v2, sameRefs] = next;
          return [changeOf(run, n, { ...v2, instance: v1.instance, ...(sameRefs ? { cis: v1.cis, services: v1.services, window: v1.window } : {}) }, 2)];
        });
        for (const page of [first, later]) {
          for (const instance of ['a', 'b']) {
            const items = page.filter((c) => c.instance === `${run}-${instance}`).map((change) => ({ kind: 'change' as const, change }));
            await store.applyPage(`${run}-${instance}`, 'changes', items, null);
          }
        }
        const latest = first.map((c) => later.find((l) => l.id === c.id) ?? c);
        for (const q of queries) {
          const touching: TouchingQuery = {
            instance: `${run}-${q.instance}`,
            refs: q.refs,
            limit: q.limit,
            ...(q.window === null || q.window[0] === null || q.window[1] === null ? {} : { plannedOverlap: { start: q.window[0], end: q.window[1] } }),
            ...(q.exclude === null ? {} : { excludeId: first[q.exclude % first.length]?.id as string }),
          };
          // Views first, read from the store, not from whole changes a lookup kept; asked again, from what the first answer kept.
          const views = [await store.listNeighbours(touching), await store.listNeighbours(touching)];
          const found = await store.listActiveChangesTouching(touching);
          expect(found.map((c) => c.id)).toEqual(reference(latest, touching));
          for (const answer of views) expect(answer.map(gateView)).toEqual(found.map(gateView));
        }
      }),
      { numRuns: adapter.runs },
    );
  }, 180_000);
});
