// What a change manager reads on the ticket: the verdict the plugins enforce
// and the notes changegate posts (readiness after an assessment, explanations
// of a denied transition). Notes are structured (TicketNote); ServiceNow gets
// them as plain-text work notes (`plainText`), Jira as ADF (jira-writer.ts).
// Every note ends with a marker naming its idempotency key: writers look for it
// before posting, and the runner drops changegate's own notes before the policy
// reads the journal, so a note never counts as evidence (a PIR, a reason).

import type { TicketNote, TicketVerdict } from '../kit/connector.ts';
import type { Assessment, GateResult, TransitionVerdict } from '../domain/assessment.ts';
import type { CanonicalState, ChangeType, JournalEntry } from '../domain/change.ts';
import { gatedStates, MAIN_PATH, nextStates } from '../policy/lifecycle.ts';
import { formatUtc } from '../policy/zoned-time.ts';
import { MARKER_PREFIX, stateLabel } from '../kit/ticket-note.ts';

export { MARKER_PREFIX, markerFor, plainText, stateLabel } from '../kit/ticket-note.ts';


/** Journal entries changegate did not write. */
export function withoutOwnNotes(journal: readonly JournalEntry[]): JournalEntry[] {
  return journal.filter((entry) => !entry.text.includes(MARKER_PREFIX));
}


const clears = (g: GateResult): boolean => g.result === 'pass' || g.result === 'waived';

function gateLine(g: GateResult): string {
  return `${g.reason} (${g.id}${g.result === 'pending' ? ', pending' : ''})`;
}

/** The next state along the main path the lifecycle offers, if any: the move a change manager is waiting for. */
export function forwardState(type: ChangeType, state: CanonicalState): CanonicalState | null {
  const here = MAIN_PATH.indexOf(state);
  return nextStates(type, state).find((to) => MAIN_PATH.indexOf(to) > here) ?? null;
}

/** The verdict the plugins read: every lifecycle move from the current state, allowed or not and why. */
export function ticketVerdict(assessment: Assessment, type: ChangeType): TicketVerdict {
  const { state } = assessment;
  const transitions = nextStates(type, state).map((to) => {
    const guarding = new Set(gatedStates(state, to));
    const reasons = assessment.gates.filter((g) => guarding.has(g.into) && !clears(g)).map(gateLine);
    return { to, allowed: assessment.allowedTransitions.includes(to), reasons };
  });
  const forward = forwardState(type, state);
  const forwardVerdict = forward === null ? null : transitions.find((t) => t.to === forward);
  const reasons = [
    ...assessment.violations.map((v) => `in ${stateLabel(v.state)} now: ${v.reason} (${v.gate})`),
    ...(forwardVerdict && !forwardVerdict.allowed ? forwardVerdict.reasons.map((r) => `before ${stateLabel(forwardVerdict.to)}: ${r}`) : []),
  ];
  const blocked = assessment.violations.length > 0 || (forwardVerdict !== null && forwardVerdict !== undefined && !forwardVerdict.allowed);
  return {
    verdict: blocked ? 'blocked' : 'allowed',
    state,
    transitions,
    reasons,
    policyVersion: assessment.policyVersion,
    assessedAt: assessment.evaluatedAt,
  };
}

const RESULT_TEXT: Record<GateResult['result'], string> = { pass: 'pass', fail: 'FAIL', pending: 'pending', waived: 'waived' };

/** The readiness note posted when an assessment's outcome changed. */
export function assessmentNote(assessment: Assessment, verdict: TicketVerdict): TicketNote {
  const forwardFrom = MAIN_PATH.indexOf(assessment.state);
  const forward = verdict.transitions.find((t) => MAIN_PATH.indexOf(t.to) > forwardFrom);
  const allowed = verdict.transitions.filter((t) => t.allowed).map((t) => stateLabel(t.to));
  const here = stateLabel(assessment.state);
  let title: string;
  let tone: TicketNote['tone'];
  if (verdict.transitions.length === 0) {
    title = `${assessment.key} is ${here}: no further transitions`;
    tone = assessment.violations.length > 0 ? 'warning' : 'info';
  } else if (verdict.verdict === 'allowed') {
    title = forward ? `${assessment.key} may move to ${stateLabel(forward.to)}` : `${assessment.key}: every check passes`;
    tone = 'success';
  } else {
    title = forward && !forward.allowed ? `${assessment.key} is blocked before ${stateLabel(forward.to)}` : `${assessment.key} fails a check of ${here}`;
    tone = 'error';
  }
  // The checks of the move a change manager is waiting for; the other moves (cancel, fail) are summed up in "Allowed next".
  const guarding = forward ? new Set(gatedStates(assessment.state, forward.to)) : null;
  const shown = guarding ? assessment.gates.filter((g) => guarding.has(g.into)) : assessment.gates;
  const card = assessment.scorecard;
  const lines = [
    `State ${here}. Allowed next: ${allowed.length > 0 ? allowed.join(', ') : 'none'}.`,
    `CAB scorecard: ${card.recommendation}${card.conditions.length > 0 ? ` (${card.conditions.join('; ')})` : ''}.`,
    `Policy ${assessment.policyVersion}, assessed ${formatUtc(Date.parse(assessment.evaluatedAt))}.`,
  ];
  const note: TicketNote = {
    title,
    tone,
    lines,
    table: { columns: ['Check', 'Before', 'Result', 'Why'], rows: shown.map((g) => [g.id, stateLabel(g.into), RESULT_TEXT[g.result], g.reason]) },
  };
  if (verdict.reasons.length > 0) note.items = verdict.reasons;
  return note;
}

export interface ObservedTransition {
  key: string;
  from: CanonicalState;
  to: CanonicalState;
  /** Native labels as the ticket shows them, when known. */
  fromLabel: string | null;
  toLabel: string | null;
  /** ISO-8601: when the source says it happened. */
  at: string;
}

function moveText(t: ObservedTransition): string {
  const from = t.fromLabel ?? stateLabel(t.from);
  const to = t.toLabel ?? stateLabel(t.to);
  return `${from} → ${to}`;
}

function deniedLines(t: ObservedTransition, verdict: TransitionVerdict): string[] {
  return [`The move ${moveText(t)} at ${formatUtc(Date.parse(t.at))} was not allowed by policy ${verdict.policyVersion} (reasons below).`];
}

/** Posted after changegate moved the ticket back (enforce mode). */
export function revertedNote(t: ObservedTransition, verdict: TransitionVerdict): TicketNote {
  return {
    title: `changegate moved ${t.key} back to ${t.fromLabel ?? stateLabel(t.from)}`,
    tone: 'warning',
    lines: [...deniedLines(t, verdict), 'Resolve the items below, then move the change again.'],
    items: verdict.reasons,
  };
}

/** Posted when the ticket system refused the move back (enforce mode, e.g. a legacy state model); the outbox worker adds the refusal. */
export function revertRefusedNote(t: ObservedTransition, verdict: TransitionVerdict): TicketNote {
  return {
    title: `changegate could not move ${t.key} back to ${t.fromLabel ?? stateLabel(t.from)}`,
    tone: 'error',
    lines: [
      ...deniedLines(t, verdict),
      `The change stays in ${t.toLabel ?? stateLabel(t.to)} in breach of policy: the ticket system does not allow the move back (its answer is below). A change manager must decide whether to stop the change.`,
    ],
    items: verdict.reasons,
  };
}

/** Posted in advisory mode, or when the ticket has moved on before changegate could act. */
export function advisoryNote(t: ObservedTransition, verdict: TransitionVerdict, why: 'advisory' | 'moved-on'): TicketNote {
  const tail =
    why === 'advisory'
      ? 'Advisory mode: the change was left where it is; this breach is recorded.'
      : 'The change has moved on since, so changegate left it where it is; this breach is recorded.';
  return { title: `${t.key}: ${moveText(t)} broke release policy`, tone: 'warning', lines: [...deniedLines(t, verdict), tail], items: verdict.reasons };
}

