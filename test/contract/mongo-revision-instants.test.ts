// The MongoDB store's revisions on a store an earlier version wrote, without
// their `at` (the instant the history pages them by): start-up gives them
// theirs once, so the history reaches them, in time order whatever precision
// the source sent; and those a replica of that version stores after it (a
// rolling upgrade) are reached as well.

import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { REVISION_INSTANTS_ID } from '../../src/store/mongo/mongo-mirror-docs.ts';
import { buildChange } from '../support/change-builder.ts';

const uri = process.env['MONGODB_URI'] ?? '';
const database = `cg_revision_instants_${process.pid}_${Date.now().toString(36)}`;

afterAll(async () => {
  if (uri === '') return;
  const client = await MongoClient.connect(uri);
  await client.db(database).dropDatabase().finally(() => client.close());
});

describe('MongoDB revision instants', () => {
  it('gives the revisions an earlier version stored their instant at start-up, and the history pages them in time order', async () => {
    expect(uri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
    const c = buildChange();
    const first = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
    // As text `…:00Z` sorts after `…:00.500Z`; as instants it comes before it, and `+02:00` before both.
    for (const [i, updatedAt] of ['2026-03-02T09:00:00.500Z', '2026-03-02T09:00:00Z', '2026-03-02T10:00:00+02:00'].entries()) {
      await first.changes.applyPage(c.instance, 'changes', [{ kind: 'change', change: { ...c, nativeRevision: c.nativeRevision + i, title: `v${i + 1}`, updatedAt } }], null);
    }
    await first.close();
    // What an earlier version left: no `at` on its revisions, no note that they were given one.
    const client = await MongoClient.connect(uri);
    try {
      const db = client.db(database);
      await db.collection('revisions').updateMany({}, { $unset: { at: '' } });
      await db.collection('mirror_meta').deleteOne({ _id: REVISION_INSTANTS_ID as never });
    } finally {
      await client.close();
    }
    for (let start = 0; start < 2; start++) {
      const upgraded = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
      try {
        const seqs = async (order: 'asc' | 'desc') => (await upgraded.changes.listRevisionsForHistory(c.id, { order, limit: 10 })).map((r) => r.seq);
        expect({ start, asc: await seqs('asc'), desc: await seqs('desc') }).toEqual({ start, asc: [3, 2, 1], desc: [1, 2, 3] });
        const after = await upgraded.changes.listRevisionsForHistory(c.id, { order: 'asc', limit: 10, after: { at: '2026-03-02T09:00:00.000Z', seq: 2 } });
        expect(after.map((r) => [r.seq, r.updatedAt])).toEqual([[1, '2026-03-02T09:00:00.500Z']]);
      } finally {
        await upgraded.close();
      }
    }
  });

  it('pages the revisions a replica of an earlier version stores after the upgraded one started, as during a rolling upgrade', async () => {
    expect(uri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
    const c = buildChange({ id: 'servicenow:sn-prod:rolling', nativeId: 'rolling', key: 'CHG0099001' });
    const upgraded = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
    const client = await MongoClient.connect(uri);
    try {
      // The upgraded replica started (and filled the store); the older one goes on syncing and stores its revisions without `at`.
      for (const [i, updatedAt] of ['2026-03-03T09:00:00Z', '2026-03-03T09:30:00Z', '2026-03-03T10:00:00Z', '2026-03-03T10:30:00Z'].entries()) {
        await upgraded.changes.applyPage(c.instance, 'changes', [{ kind: 'change', change: { ...c, nativeRevision: c.nativeRevision + i, title: `v${i + 1}`, updatedAt } }], null);
        if (i > 0) await client.db(database).collection('revisions').updateOne({ changeId: c.id, seq: i + 1 }, { $unset: { at: '' } });
      }
      const page = async (order: 'asc' | 'desc') => {
        const seqs: number[] = [];
        let after: { at: string; seq: number } | undefined;
        for (let n = 0; n < 6; n++) {
          const [r] = await upgraded.changes.listRevisionsForHistory(c.id, { order, limit: 1, ...(after === undefined ? {} : { after }) });
          if (r === undefined) break;
          seqs.push(r.seq);
          after = { at: new Date(r.updatedAt).toISOString(), seq: r.seq };
        }
        return seqs;
      };
      // One at a time, the cursor past each: every revision once, in time order.
      expect({ asc: await page('asc'), desc: await page('desc') }).toEqual({ asc: [1, 2, 3, 4], desc: [4, 3, 2, 1] });
    } finally {
      await client.close();
      await upgraded.close();
    }
  });
});
