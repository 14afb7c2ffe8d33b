// A change whose moves were enforced on thousands of revisions (someone kept
// moving it past its gates, changegate kept reverting): GET
// /v1/changes/:key/history pages through every enforcement record to the end,
// in either order, each exactly once and in the history's order, including
// hundreds recorded at one instant (one run enforcing a sync's worth of moves)
// that a page boundary cuts through; and a page reads about its limit of
// records, not all of them. On every store adapter: SQLite always, MongoDB
// where MONGODB_URI names a server (FerretDB in CI).

import { describe, expect, it } from 'vitest';
import { compareEntries } from '../../src/assess/change-history.ts';
import type { EnforcementRecord } from '../../src/store/assessment-store.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { sqliteStoreAdapter } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { countingReads, historyServer, pageHistory, PAGINGS } from '../support/history-paging.ts';
import { storeBundles } from '../support/store-bundles.ts';

const { mongoUri, freshFile, freshDatabase, opened } = storeBundles();
const ADAPTERS: { name: string; open: () => Promise<StoreBundle> }[] = [{ name: 'SQLite', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: freshFile() }) }];
if (mongoUri !== '') ADAPTERS.push({ name: 'MongoDB', open: () => mongoStoreAdapter.open({ kind: 'mongodb', uri: mongoUri, database: freshDatabase() }) });

const change = buildChange({ updatedAt: '2026-03-02T09:00:00Z' });
const other = buildChange({ nativeId: 'b'.repeat(32), key: 'CHG0030002', updatedAt: '2026-03-02T09:00:00Z' });
const RECORDS = 2000;

/** The record of revision `seq` (2 and up): 600 recorded at one instant, then one a second; a few reverts refused. */
function enforced(changeId: string, seq: number): EnforcementRecord {
  const recordedAt = seq <= 601 ? '2026-03-02T10:00:00.000Z' : new Date(Date.parse('2026-03-02T11:00:00Z') + (seq - 601) * 1000).toISOString();
  return {
    changeId,
    revision: seq,
    from: 'scheduled',
    to: 'implement',
    fromNative: '-2',
    toNative: '-1',
    mode: 'enforce',
    action: 'revert',
    outcome: seq % 50 === 0 ? 'refused' : 'reverted',
    reasons: ['latest CI run failed (implement.ci-green)'],
    policyVersion: '2026.1+abcd',
    idempotencyKey: `${changeId}@${seq}:enforce:transition`,
    observedAt: '2026-03-02T09:59:00Z',
    recordedAt,
    detail: null,
  };
}

for (const adapter of ADAPTERS) {
  describe(`history of a change enforced thousands of times (${adapter.name})`, () => {
    it('pages to the end in either order, lists every enforcement exactly once in order, and reads about a page of them per page', async () => {
      const stores = await adapter.open();
      opened.push(stores);
      await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }, { kind: 'change', change: other }], null);
      for (let seq = 2; seq <= RECORDS + 1; seq++) await stores.assessments.recordEnforcement(enforced(change.id, seq));
      await stores.assessments.recordEnforcement(enforced(other.id, 2));
      const whole = [
        { id: 'revision:00000001', firstAt: change.updatedAt },
        ...(await stores.assessments.listEnforcements(change.id)).map((e) => ({ id: `enforcement:${String(e.revision).padStart(8, '0')}`, firstAt: e.recordedAt })),
      ];
      expect(whole).toHaveLength(RECORDS + 1);
      const assessments = countingReads(stores.assessments);
      const server = historyServer(stores, { assessments: assessments.store });
      try {
        for (const [order, limit] of PAGINGS) {
          // Each page reads the page and one more to tell whether another follows: not the 2,000 the change has.
          const items = await pageHistory(server, change.key, order, limit, assessments.read);
          const expected = whole.toSorted((a, b) => (order === 'asc' ? compareEntries(a, b) : compareEntries(b, a))).map((e) => e.id);
          expect({ order, limit, ids: items.map((e) => e.id) }).toEqual({ order, limit, ids: expected });
        }
      } finally {
        await server.close();
      }
    }, 120_000);
  });
}
