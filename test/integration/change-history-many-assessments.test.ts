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
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/domain/assessment.ts';
import type { StoredAssessment } from '../../src/store/assessment-store.ts';
import { openStores } from '../../src/store/open-stores.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { countingReads, historyServer, pageHistory, PAGINGS } from '../support/history-paging.ts';

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
    const assessments = countingReads(stores.assessments);
    server = historyServer(stores, { assessments: assessments.store });

    for (const [order, limit] of PAGINGS) {
      // Each page reads the page and one more to tell whether another follows: not the 2,500 the change has.
      const items = await pageHistory(server, change.key, order, limit, assessments.read);
      const ids = items.map((e) => e.id);
      const firstAts = items.map((e) => Date.parse(e.firstAt));
      // The change's first revision and its 2,500 assessments, none twice, none of the other change's.
      expect({ order, limit, entries: ids.length, distinct: new Set(ids).size }).toEqual({ order, limit, entries: 2501, distinct: 2501 });
      expect(ids.filter((id) => id.startsWith('assessment:'))).toHaveLength(2500);
      expect(firstAts).toEqual(firstAts.toSorted((a, b) => (order === 'asc' ? a - b : b - a)));
    }
  }, 60_000);
});
