// The MongoDB store's approvals on a store an earlier version wrote, without
// their `firstKey` (the instant the history pages them by), some without their
// `firstAt` too (stored before it was kept): start-up gives them theirs once,
// so the history reaches them, in time order whatever precision the source sent.

import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamItem } from '../../src/kit/connector.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { APPROVAL_FIRST_KEYS_ID } from '../../src/store/mongo/mongo-mirror-docs.ts';
import { buildApproval, buildChange } from '../support/change-builder.ts';

const uri = process.env['MONGODB_URI'] ?? '';
const database = `cg_approval_first_keys_${process.pid}_${Date.now().toString(36)}`;

afterAll(async () => {
  if (uri === '') return;
  const client = await MongoClient.connect(uri);
  await client.db(database).dropDatabase().finally(() => client.close());
});

describe('MongoDB approval first instants', () => {
  it('gives the approvals an earlier version stored their first instant at start-up, and the history pages them in time order', async () => {
    expect(uri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
    const c = buildChange();
    // As text `…:00Z` sorts after `…:00.500Z`; as instants it comes before it, and `+02:00` before both.
    const approvals = ([['apr-a', '2026-03-02T09:00:00.500Z'], ['apr-b', '2026-03-02T09:00:00Z'], ['apr-c', '2026-03-02T10:00:00+02:00']] as const).map(([id, updatedAt]) => buildApproval({ id, updatedAt }));
    const first = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
    await first.changes.applyPage(c.instance, 'changes', [{ kind: 'change', change: c }, ...approvals.map((approval): StreamItem => ({ kind: 'approval', changeNativeId: c.nativeId, approval }))], null);
    await first.close();
    // What earlier versions left: no `firstKey`, nor on the oldest a `firstAt`, and no note that they were given one.
    const client = await MongoClient.connect(uri);
    try {
      const db = client.db(database);
      await db.collection('approvals').updateMany({}, { $unset: { firstKey: '' } });
      await db.collection('approvals').updateOne({ id: 'apr-b' }, { $unset: { firstAt: '' } });
      await db.collection('mirror_meta').deleteOne({ _id: APPROVAL_FIRST_KEYS_ID as never });
    } finally {
      await client.close();
    }
    for (let start = 0; start < 2; start++) {
      const upgraded = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
      try {
        const ids = async (order: 'asc' | 'desc', after?: { firstAt: string; id: string }) =>
          (await upgraded.changes.listApprovalsForHistory(c.instance, c.nativeId, { order, limit: 10, ...(after === undefined ? {} : { after }) })).map((a) => [a.approval.id, a.firstAt]);
        expect({ start, asc: await ids('asc') }).toEqual({ start, asc: [['apr-c', '2026-03-02T10:00:00+02:00'], ['apr-b', '2026-03-02T09:00:00Z'], ['apr-a', '2026-03-02T09:00:00.500Z']] });
        expect((await ids('desc')).map(([id]) => id)).toEqual(['apr-a', 'apr-b', 'apr-c']);
        expect((await ids('asc', { firstAt: '2026-03-02T09:00:00.000Z', id: 'apr-b' })).map(([id]) => id)).toEqual(['apr-a']);
      } finally {
        await upgraded.close();
      }
    }
  });
});
