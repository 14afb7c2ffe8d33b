// A change re-assessed several times within one millisecond (the CAB approval
// given and taken back between two runs of the assessment runner, at one
// revision): GET /v1/changes/:key/history lists each assessment under an id of
// its own, the same id on every read, and paging one entry at a time in either
// order reaches each exactly once. On every store adapter: SQLite always,
// MongoDB where MONGODB_URI names a server (FerretDB in CI).

import { afterEach, describe, expect, it } from 'vitest';
import { AssessmentRunner } from '../../src/assess/assessment-runner.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { sqliteStoreAdapter } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildApproval, buildChange } from '../support/change-builder.ts';
import { historyServer, pageHistory, type HistoryItem } from '../support/history-paging.ts';
import { storeBundles } from '../support/store-bundles.ts';

const { mongoUri, freshFile, freshDatabase, opened } = storeBundles();
const ADAPTERS: { name: string; open: () => Promise<StoreBundle> }[] = [{ name: 'SQLite', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: freshFile() }) }];
if (mongoUri !== '') ADAPTERS.push({ name: 'MongoDB', open: () => mongoStoreAdapter.open({ kind: 'mongodb', uri: mongoUri, database: freshDatabase() }) });

const NOW = new Date('2026-03-02T12:00:00.000Z');
const policy = loadPolicy();
const servers: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A bundle with one change in Authorize awaiting its CAB, and a runner over it whose clock never moves. */
async function world(open: () => Promise<StoreBundle>) {
  const stores = await open();
  opened.push(stores);
  const change = buildChange({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', updatedAt: '2026-03-02T11:00:00Z' });
  await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
  const runner = new AssessmentRunner({
    store: stores.changes,
    assessments: stores.assessments,
    outbox: stores.outbox,
    policy,
    modeOf: () => 'enforce',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => NOW,
  });
  const server = historyServer(stores);
  servers.push(server);
  /** The CAB approval as it stands at `minute` past 11:00, then an assessment of the change (same revision, same instant). */
  const decide = async (state: 'requested' | 'approved', minute: number): Promise<void> => {
    const when = new Date(Date.parse('2026-03-02T11:00:00Z') + minute * 60_000).toISOString();
    const approval = buildApproval({ state, nativeState: state, decidedAt: state === 'approved' ? when : null, updatedAt: when });
    await stores.changes.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval }], null);
    expect(await runner.assessChange(change.id)).toMatchObject({ status: 'assessed' });
  };
  return { stores, change, server, decide };
}

async function wholeHistory(w: Awaited<ReturnType<typeof world>>): Promise<HistoryItem[]> {
  const response = await w.server.inject({ method: 'GET', url: `/v1/changes/${w.change.key}/history?order=asc&limit=1000` });
  expect(response.statusCode).toBe(200);
  return (response.json() as { items: HistoryItem[] }).items;
}

for (const adapter of ADAPTERS) {
  describe(`history of a change assessed several times in one millisecond (${adapter.name})`, () => {
    it('gives each assessment an id of its own, keeps it across reads, and pages through each once in either order', async () => {
      const w = await world(adapter.open);
      // Waiting, approved, waiting again: three outcomes of revision 1, all evaluated at NOW.
      await w.decide('requested', 10);
      await w.decide('approved', 20);
      await w.decide('requested', 30);
      expect((await w.stores.assessments.listAssessments(w.change.id)).map((a) => [a.revision, a.evaluatedAt])).toEqual([
        [1, NOW.toISOString()],
        [1, NOW.toISOString()],
        [1, NOW.toISOString()],
      ]);

      const whole = await wholeHistory(w);
      const assessments = whole.filter((e) => e.kind === 'assessment').map((e) => e.id);
      expect(assessments).toHaveLength(3);
      expect(new Set(assessments).size).toBe(3);
      expect(new Set(whole.map((e) => e.id)).size).toBe(whole.length);
      // The first keeps the id the history has always given an assessment.
      expect(assessments[0]).toBe(`assessment:${NOW.toISOString()}:1`);

      // Another assessment at the same instant changes none of the ids already given out.
      await w.decide('approved', 40);
      const again = await wholeHistory(w);
      expect(again.filter((e) => e.kind === 'assessment').map((e) => e.id).slice(0, 3)).toEqual(assessments);

      const ids = again.map((e) => e.id);
      for (const order of ['asc', 'desc'] as const) {
        const paged = (await pageHistory(w.server, w.change.key, order, 1)).map((e) => e.id);
        expect({ order, paged }).toEqual({ order, paged: order === 'asc' ? ids : ids.toReversed() });
      }
    });
  });
}
