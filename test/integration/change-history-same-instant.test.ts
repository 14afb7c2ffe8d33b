// Entries of one change's history at one instant, as a runner whose clock
// stands still makes them: a change re-assessed several times within one
// millisecond (the CAB approval given and taken back between two runs, at one
// revision) lists each assessment under an id of its own, the same id on every
// read; and entries of every kind at one instant (sent in different notations)
// page one at a time, in either order, each exactly once, whichever kinds a
// page boundary falls between. Through GET /v1/changes/:key/history, on every
// store adapter: SQLite always, MongoDB where MONGODB_URI names a server
// (FerretDB in CI).

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

/** A bundle with one change in Authorize awaiting its CAB (updated at `updatedAt`), and a runner over it whose clock never moves. */
async function world(open: () => Promise<StoreBundle>, updatedAt = '2026-03-02T11:00:00Z') {
  const stores = await open();
  opened.push(stores);
  const change = buildChange({ state: 'authorize', updatedAt });
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
  /** The CAB approval as it stands at `when` (a minute past 11:00, or an instant), then an assessment of the change (same revision, same clock). */
  const decide = async (state: 'requested' | 'approved', when: number | string): Promise<void> => {
    const at = typeof when === 'string' ? when : new Date(Date.parse('2026-03-02T11:00:00Z') + when * 60_000).toISOString();
    const approval = buildApproval({ state, nativeState: state, decidedAt: state === 'approved' ? at : null, updatedAt: at });
    await stores.changes.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval }], null);
    expect(await runner.assessChange(change.id)).toMatchObject({ status: 'assessed' });
  };
  return { stores, change, runner, server, decide };
}

async function wholeHistory(w: Awaited<ReturnType<typeof world>>): Promise<HistoryItem[]> {
  const response = await w.server.inject({ method: 'GET', url: `/v1/changes/${w.change.key}/history?order=asc&limit=1000` });
  expect(response.statusCode).toBe(200);
  return (response.json() as { items: HistoryItem[] }).items;
}

for (const adapter of ADAPTERS) {
  describe(`history entries at one instant (${adapter.name})`, () => {
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

    it('pages one entry at a time through entries of every kind at one instant, each once, in either order', async () => {
      // All at NOW, the source's times written three ways: the first version, the CAB approval, the assessment and
      // its write-backs; then a move to Scheduled without the approval, its enforcement and the revert queued.
      const w = await world(adapter.open, '2026-03-02T12:00:00Z');
      await w.decide('requested', NOW.toISOString());
      const moved = buildChange({ state: 'scheduled', nativeRevision: 4, updatedAt: '2026-03-02T13:00:00+01:00' });
      await w.stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: moved }], null);
      expect((await w.runner.assessChange(w.change.id)).enforcements.map((e) => e.action)).toEqual(['revert']);

      const whole = await wholeHistory(w);
      expect(new Set(whole.map((e) => e.kind))).toEqual(new Set(['revision', 'approval', 'assessment', 'write-back', 'enforcement']));
      expect(new Set(whole.map((e) => Date.parse(e.firstAt)))).toEqual(new Set([NOW.getTime()]));
      const ids = whole.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const order of ['asc', 'desc'] as const) {
        const paged = (await pageHistory(w.server, w.change.key, order, 1)).map((e) => e.id);
        expect({ order, paged }).toEqual({ order, paged: order === 'asc' ? ids : ids.toReversed() });
      }
    });
  });
}
