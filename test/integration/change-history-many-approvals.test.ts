// A change with hundreds of approval rows (a CAB asked member by member, and
// asked again after each re-plan): GET /v1/changes/:key/history pages through
// every approval to the end, in either order, each exactly once and in the
// history's order, including hundreds first seen at one instant (one sync's
// page of requests) that a page boundary cuts through, and approvals decided
// since (their `at` moved, their place did not); and a page reads about its
// limit of approval rows, not all of them. On every store adapter: SQLite
// always, MongoDB where MONGODB_URI names a server (FerretDB in CI).

import { describe, expect, it } from 'vitest';
import { compareEntries } from '../../src/assess/change-history.ts';
import type { Approval } from '../../src/domain/change.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { sqliteStoreAdapter } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildApproval, buildChange } from '../support/change-builder.ts';
import { countingReads, historyServer, pageHistory, PAGINGS } from '../support/history-paging.ts';
import { storeBundles } from '../support/store-bundles.ts';

const { mongoUri, freshFile, freshDatabase, opened } = storeBundles();
const ADAPTERS: { name: string; open: () => Promise<StoreBundle> }[] = [{ name: 'SQLite', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: freshFile() }) }];
if (mongoUri !== '') ADAPTERS.push({ name: 'MongoDB', open: () => mongoStoreAdapter.open({ kind: 'mongodb', uri: mongoUri, database: freshDatabase() }) });

const change = buildChange({ updatedAt: '2026-03-02T09:00:00Z' });
const other = buildChange({ nativeId: 'b'.repeat(32), key: 'CHG0030002', updatedAt: '2026-03-02T09:00:00Z' });
const APPROVALS = 700;

/** Approval `i` as first requested: 300 at one instant (sent without milliseconds), then one a second. */
function requested(i: number): Approval {
  const updatedAt = i < 300 ? '2026-03-02T10:00:00Z' : new Date(Date.parse('2026-03-02T11:00:00Z') + i * 1000).toISOString();
  return buildApproval({ id: `a${i.toString(16).padStart(31, '0')}`, approver: { id: `u${i}`, name: `Member ${i}` }, updatedAt });
}

for (const adapter of ADAPTERS) {
  describe(`history of a change with hundreds of approvals (${adapter.name})`, () => {
    it('pages to the end in either order, lists every approval exactly once in order, and reads about a page of them per page', async () => {
      const stores = await adapter.open();
      opened.push(stores);
      const approvals = Array.from({ length: APPROVALS }, (_, i) => requested(i));
      await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }, { kind: 'change', change: other }], null);
      for (let i = 0; i < APPROVALS; i += 100) {
        await stores.changes.applyPage('sn-prod', 'approvals', approvals.slice(i, i + 100).map((approval) => ({ kind: 'approval', changeNativeId: change.nativeId, approval })), null);
      }
      await stores.changes.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: other.nativeId, approval: { ...requested(0), id: 'c'.repeat(32) } }], null);
      // Every tenth one decided later: it keeps the place it was first seen in.
      const decided = approvals.filter((_, i) => i % 10 === 0).map((a): Approval => ({ ...a, state: 'approved', nativeState: 'approved', decidedAt: '2026-03-03T08:00:00Z', updatedAt: '2026-03-03T08:00:00Z' }));
      await stores.changes.applyPage('sn-prod', 'approvals', decided.map((approval) => ({ kind: 'approval', changeNativeId: change.nativeId, approval })), null);
      const whole = [{ id: 'revision:00000001', firstAt: change.updatedAt }, ...approvals.map((a) => ({ id: `approval:${a.id}`, firstAt: a.updatedAt }))];
      // The change store serves the revisions too: those are held to a page's worth by their own test.
      const changes = countingReads(stores.changes, ['listRevisionsForHistory']);
      const server = historyServer(stores, { changes: changes.store });
      try {
        for (const [order, limit] of PAGINGS) {
          // Each page reads the page and one more to tell whether another follows: not the 700 rows the change has.
          const items = await pageHistory(server, change.key, order, limit, changes.read);
          const expected = whole.toSorted((a, b) => (order === 'asc' ? compareEntries(a, b) : compareEntries(b, a))).map((e) => e.id);
          expect({ order, limit, ids: items.map((e) => e.id) }).toEqual({ order, limit, ids: expected });
          expect(items.filter((e) => e.kind === 'approval' && (e as { decision?: string }).decision === 'approved')).toHaveLength(decided.length);
        }
      } finally {
        await server.close();
      }
    }, 120_000);
  });
}
