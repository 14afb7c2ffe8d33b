// The MongoDB store's neighbour indexes on a store an earlier version created:
// start-up replaces the retired ones (each costs every write), leaves the new
// ones as they are on a second start, and lookups answer through them.

import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { NEIGHBOUR_INDEXES } from '../../src/store/mongo/mongo-mirror-docs.ts';
import { buildChange } from '../support/change-builder.ts';

const uri = process.env['MONGODB_URI'] ?? '';
const database = `cg_neighbour_indexes_${process.pid}_${Date.now().toString(36)}`;

afterAll(async () => {
  if (uri === '') return;
  const client = await MongoClient.connect(uri);
  await client.db(database).dropDatabase().finally(() => client.close());
});

describe('MongoDB neighbour indexes', () => {
  it('replaces the indexes an earlier version created, idempotently, and answers through the new ones', async () => {
    expect(uri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
    const client = await MongoClient.connect(uri);
    try {
      const changes = client.db(database).collection('changes');
      await changes.createIndex({ instance: 1, refDays: 1 }, { name: 'neighbours_by_day' });
      await changes.createIndex({ instance: 1, refs: 1 }, { name: 'neighbours' });
      for (let start = 0; start < 2; start++) {
        const bundle = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
        const names = (await changes.listIndexes().toArray()).map((index) => String(index['name']));
        expect(names).toEqual(expect.arrayContaining([NEIGHBOUR_INDEXES.byDay.name, NEIGHBOUR_INDEXES.byRef.name]));
        expect(names).not.toContain('neighbours_by_day');
        expect(names).not.toContain('neighbours');
        if (start === 0) {
          const c = buildChange({ plannedStart: '2026-03-10T22:00:00Z', plannedEnd: '2026-03-10T23:00:00Z' });
          await bundle.changes.applyPage(c.instance, 'changes', [{ kind: 'change', change: c }], null);
        }
        const found = await bundle.changes.listActiveChangesTouching({
          instance: 'sn-prod',
          refs: ['payments api'],
          plannedOverlap: { start: '2026-03-10T22:30:00Z', end: '2026-03-11T00:00:00Z' },
          limit: 10,
        });
        expect(found.map((c) => c.key)).toEqual(['CHG0030001']);
        await bundle.close();
      }
    } finally {
      await client.close();
    }
  });
});
