// The verdict follows its inputs within one revision of a change, whatever
// order they come in: an approval requested, given, refused, reset and given
// again (no new revision of the change, as ServiceNow's approval records and a
// neighbour's or an event's moves do) leaves the latest stored assessment, the
// one write-back still to post and the ledger on the last outcome, with every
// outcome change posted once and every other look writing nothing.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssessmentRunner, type RunResult } from '../../src/assess/assessment-runner.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { at, buildApproval, buildChange } from '../support/change-builder.ts';

type ApprovalState = 'requested' | 'approved' | 'rejected';
const GATE: Record<ApprovalState, string> = { requested: 'pending', approved: 'pass', rejected: 'fail' };
/** One decision time per state: a decision given again reads exactly as before, so its outcome recurs. */
const DECIDED: Record<ApprovalState, string | null> = { requested: null, approved: at(20), rejected: at(25) };
const policy = loadPolicy();

function approvalsGate(run: Pick<RunResult, 'assessment'>): string | undefined {
  return run.assessment?.gates.find((g) => g.id === 'scheduled.approvals')?.result;
}

describe('verdicts within one revision', () => {
  it('end on the last outcome in the store, the outbox and the ledger, posting each change of outcome once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<ApprovalState>('requested', 'approved', 'rejected'), { minLength: 1, maxLength: 8 }), async (steps) => {
        const store = SqliteChangeStore.open(':memory:');
        const assessments = SqliteAssessmentStore.open(':memory:');
        const outbox = SqliteOutboxStore.open(':memory:');
        const evidence = SqliteEvidenceStore.open(':memory:');
        try {
          const runner = new AssessmentRunner({
            store, assessments, outbox, evidence, policy, modeOf: () => 'advisory', writesBack: () => true,
            logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date('2026-03-02T12:00:00Z'),
          });
          const change = buildChange({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', nativeRevision: 4 });
          await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
          let previous: string | undefined;
          let changes = 0;
          for (const [i, state] of steps.entries()) {
            // A newer version of the one approval record each time; the change itself stays at its revision.
            const approval = buildApproval({ state, nativeState: state, decidedAt: DECIDED[state], updatedAt: at(30 + i) });
            await store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval }], null);
            const run = await runner.assessChange(change.id);
            const expected = GATE[state];
            expect(approvalsGate(run)).toBe(expected);
            const moved = expected !== previous;
            expect(run.outcomeChanged).toBe(moved);
            expect(run.enqueued).toHaveLength(moved ? 2 : 0);
            if (moved) changes += 1;
            previous = expected;
            // Looked at again with nothing new: settled, nothing written.
            expect(await runner.assessChange(change.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
          }
          expect((await assessments.listAssessments(change.id)).every((a) => a.revision === 1)).toBe(true);
          const latest = await assessments.latestAssessment(change.id);
          expect(latest === null ? undefined : approvalsGate(latest)).toBe(previous);
          const verdicts = await outbox.list({ action: 'set-verdict' });
          expect(verdicts).toHaveLength(changes);
          expect(new Set(verdicts.map((v) => v.idempotencyKey)).size).toBe(changes);
          expect(verdicts.filter((v) => v.status === 'pending')).toHaveLength(1);
          expect((await evidence.list(change.id)).filter((e) => e.kind === 'assessment')).toHaveLength(changes);
        } finally {
          await Promise.all([store.close(), assessments.close(), outbox.close(), evidence.close()]);
        }
      }),
      { numRuns: 60 },
    );
  });
});
