// The assessment writes contract: a batch of assessments' writes (queued
// write-back, ledger entries, assessments, owed markers) as the assessment
// runner stores them after a sync, through the bundle's writer (one SQLite
// transaction) or item by item (MongoDB). store-adapters.test.ts runs it
// against every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/domain/assessment.ts';
import type { Change } from '../../src/domain/change.ts';
import type { AssessmentWrites } from '../../src/store/assessment-writes.ts';
import { perItemAssessmentWriter } from '../../src/store/assessment-writes.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChanges } from '../support/change-builder.ts';

const QUEUED_AT = new Date('2026-03-02T09:00:00.000Z');

/** What the runner writes for a first assessment that blocks: verdict and note queued, a ledger entry, the assessment, the marker. */
export function writesFor(change: Change, revision = 1): AssessmentWrites {
  const body: Assessment = {
    changeId: change.id,
    key: change.key,
    revision: change.nativeRevision,
    policyVersion: '2026.1+abcd',
    evaluatedAt: QUEUED_AT.toISOString(),
    state: change.state,
    classification: 'minor',
    risk: { impact: 'low', probability: null, stated: 'low', level: 'low', score: null, cell: null, source: 'stated' },
    gates: [{ id: 'authorize.plans', into: 'authorize', result: 'fail', reason: 'backout plan is missing', evidence: [] }],
    scorecard: { criteria: [], recommendation: 'No-Go', conditions: [] },
    allowedTransitions: ['canceled'],
    violations: [],
  };
  const base = { instance: change.instance, changeId: change.id, nativeId: change.nativeId, source: 'assessment' as const };
  return {
    changeId: change.id,
    outbox: [
      {
        ...base,
        idempotencyKey: `${change.id}@${revision}:out:set-verdict`,
        payload: { action: 'set-verdict', verdict: { verdict: 'blocked', state: change.state, transitions: [], reasons: ['backout plan is missing'], policyVersion: body.policyVersion, assessedAt: body.evaluatedAt } },
      },
      { ...base, idempotencyKey: `${change.id}@${revision}:out:comment`, payload: { action: 'comment', note: { title: 'Blocked', tone: 'error', lines: ['backout plan is missing'] } } },
    ],
    queuedAt: QUEUED_AT,
    evidence: [{ draft: { kind: 'assessment', at: body.evaluatedAt, actor: null, source: 'changegate', summary: 'blocked', payload: { outcome: 'out' } }, key: `assessment:${revision}:out` }],
    assessment: { changeId: change.id, revision, policyVersion: body.policyVersion, outcomeHash: 'out', inputHash: `in-${revision}`, evaluatedAt: body.evaluatedAt, wroteBack: true, assessment: body },
    assessedRevision: revision,
  };
}

export function describeAssessmentWriterContract(name: string, open: () => Promise<StoreBundle>): void {
  describe(`assessment writes contract: ${name}`, () => {
    let stores: StoreBundle;
    const writer = () => stores.assessmentWriter ?? perItemAssessmentWriter(stores);
    const mirrored = async (count: number): Promise<Change[]> => {
      const changes = buildChanges(count, 1, { instance: 'sn-prod' });
      await stores.changes.applyPage('sn-prod', 'changes', changes.map((change) => ({ kind: 'change', change })), null);
      return changes;
    };
    beforeEach(async () => {
      stores = await open();
    });
    afterEach(async () => {
      await stores.close();
    });

    it('stores every write of a batch, and its changes are no longer owed an assessment', async () => {
      const changes = await mirrored(3);
      expect(await stores.changes.listOwedAssessments({ limit: 10 })).toHaveLength(3);
      const queued = await writer().write(changes.slice(0, 2).map((c) => writesFor(c)));
      expect(queued).toEqual(changes.slice(0, 2).map((c) => [`${c.id}@1:out:set-verdict`, `${c.id}@1:out:comment`]));
      expect(await stores.changes.listOwedAssessments({ limit: 10 })).toEqual([changes[2]?.id]);
      for (const change of changes.slice(0, 2)) {
        expect((await stores.assessments.latestAssessment(change.id))?.outcomeHash).toBe('out');
        expect((await stores.outbox.get(`${change.id}@1:out:comment`))?.status).toBe('pending');
        expect((await stores.evidence.list(change.id)).map((e) => e.summary)).toEqual(['blocked']);
      }
      expect(await stores.assessments.latestAssessment(changes[2]?.id ?? '')).toBeNull();
    });

    it('queues and appends nothing twice when a batch is written again (a run repeated after a crash)', async () => {
      const changes = await mirrored(2);
      const batch = changes.map((c) => writesFor(c));
      await writer().write(batch);
      expect(await writer().write(batch)).toEqual([[], []]);
      expect((await stores.outbox.counts()).pending).toBe(4);
      for (const change of changes) {
        expect(await stores.evidence.list(change.id)).toHaveLength(1);
        expect(await stores.assessments.listAssessments(change.id)).toHaveLength(1);
      }
    });

    it('leaves a change owed when its writes carry no marker (the runner notes it after the evidence summary)', async () => {
      const [change] = await mirrored(1);
      if (change === undefined) throw new Error('no change');
      await writer().write([{ ...writesFor(change), assessedRevision: null }]);
      expect((await stores.assessments.latestAssessment(change.id))?.outcomeHash).toBe('out');
      expect(await stores.changes.listOwedAssessments({ limit: 10 })).toEqual([change.id]);
    });
  });
}
