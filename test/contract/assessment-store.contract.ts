// The AssessmentStore contract: what every adapter must do for the assessment
// runner and reactive enforcement. store-adapters.test.ts runs it against
// every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/domain/assessment.ts';
import { ASSESSMENT_REVISION_FIRST, ASSESSMENT_REVISION_LAST, type AssessmentHistoryQuery, type AssessmentStore, type EnforcementRecord, type StoredAssessment } from '../../src/store/assessment-store.ts';

const ID = 'servicenow:sn:a';

function assessment(revision: number, outcomeHash: string, evaluatedAt = '2026-03-02T09:00:00.000Z', wroteBack = true): StoredAssessment {
  const body: Assessment = {
    changeId: ID,
    key: 'CHG0030001',
    revision: revision + 2,
    policyVersion: '2026.1+abcd',
    evaluatedAt,
    state: 'assess',
    classification: 'minor',
    risk: { impact: 'low', probability: null, stated: 'low', level: 'low', score: null, cell: null, source: 'stated' },
    gates: [{ id: 'authorize.plans', into: 'authorize', result: 'fail', reason: 'backout plan is missing', evidence: [] }],
    scorecard: { criteria: [], recommendation: 'No-Go', conditions: ['rollback readiness fails'] },
    allowedTransitions: ['new', 'canceled'],
    violations: [],
  };
  return { changeId: ID, revision, policyVersion: body.policyVersion, outcomeHash, inputHash: `in-${revision}`, evaluatedAt, wroteBack, assessment: body };
}

function enforcement(revision: number, overrides: Partial<EnforcementRecord> = {}): EnforcementRecord {
  return {
    changeId: ID,
    revision,
    from: 'scheduled',
    to: 'implement',
    fromNative: '-2',
    toNative: '-1',
    mode: 'enforce',
    action: 'revert',
    outcome: 'pending',
    reasons: ['latest CI run failed (implement.ci-green)'],
    policyVersion: '2026.1+abcd',
    idempotencyKey: `${ID}@${revision}:enforce:transition`,
    observedAt: '2026-03-02T10:00:00Z',
    recordedAt: '2026-03-02T10:00:05.000Z',
    detail: null,
    ...overrides,
  };
}

/** `open` must return a new, empty store each time; the suite closes it after each test. */
export function describeAssessmentStoreContract(name: string, open: () => Promise<AssessmentStore>): void {
  describe(`AssessmentStore contract: ${name}`, () => {
    let store: AssessmentStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps every assessment in order and answers the latest', async () => {
      expect(await store.latestAssessment(ID)).toBeNull();
      expect(await store.saveAssessment(assessment(1, 'h1'))).toBe(true);
      expect(await store.saveAssessment(assessment(2, 'h2'))).toBe(true);
      // A forced re-assessment of the same revision with a new outcome (new events) is kept too.
      expect(await store.saveAssessment(assessment(2, 'h3', '2026-03-02T09:05:00.000Z'))).toBe(true);
      expect(await store.latestAssessment(ID)).toEqual(assessment(2, 'h3', '2026-03-02T09:05:00.000Z'));
      expect((await store.listAssessments(ID)).map((a) => [a.revision, a.outcomeHash])).toEqual([
        [1, 'h1'],
        [2, 'h2'],
        [2, 'h3'],
      ]);
      expect(await store.listAssessments('servicenow:sn:other')).toEqual([]);
    });

    it('answers the latest assessment whose verdict went to the ticket', async () => {
      expect(await store.latestWrittenBack(ID)).toBeNull();
      await store.saveAssessment(assessment(1, 'h1'));
      await store.saveAssessment(assessment(2, 'h2', '2026-03-02T09:05:00.000Z', false));
      expect((await store.latestWrittenBack(ID))?.outcomeHash).toBe('h1');
      expect((await store.latestAssessment(ID))?.wroteBack).toBe(false);
      await store.saveAssessment(assessment(3, 'h3'));
      expect((await store.latestWrittenBack(ID))?.outcomeHash).toBe('h3');
      // The same outcome of revision 4, first kept to ourselves, then written back once write-back was on.
      expect(await store.saveAssessment(assessment(4, 'h4', '2026-03-02T09:10:00.000Z', false))).toBe(true);
      expect(await store.saveAssessment(assessment(4, 'h4', '2026-03-02T09:15:00.000Z', true))).toBe(false);
      expect(await store.latestWrittenBack(ID)).toMatchObject({ revision: 4, outcomeHash: 'h4', wroteBack: true });
    });

    it('stores the same outcome of the same revision once, the stored one then standing for the new inputs', async () => {
      expect(await store.saveAssessment(assessment(1, 'h1'))).toBe(true);
      expect(await store.saveAssessment(assessment(1, 'h1', '2026-03-02T11:00:00.000Z'))).toBe(false);
      expect(await store.listAssessments(ID)).toHaveLength(1);
      // Reached again from other inputs (a new note) under a new policy: one row still, with what it now stands for.
      expect(await store.saveAssessment({ ...assessment(1, 'h1', '2026-03-02T12:00:00.000Z', false), inputHash: 'i-new', policyVersion: '2026.2+ef01' })).toBe(false);
      expect(await store.listAssessments(ID)).toEqual([{ ...assessment(1, 'h1'), inputHash: 'i-new', policyVersion: '2026.2+ef01' }]);
    });

    it("pages one change's assessments in the history's order (time, then revision as text, then as stored) in either order, each once", async () => {
      const T0 = '2026-03-02T09:00:00.000Z';
      // Five at one instant (revision 10 sorts before 9 as text, as the history's ids do), two outcomes of one
      // revision, two stored later but evaluated earlier, one after, two more of revision 3 at the first instant
      // (runs within one millisecond), and one of another change.
      for (const [revision, hash, at] of [[9, 'a', T0], [10, 'a', T0], [2, 'a', T0], [100, 'a', T0], [3, 'x', T0], [3, 'y', '2026-03-02T08:00:00.000Z'], [1, 'a', '2026-03-02T08:00:00.000Z'], [11, 'a', '2026-03-02T10:00:00.000Z'], [3, 'w', T0], [3, 'v', T0]] as const) {
        await store.saveAssessment(assessment(revision, hash, at));
      }
      await store.saveAssessment({ ...assessment(5, 'o', '2026-03-02T08:30:00.000Z'), changeId: 'servicenow:sn:other' });
      const asc = ['1a', '3y', '10a', '100a', '2a', '3x', '3w', '3v', '9a', '11a'];
      for (const order of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let after: AssessmentHistoryQuery['after'];
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.listAssessmentsForHistory(ID, { order, limit: 3, ...(after === undefined ? {} : { after }) });
          seen.push(...page.map((a) => `${a.revision}${a.outcomeHash}${a.repeat ? '+' : ''}`));
          const last = page.at(-1);
          if (last === undefined) break;
          // As the history's cursor names it: the first of its revision at its time without a seq.
          after = { evaluatedAt: last.evaluatedAt, revision: String(last.revision), seq: last.repeat ? last.seq : null };
        }
        // Only the later two of revision 3 at the first instant are repeats.
        const marked = asc.map((a) => (a === '3w' || a === '3v' ? `${a}+` : a));
        expect({ order, seen }).toEqual({ order, seen: order === 'asc' ? marked : marked.toReversed() });
      }
      // At a time, the first bound takes every assessment oldest first and none newest first; the last the reverse.
      const atT0 = async (order: 'asc' | 'desc', revision: string, seq: number | null = null) => (await store.listAssessmentsForHistory(ID, { order, limit: 10, after: { evaluatedAt: T0, revision, seq } })).map((a) => `${a.revision}${a.outcomeHash}`);
      expect(await atT0('asc', ASSESSMENT_REVISION_FIRST)).toEqual(['10a', '100a', '2a', '3x', '3w', '3v', '9a', '11a']);
      expect(await atT0('desc', ASSESSMENT_REVISION_FIRST)).toEqual(['3y', '1a']);
      expect(await atT0('asc', ASSESSMENT_REVISION_LAST)).toEqual(['11a']);
      expect(await atT0('desc', ASSESSMENT_REVISION_LAST)).toEqual(['9a', '3v', '3w', '3x', '2a', '100a', '10a', '3y', '1a']);
      expect(await atT0('asc', '2')).toEqual(['3x', '3w', '3v', '9a', '11a']);
      // Revision 3 without a seq: right at the first of its three at that time.
      expect(await atT0('asc', '3')).toEqual(['3w', '3v', '9a', '11a']);
      expect(await atT0('desc', '3')).toEqual(['2a', '100a', '10a', '3y', '1a']);
      expect(await store.countAssessments(ID)).toBe(10);
      expect(await store.countAssessments('servicenow:sn:none')).toBe(0);
    });

    it("pages one change's enforcement records in the history's order (time, then revision) in either order, each once", async () => {
      const T0 = '2026-03-02T10:00:05.000Z';
      // Four recorded at one instant (one run enforcing several moves), one earlier, one later, one of another change.
      for (const [revision, recordedAt] of [[12, T0], [3, T0], [40, T0], [7, T0], [20, '2026-03-02T09:00:00.000Z'], [2, '2026-03-02T11:00:00.000Z']] as const) {
        await store.recordEnforcement(enforcement(revision, { recordedAt }));
      }
      await store.recordEnforcement({ ...enforcement(5, { recordedAt: '2026-03-02T09:30:00.000Z' }), changeId: 'servicenow:sn:other' });
      const asc = [20, 3, 7, 12, 40, 2];
      for (const order of ['asc', 'desc'] as const) {
        const seen: number[] = [];
        let after: { recordedAt: string; revision: number } | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.listEnforcementsForHistory(ID, { order, limit: 2, ...(after === undefined ? {} : { after }) });
          seen.push(...page.map((r) => r.revision));
          const last = page.at(-1);
          if (last === undefined) break;
          after = { recordedAt: last.recordedAt, revision: last.revision };
        }
        expect({ order, seen }).toEqual({ order, seen: order === 'asc' ? asc : asc.toReversed() });
      }
      // At a time, revision 0 takes every record there oldest first and none newest first.
      const atT0 = async (order: 'asc' | 'desc', revision: number) => (await store.listEnforcementsForHistory(ID, { order, limit: 10, after: { recordedAt: T0, revision } })).map((r) => r.revision);
      expect(await atT0('asc', 0)).toEqual([3, 7, 12, 40, 2]);
      expect(await atT0('desc', 0)).toEqual([20]);
      expect(await atT0('desc', Number.MAX_SAFE_INTEGER)).toEqual([40, 12, 7, 3, 20]);
      expect((await store.listEnforcementsForHistory(ID, { order: 'asc', limit: 10 }))[0]).toEqual(enforcement(20, { recordedAt: '2026-03-02T09:00:00.000Z' }));
      // The records of some revisions: those that have one, oldest revision first.
      expect((await store.enforcementsOf(ID, [40, 5, 3, 99])).map((r) => r.revision)).toEqual([3, 40]);
      expect(await store.enforcementsOf(ID, [])).toEqual([]);
      expect(await store.countEnforcements(ID)).toBe(6);
      expect(await store.countEnforcements('servicenow:sn:none')).toBe(0);
    });

    it('records one enforcement per revision and settles a pending one once', async () => {
      expect(await store.recordEnforcement(enforcement(3))).toBe(true);
      expect(await store.recordEnforcement(enforcement(3, { action: 'comment', outcome: 'commented' }))).toBe(false);
      expect(await store.recordEnforcement(enforcement(5, { action: 'own-revert', outcome: 'recognised', reasons: [], from: 'implement', to: 'scheduled' }))).toBe(true);
      const key = enforcement(3).idempotencyKey as string;
      expect(await store.settleEnforcement(key, 'refused', 'Business Rule aborted it')).toBe(true);
      expect(await store.settleEnforcement(key, 'reverted', null)).toBe(false);
      const records = await store.listEnforcements(ID);
      expect(records.map((r) => [r.revision, r.action, r.outcome, r.detail])).toEqual([
        [3, 'revert', 'refused', 'Business Rule aborted it'],
        [5, 'own-revert', 'recognised', null],
      ]);
      expect(records[0]).toEqual({ ...enforcement(3), outcome: 'refused', detail: 'Business Rule aborted it' });
    });
  });
}
