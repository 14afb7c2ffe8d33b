// A change assessed thousands of times (re-assessed on every sync for months):
// GET /v1/changes/:key/history pages through every assessment to the end, in
// either order, each exactly once, including hundreds evaluated at one instant
// (ordered by revision as text, as their ids are) that a page boundary cuts
// through; and a page reads about its limit of assessments, not all of them.
// On SQLite: the MongoDB store's part (its history pages) is held by the
// assessment store contract.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import type { Assessment } from '../../src/domain/assessment.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import type { AssessmentStore, StoredAssessment } from '../../src/store/assessment-store.ts';
import { openStores } from '../../src/store/open-stores.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-history-assessed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const change = buildChange({ updatedAt: '2026-03-02T09:00:00Z' });
const other = buildChange({ nativeId: 'b'.repeat(32), key: 'CHG0030002', updatedAt: '2026-03-02T09:00:00Z' });

function assessed(changeId: string, revision: number, evaluatedAt: string): StoredAssessment {
  const body: Assessment = {
    changeId,
    key: change.key,
    revision,
    policyVersion: '2026.1+abcd',
    evaluatedAt,
    state: 'assess',
    classification: 'minor',
    risk: { impact: 'low', probability: null, stated: 'low', level: 'low', score: null, cell: null, source: 'stated' },
    gates: [],
    scorecard: { criteria: [], recommendation: 'Go', conditions: [] },
    allowedTransitions: ['authorize'],
    violations: [],
  };
  return { changeId, revision, policyVersion: body.policyVersion, outcomeHash: `h${revision}`, inputHash: `i${revision}`, evaluatedAt, wroteBack: false, assessment: body };
}

/** The store, counting every item its reads hand back: what a history page costs in assessments. */
function counting(store: AssessmentStore): { store: AssessmentStore; read: () => number } {
  let read = 0;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const answer: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (Array.isArray(answer)) read += answer.length;
        return answer;
      };
    },
  });
  return { store: proxy, read: () => read };
}

interface Page {
  items: { id: string; kind: string; firstAt: string }[];
  nextCursor: string | null;
}

describe('history of a change assessed thousands of times', () => {
  let stores: StoreBundle;
  let server: FastifyInstance;

  afterEach(async () => {
    await server.close();
    await stores.close();
  });

  it('pages to the end in either order, lists every assessment exactly once, and reads about a page of them per page', async () => {
    stores = await openStores({ kind: 'sqlite', path: join(dir, 'changegate.db') });
    await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }, { kind: 'change', change: other }], null);
    // 600 evaluated at one instant, then 1,900 one second apart, and some of another change.
    for (let revision = 1; revision <= 600; revision++) await stores.assessments.saveAssessment(assessed(change.id, revision, '2026-03-02T10:00:00.000Z'));
    for (let i = 0; i < 1900; i++) await stores.assessments.saveAssessment(assessed(change.id, 601 + i, new Date(Date.parse('2026-03-02T11:00:00Z') + i * 1000).toISOString()));
    await stores.assessments.saveAssessment(assessed(other.id, 1, '2026-03-02T10:30:00.000Z'));
    const assessments = counting(stores.assessments);
    const logger = pino({ level: 'silent' });
    const metrics = createMetrics({ defaultMetrics: false });
    server = buildServer({
      systems: registry.systems,
      store: stores.changes,
      engine: new SyncEngine({ store: stores.changes, logger, metrics }),
      metrics,
      logger,
      history: { assessments: assessments.store, outbox: stores.outbox, ownWritesOf: () => undefined },
    });

    for (const [order, limit] of [['asc', 1000], ['desc', 1000], ['asc', 333], ['desc', 333]] as const) {
      const ids: string[] = [];
      const firstAts: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const before = assessments.read();
        const response = await server.inject({ method: 'GET', url: `/v1/changes/${change.key}/history?order=${order}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}` });
        expect(response.statusCode).toBe(200);
        // The page, and one more to tell whether another follows: not the 2,500 the change has.
        expect({ order, limit, pages, read: assessments.read() - before }).toEqual({ order, limit, pages, read: expect.toSatisfy((n: number) => n <= limit + 1) });
        const page = response.json() as Page;
        expect(page.items.length).toBeLessThanOrEqual(limit);
        ids.push(...page.items.map((e) => e.id));
        firstAts.push(...page.items.map((e) => Date.parse(e.firstAt)));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 20);
      expect({ order, limit, done: cursor === null }).toEqual({ order, limit, done: true });
      // The change's first revision and its 2,500 assessments, none twice, none of the other change's.
      expect({ order, limit, entries: ids.length, distinct: new Set(ids).size }).toEqual({ order, limit, entries: 2501, distinct: 2501 });
      expect(ids.filter((id) => id.startsWith('assessment:'))).toHaveLength(2500);
      const sorted = firstAts.toSorted((a, b) => (order === 'asc' ? a - b : b - a));
      expect(firstAts).toEqual(sorted);
    }
  }, 60_000);
});
