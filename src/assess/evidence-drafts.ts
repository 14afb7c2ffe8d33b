// What the assessment runner records in a change's evidence ledger, as drafts
// (src/evidence/evidence-entry.ts): each mirrored revision that moved the state,
// each assessment that changed the decision, each enforcement action. The
// payload is the record itself, so an auditor's bundle carries what was
// decided on, and the summary is the line a reader sees.

import type { Assessment } from '../domain/assessment.ts';
import type { Change } from '../domain/change.ts';
import type { EvidenceDraft } from '../evidence/evidence-entry.ts';
import type { EnforcementRecord } from '../store/assessment-store.ts';
import type { Revision } from '../store/change-store.ts';

const CHANGEGATE = 'changegate';

/** A revision that moved the state, or null (other edits are in the mirror's history, not the ledger). */
export function revisionDraft(change: Change, revision: Revision): { draft: EvidenceDraft; key: string } | null {
  const moved = revision.diff.find((d) => d.path === 'state');
  if (moved === undefined || !('from' in moved)) return null;
  const who = revision.author?.name ?? revision.author?.id ?? null;
  return {
    key: `revision:${revision.seq}`,
    draft: {
      kind: 'revision',
      at: revision.updatedAt,
      actor: who,
      source: `${change.system}:${change.instance}`,
      summary: `state ${String(moved.from)} → ${String(moved.to)}${who === null ? '' : ` by ${who}`}`,
      payload: { seq: revision.seq, nativeRevision: revision.nativeRevision, observedAt: revision.observedAt, diff: revision.diff.filter((d) => !d.path.startsWith('raw.')) },
    },
  };
}

export function assessmentDraft(change: Change, assessment: Assessment, revision: number, outcome: string): { draft: EvidenceDraft; key: string } {
  const count = (result: string) => assessment.gates.filter((g) => g.result === result).length;
  const next = assessment.allowedTransitions.length === 0 ? 'no transition allowed' : `may move to ${assessment.allowedTransitions.join(', ')}`;
  const violations = assessment.violations.length === 0 ? '' : `; ${assessment.violations.length} gate(s) of the current state fail`;
  return {
    key: `assessment:${revision}:${outcome}`,
    draft: {
      kind: 'assessment',
      at: assessment.evaluatedAt,
      actor: null,
      source: CHANGEGATE,
      summary: `${change.key} in ${assessment.state}: ${count('pass')} gate(s) pass, ${count('fail')} fail, ${count('pending')} pending; ${next}; CAB ${assessment.scorecard.recommendation}${violations} (policy ${assessment.policyVersion})`,
      payload: assessment,
    },
  };
}

export function enforcementDraft(change: Change, record: EnforcementRecord, at: string): { draft: EvidenceDraft; key: string } {
  const why = record.reasons.length === 0 ? '' : `: ${record.reasons.join('; ')}`;
  return {
    key: `enforcement:${record.revision}:${record.action}:${record.from}:${record.to}`,
    draft: {
      kind: 'enforcement',
      at,
      actor: null,
      source: CHANGEGATE,
      summary: `${record.action} of ${change.key}'s move ${record.from} → ${record.to} (${record.mode}, ${record.outcome})${why}`,
      payload: record,
    },
  };
}
