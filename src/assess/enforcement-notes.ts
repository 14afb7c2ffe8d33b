// The notes reactive enforcement posts about a move the policy did not allow:
// moved back, could not be moved back, or only explained (advisory, or the
// ticket moved on). Like the readiness note, they say what blocks first, each
// reason once, in the site's state names; rule ids and policy advice go to the
// part for administrators.

import type { GateResult, TransitionVerdict } from '../domain/assessment.ts';
import type { CanonicalState, ChangeType } from '../domain/change.ts';
import type { TicketNote } from '../kit/connector.ts';
import { DETAILS_TITLE, stateLabel } from '../kit/ticket-note.ts';
import { listText } from '../policy/gates/gate.ts';
import { nextStates } from '../policy/lifecycle.ts';
import { formatUtc } from '../policy/zoned-time.ts';
import { groupBlockers, sentence } from './verdict-text.ts';

export interface ObservedTransition {
  key: string;
  /** The change's type, to say which moves its lifecycle offers. */
  type: ChangeType;
  from: CanonicalState;
  to: CanonicalState;
  /** Native labels as the ticket shows them, when known. */
  fromLabel: string | null;
  toLabel: string | null;
  /** ISO-8601: when the source says it happened. */
  at: string;
}

/** What a denied move's note needs: the verdict and the gates that denied it (none when the move is no step of the lifecycle). */
export interface DeniedMove {
  verdict: TransitionVerdict;
  blocking: readonly GateResult[];
  /** The site's names of states the ticket does not show in this move. */
  names?: (state: CanonicalState) => string;
}

function nameOf(t: ObservedTransition, denied: DeniedMove, state: CanonicalState): string {
  if (state === t.from && t.fromLabel) return t.fromLabel;
  if (state === t.to && t.toLabel) return t.toLabel;
  return (denied.names ?? stateLabel)(state);
}

function moveText(t: ObservedTransition, denied: DeniedMove): string {
  return `${nameOf(t, denied, t.from)} → ${nameOf(t, denied, t.to)}`;
}

/** Each reason once; a move the lifecycle does not offer at all is said as such, with the moves it does offer. */
function items(t: ObservedTransition, denied: DeniedMove): string[] {
  if (denied.blocking.length === 0) {
    const offered = nextStates(t.type, t.from).map((s) => nameOf(t, denied, s));
    const from = nameOf(t, denied, t.from);
    return [
      `${moveText(t, denied)} is not a step of the release process for a ${t.type} change; from ${from} it may move to ${offered.length > 0 ? listText(offered, 'or') : 'nothing (a final state)'}.`,
    ];
  }
  return groupBlockers(denied.blocking.map((gate) => ({ gate, now: false, blocks: [] }))).map((b) => `${sentence(b.reason)}${b.pending ? ' (waiting)' : ''}.`);
}

function details(denied: DeniedMove): NonNullable<TicketNote['details']> {
  const blockers = groupBlockers(denied.blocking.map((gate) => ({ gate, now: false, blocks: [] })));
  const lines = blockers.filter((b) => b.hint !== null).map((b) => `${b.gates.join(', ')}: ${b.hint}.`);
  lines.push(`Policy version ${denied.verdict.policyVersion}.`);
  if (denied.blocking.length === 0) lines.push(...denied.verdict.reasons.map((r) => `Policy engine: ${r}.`));
  const table = { columns: ['Rule', 'Result'], rows: denied.blocking.map((g) => [g.id, g.result === 'pending' ? 'waiting' : g.result === 'fail' ? 'FAIL' : g.result]) };
  return { title: DETAILS_TITLE, lines, table };
}

function when(t: ObservedTransition): string {
  return formatUtc(Date.parse(t.at));
}

/** Posted after changegate moved the ticket back (enforce mode). */
export function revertedNote(t: ObservedTransition, denied: DeniedMove): TicketNote {
  return {
    title: `changegate moved ${t.key} back to ${nameOf(t, denied, t.from)}`,
    tone: 'warning',
    lines: [`The move ${moveText(t, denied)} at ${when(t)} is not allowed yet. Resolve the items below, then move the change again:`],
    items: items(t, denied),
    details: details(denied),
    changeKey: t.key,
  };
}

/** Posted when the ticket system refused the move back (enforce mode, e.g. a legacy state model); the outbox worker adds the refusal. */
export function revertRefusedNote(t: ObservedTransition, denied: DeniedMove): TicketNote {
  return {
    title: `changegate could not move ${t.key} back to ${nameOf(t, denied, t.from)}`,
    tone: 'error',
    lines: [
      `The move ${moveText(t, denied)} at ${when(t)} was not allowed, and the ticket system does not allow the move back (its answer is below).`,
      `The change stays in ${nameOf(t, denied, t.to)} in breach of the release policy: a change manager must decide whether to stop it. What was missing:`,
    ],
    items: items(t, denied),
    details: details(denied),
    changeKey: t.key,
  };
}

/** Posted in advisory mode, or when the ticket has moved on before changegate could act. */
export function advisoryNote(t: ObservedTransition, denied: DeniedMove, why: 'advisory' | 'moved-on'): TicketNote {
  const tail =
    why === 'advisory'
      ? 'The change was left where it is (advisory mode); the breach is recorded.'
      : 'The change has moved on since, so changegate left it where it is; the breach is recorded.';
  return {
    title: `${t.key}: ${moveText(t, denied)} broke the release policy`,
    tone: 'warning',
    lines: [`The move at ${when(t)} was not allowed. What was missing:`],
    items: items(t, denied),
    footer: [tail],
    details: details(denied),
    changeKey: t.key,
  };
}
