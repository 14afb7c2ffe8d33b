// The MongoDB store's approvals on a store an earlier version wrote, without
// their `firstKey` (the instant the history pages them by), some without their
// `firstAt` too (stored before it was kept): start-up gives them theirs once,
// so the history reaches them, in time order whatever precision the source sent.

import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamItem } from '../../src/kit/connector.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { APPROVAL_FIRST_KEYS_ID } from '../../src/store/mongo/mongo-mirror-docs.ts';
import { instantKey } from '../../src/store/instant-key.ts';
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
  it('pages the approvals a replica of an earlier version stores after the upgraded one started, as during a rolling upgrade', async () => {
    expect(uri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
    const c = buildChange({ id: 'servicenow:sn-prod:rolling-approvals', nativeId: 'rolling-approvals', key: 'CHG0099002' });
    const upgraded = await mongoStoreAdapter.open({ kind: 'mongodb', uri, database });
    const client = await MongoClient.connect(uri);
    try {
      await upgraded.changes.applyPage(c.instance, 'changes', [{ kind: 'change', change: c }], null);
      // The upgraded replica started (and filled the store); the older one goes on syncing and stores approvals without `firstKey`.
      for (const [i, updatedAt] of ['2026-03-03T09:00:00Z', '2026-03-03T09:30:00Z', '2026-03-03T10:00:00Z'].entries()) {
        const approval = buildApproval({ id: `apr-${i + 1}`, updatedAt });
        await upgraded.changes.applyPage(c.instance, 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval }], null);
        if (i > 0) await client.db(database).collection('approvals').updateOne({ id: approval.id }, { $unset: { firstKey: '' } });
      }
      const paged = async (order: 'asc' | 'desc') => {
        const ids: string[] = [];
        let after: { firstAt: string; id: string } | undefined;
        for (let n = 0; n < 5; n++) {
          const [a] = await upgraded.changes.listApprovalsForHistory(c.instance, c.nativeId, { order, limit: 1, ...(after === undefined ? {} : { after }) });
          if (a === undefined) break;
          ids.push(a.approval.id);
          // As the history page gives it: the instant as instantKey writes it.
          after = { firstAt: instantKey(a.firstAt), id: a.approval.id };
        }
        return ids;
      };
      expect(await paged('asc')).toEqual(['apr-1', 'apr-2', 'apr-3']);
      expect(await paged('desc')).toEqual(['apr-3', 'apr-2', 'apr-1']);
    } finally {
      await client.close();
      await upgraded.close();
    }
  });
});
