// What a change manager reads on the ticket: the verdict the plugins enforce
// and the notes changegate posts (readiness after an assessment, explanations
// of a denied transition). Notes are structured (TicketNote); ServiceNow gets
// them as plain-text work notes (`plainText`), Jira as ADF (jira-writer.ts).
// Every note ends with a marker naming its idempotency key: writers look for it
// before posting, and the runner drops changegate's own notes before the policy
// reads the journal, so a note never counts as evidence (a PIR, a reason).
//
// Notes are written for the ticket's readers (change managers, CAB members):
// what blocks and what to do first, each reason once however many rules and
// moves it holds up, states by the names the site shows. Rule ids and advice
// on the policy go to the part for administrators at the end.

import type { SaveCarries, TicketNote, TicketTransitionVerdict, TicketVerdict } from '../kit/connector.ts';
import type { SaveClearance } from './save-clearance.ts';
import type { Assessment, GateResult } from '../domain/assessment.ts';
import type { CanonicalState, Change, ChangeType, JournalEntry } from '../domain/change.ts';
import { gatedStates, isTerminal, MAIN_PATH, nextStates } from '../policy/lifecycle.ts';
import { listText } from '../policy/gates/gate.ts';
import { formatUtc } from '../policy/zoned-time.ts';
import { DETAILS_TITLE, HOLDS_UP, MARKER_PREFIX, stateLabel, type StateNamer } from '../kit/ticket-note.ts';

export { MARKER_PREFIX, markerFor, plainText, stateLabel, type StateNamer } from '../kit/ticket-note.ts';

/** Journal entries changegate did not write. */
export function withoutOwnNotes(journal: readonly JournalEntry[]): JournalEntry[] {
  return journal.filter((entry) => !entry.text.includes(MARKER_PREFIX));
}

/** The site's names, with the state the change is in named as the ticket itself shows it. */
export function namerFor(change: Pick<Change, 'state' | 'nativeStateLabel'>, site: StateNamer = stateLabel): StateNamer {
  return (state) => (state === change.state && change.nativeStateLabel ? change.nativeStateLabel : site(state));
}

const clears = (g: GateResult): boolean => g.result === 'pass' || g.result === 'waived';

/** "No commit is linked…": a reason opens a sentence or a list item. */
export function sentence(text: string): string {
  return text.length === 0 ? text : `${text[0]?.toUpperCase() ?? ''}${text.slice(1)}`;
}

/** One reason as the ticket says it once, with every rule and move it holds up. */
export interface Blocker {
  reason: string;
  /** Advice for a policy administrator, when a rule gave some. */
  hint: string | null;
  /** Every rule behind it, in assessment order. */
  gates: string[];
  /** Waiting for something to happen (a CI run, an approval), rather than failing. */
  pending: boolean;
  /** A check of the state the change is in that fails now. */
  now: boolean;
  /** Moves it blocks. */
  blocks: CanonicalState[];
}

/** Groups failing and pending gates by their reason: a reason shared by six rules is one blocker. */
export function groupBlockers(entries: readonly { gate: GateResult; now: boolean; blocks: readonly CanonicalState[] }[]): Blocker[] {
  const byReason = new Map<string, Blocker>();
  for (const { gate, now, blocks } of entries) {
    let b = byReason.get(gate.reason);
    if (b === undefined) {
      b = { reason: gate.reason, hint: gate.hint ?? null, gates: [], pending: true, now: false, blocks: [] };
      byReason.set(gate.reason, b);
    }
    if (!b.gates.includes(gate.id)) b.gates.push(gate.id);
    b.pending &&= gate.result === 'pending';
    b.now ||= now;
    for (const to of blocks) if (!b.blocks.includes(to)) b.blocks.push(to);
  }
  return [...byReason.values()];
}

/** The next state along the main path the lifecycle offers, if any: the move a change manager is waiting for. */
export function forwardState(type: ChangeType, state: CanonicalState): CanonicalState | null {
  const here = MAIN_PATH.indexOf(state);
  const on = nextStates(type, state).filter((to) => MAIN_PATH.indexOf(to) > here);
  // From a state the type skips (a standard change in Authorize), the nearest state ahead.
  return on.toSorted((a, b) => MAIN_PATH.indexOf(a) - MAIN_PATH.indexOf(b))[0] ?? null;
}

function guarding(assessment: Assessment, to: CanonicalState): GateResult[] {
  const states = new Set(gatedStates(assessment.state, to));
  return assessment.gates.filter((g) => states.has(g.into));
}

/** What the ticket's readers must resolve: the checks the change fails where it is now, then those of the move forward. */
export function blockersOf(assessment: Assessment, type: ChangeType): Blocker[] {
  const forward = forwardState(type, assessment.state);
  const entries: { gate: GateResult; now: boolean; blocks: CanonicalState[] }[] = [];
  for (const v of assessment.violations) {
    entries.push({ gate: { id: v.gate, into: v.state, result: 'fail', reason: v.reason, ...(v.hint === undefined ? {} : { hint: v.hint }), evidence: [] }, now: true, blocks: [] });
  }
  if (forward !== null && !assessment.allowedTransitions.includes(forward)) {
    for (const g of guarding(assessment, forward)) if (!clears(g)) entries.push({ gate: g, now: false, blocks: [forward] });
  }
  return groupBlockers(entries);
}

/** A blocker as one line: the reason, then what it holds up, in the site's names. */
export function blockerLine(b: Blocker, names: StateNamer, here: CanonicalState): string {
  const what: string[] = [];
  if (b.now) what.push(`required while in ${names(here)}, and not met now`);
  if (b.blocks.length > 0) what.push(`blocks the move to ${listText(b.blocks.map(names), 'and')}`);
  return `${sentence(b.reason)}${b.pending ? ' (waiting)' : ''}${what.length > 0 ? `${HOLDS_UP}${what.join('; ')}` : ''}.`;
}

/** What a save must carry to meet every one of the gates, or null when one of them no save can meet. */
function savable(gates: readonly string[], clearance: SaveClearance): SaveCarries[][] | null {
  const out: SaveCarries[][] = [];
  for (const gate of gates) {
    const needs = clearance(gate);
    if (needs === null) return null;
    out.push(...needs);
  }
  return out.length === 0 ? null : out;
}

/** The verdict the plugins read: every lifecycle move from the current state, allowed or not and why, in plain words. */
export function ticketVerdict(assessment: Assessment, type: ChangeType, names: StateNamer = stateLabel, clearance?: SaveClearance): TicketVerdict {
  const { state } = assessment;
  const transitions = nextStates(type, state).map((to): TicketTransitionVerdict => {
    const blocking = guarding(assessment, to).filter((g) => !clears(g));
    const reasons = [...new Set(blocking.map((g) => `${sentence(g.reason)}${g.result === 'pending' ? ' (waiting)' : ''}`))];
    const allowed = assessment.allowedTransitions.includes(to);
    const gates = [...new Set(blocking.map((g) => g.id))];
    const bySave = allowed || clearance === undefined || blocking.some((g) => g.result !== 'fail') ? null : savable(gates, clearance);
    return { to, toName: names(to), allowed, reasons, gates, ...(bySave === null ? {} : { clearedBySave: bySave }) };
  });
  const forward = forwardState(type, state);
  const forwardBlocked = forward !== null && !assessment.allowedTransitions.includes(forward);
  const blockers = blockersOf(assessment, type);
  return {
    verdict: assessment.violations.length > 0 || forwardBlocked ? 'blocked' : 'allowed',
    state,
    transitions,
    reasons: blockers.map((b) => blockerLine(b, names, state)),
    breaches: blockers.filter((b) => b.now).map((b) => sentence(b.reason)),
    policyVersion: assessment.policyVersion,
    assessedAt: assessment.evaluatedAt,
  };
}

const RESULT_TEXT: Record<GateResult['result'], string> = { pass: 'pass', fail: 'FAIL', pending: 'waiting', waived: 'waived' };

/** The part for administrators: advice on the policy, then every rule of the move the note speaks about. */
export function adminDetails(blockers: readonly Blocker[], shown: readonly GateResult[], policyVersion: string, names: StateNamer): NonNullable<TicketNote['details']> {
  const lines = blockers.filter((b) => b.hint !== null).map((b) => `${b.gates.join(', ')}: ${b.hint}.`);
  lines.push(`Policy version ${policyVersion}.`);
  const table = { columns: ['Rule', 'Checked before', 'Result'], rows: shown.map((g) => [g.id, names(g.into), RESULT_TEXT[g.result]]) };
  return { title: DETAILS_TITLE, lines, table };
}

/** The readiness note posted when an assessment's outcome changed. */
export function assessmentNote(assessment: Assessment, verdict: TicketVerdict, type: ChangeType, names: StateNamer = stateLabel): TicketNote {
  const here = names(assessment.state);
  const forward = forwardState(type, assessment.state);
  const blockers = blockersOf(assessment, type);
  const open = verdict.transitions.filter((t) => t.allowed).map((t) => names(t.to));
  const card = assessment.scorecard;
  let title: string;
  let tone: TicketNote['tone'];
  const lines: string[] = [];
  if (isTerminal(assessment.state)) {
    title = blockers.length > 0 ? `${assessment.key} is ${here}, but ${blockers.length === 1 ? 'a check of it is' : 'checks of it are'} not met` : `${assessment.key} is ${here}: nothing more to check`;
    tone = blockers.length > 0 ? 'warning' : 'info';
    if (blockers.length === 0) lines.push(`${here} is a final state, and every check of it is met.`);
  } else if (verdict.verdict === 'allowed') {
    title = forward === null ? `${assessment.key}: every check passes` : `${assessment.key} may move to ${names(forward)}`;
    tone = 'success';
    lines.push(forward === null ? 'Every check passes.' : `Every check for ${names(forward)} passes.`);
  } else {
    const forwardBlocked = forward !== null && !assessment.allowedTransitions.includes(forward);
    title = forwardBlocked ? `${assessment.key} cannot move to ${names(forward)} yet` : `${assessment.key} does not meet the checks of ${here}`;
    tone = 'error';
  }
  if (blockers.length > 0) lines.push(`To resolve (${blockers.length}):`);
  const footer = [
    open.length > 0
      ? `From ${here} it may move now to ${listText(open, 'or')}.`
      : isTerminal(assessment.state)
        ? `No move leaves ${here}: it is a final state.`
        : `No move out of ${here} is open until the items above are resolved.`,
  ];
  if (!isTerminal(assessment.state)) {
    footer.push(`CAB scorecard: ${card.recommendation}${card.conditions.length > 0 ? `: ${card.conditions.join('; ')}` : ''}.`);
  }
  footer.push(`Assessed ${formatUtc(Date.parse(assessment.evaluatedAt))}.`);
  const shown = forward === null ? assessment.gates : guarding(assessment, forward);
  const note: TicketNote = { title, tone, lines, footer, details: adminDetails(blockers, shown, assessment.policyVersion, names), changeKey: assessment.key };
  if (blockers.length > 0) note.items = blockers.map((b) => blockerLine(b, names, assessment.state));
  return note;
}
