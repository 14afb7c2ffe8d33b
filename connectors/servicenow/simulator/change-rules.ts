// The business logic a stock instance applies to change_request writes: the legacy
// type-driven state models (reference §2.2), the mandatory close fields, the
// side effects of entering a state, priority from impact × urgency, and the
// change's `approval` derived from its approvers (§2.1).

import type { Row } from './table-schema.ts';

const NEW = '-5';
const ASSESS = '-4';
const AUTHORIZE = '-3';
const SCHEDULED = '-2';
const IMPLEMENT = '-1';
const REVIEW = '0';
const CLOSED = '3';
const CANCELED = '4';

type Graph = Readonly<Record<string, readonly string[]>>;

// From the out-of-box ChangeRequestStateModel_* script includes. Review → Canceled
// is left out: current releases disable Cancel in Review (reference §2.2).
export const STATE_GRAPHS: Readonly<Record<string, Graph>> = {
  normal: {
    [NEW]: [ASSESS, CANCELED],
    [ASSESS]: [NEW, AUTHORIZE, SCHEDULED, CANCELED],
    [AUTHORIZE]: [NEW, SCHEDULED, CANCELED],
    [SCHEDULED]: [IMPLEMENT, CANCELED],
    [IMPLEMENT]: [REVIEW, CANCELED],
    [REVIEW]: [CLOSED],
  },
  standard: {
    [NEW]: [SCHEDULED, CANCELED],
    [SCHEDULED]: [IMPLEMENT, CANCELED],
    [IMPLEMENT]: [REVIEW, CANCELED],
    [REVIEW]: [CLOSED],
  },
  emergency: {
    [NEW]: [AUTHORIZE, SCHEDULED, CANCELED],
    [AUTHORIZE]: [NEW, SCHEDULED, CANCELED],
    [SCHEDULED]: [IMPLEMENT, CANCELED],
    [IMPLEMENT]: [REVIEW, CANCELED],
    [REVIEW]: [CLOSED],
  },
};

export const TRANSITION_RULE = 'Change Model: Check State Transition';
/** sys_id shown after the rule name in the abort detail; invented, the real one differs per instance. */
export const TRANSITION_RULE_SYS_ID = 'a0e5e5c1c3a33010a9e7c8f3c13ac0d1';

export function allowedNextStates(type: string, from: string): readonly string[] {
  const graph = STATE_GRAPHS[type] ?? STATE_GRAPHS.normal ?? {};
  return graph[from] ?? [];
}

export interface RuleViolation {
  rule: string;
  reason: string;
}

/** Checks a write the way the "Check State Transition" before-rule does; `next` is the merged row. */
export function checkChangeWrite(current: Row, next: Row): RuleViolation | undefined {
  const from = current.state ?? NEW;
  const to = next.state ?? from;
  if (to !== from && !allowedNextStates(next.type ?? 'normal', from).includes(to)) {
    return { rule: TRANSITION_RULE, reason: `no transition from state ${from} to ${to} for type ${next.type}` };
  }
  if (to === CLOSED && to !== from && (!next.close_code || !next.close_notes)) {
    return { rule: TRANSITION_RULE, reason: 'close_code and close_notes are mandatory to close' };
  }
  return undefined;
}

/** Side effects of entering a state (base SNC `moving()` plus task closure fields). */
export function stateEntryEffects(current: Row, next: Row, now: string, userSysId: string): Partial<Row> {
  const from = current.state ?? NEW;
  const to = next.state ?? from;
  if (to === from) return {};
  const effects: Partial<Row> = {};
  if (to === IMPLEMENT && !next.work_start) effects.work_start = now;
  if (to === REVIEW && !next.work_end) effects.work_end = now;
  if (to === CANCELED) effects.on_hold = 'false';
  if (to === CLOSED || to === CANCELED) {
    effects.active = 'false';
    if (!next.closed_at) effects.closed_at = now;
    if (!next.closed_by) effects.closed_by = userSysId;
  }
  return effects;
}

/** Change priority lookup: 1/1 → 1 Critical … 3/3 → 4 Low (changes have no Planning priority). */
export function priorityFor(impact: string, urgency: string): string | undefined {
  const i = Number(impact);
  const u = Number(urgency);
  if (!Number.isInteger(i) || !Number.isInteger(u) || i < 1 || u < 1) return undefined;
  return String(Math.min(4, i + u - 1));
}

const SETTLED = new Set(['cancelled', 'not_required', 'duplicate']);

/** The task's `approval` from its approvers: any rejection wins, then all approved, then none requested. */
export function deriveApproval(approvalStates: readonly string[]): string {
  const live = approvalStates.filter((s) => !SETTLED.has(s));
  if (live.includes('rejected')) return 'rejected';
  if (live.length > 0 && live.every((s) => s === 'approved')) return 'approved';
  if (live.every((s) => s === 'not requested')) return 'not requested';
  return 'requested';
}
