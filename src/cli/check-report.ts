// What `changegate check` prints: a header naming the change, then either the
// gates of one transition with the verdict, or the whole assessment (scorecard,
// next transitions and what blocks them, violations), and with --explain the
// rule parameters in force and where each came from.

import type { RuleProvenance } from '../assess/rule-provenance.ts';
import type { Assessment, GateOutcome, GateResult, TransitionVerdict } from '../domain/assessment.ts';
import type { CanonicalState, MirroredChange } from '../domain/change.ts';
import { gatedStates, isTerminal } from '../policy/lifecycle.ts';
import { describeRisk } from '../policy/risk.ts';
import type { CalendarBasis } from './check-json.ts';
import { paint, renderTable, type Cell, type Tone } from './text-table.ts';

const OUTCOME_TONE: Record<GateOutcome | 'unknown', Tone> = { pass: 'good', fail: 'bad', pending: 'warn', waived: 'info', unknown: 'warn' };

const outcome = (result: GateOutcome | 'unknown'): Cell => ({ text: result, tone: OUTCOME_TONE[result] });

const clears = (g: GateResult): boolean => g.result === 'pass' || g.result === 'waived';

function evidenceText(gate: GateResult): string {
  return gate.evidence.map((e) => `${e.kind}:${e.ref}`).join(', ') || '-';
}

export function renderHeader(mc: MirroredChange, assessment: Assessment, color: boolean): string {
  const c = mc.change;
  const native = c.nativeStateLabel === null || c.nativeStateLabel === c.nativeState ? c.nativeState : `${c.nativeState} ${c.nativeStateLabel}`;
  return [
    `${paint(c.key, 'strong', color)}  ${c.title}`,
    `  ${c.system} ${c.instance} · ${c.type} change · state ${c.state} (native ${native}) · revision ${c.nativeRevision} · ${c.url}`,
    `  classification ${assessment.classification} · risk ${assessment.risk.level ?? 'unknown'}: ${describeRisk(assessment.risk)}`,
    `  policy ${assessment.policyVersion} · evaluated at ${assessment.evaluatedAt}`,
  ].join('\n');
}

export function renderGates(gates: readonly GateResult[], color: boolean): string {
  if (gates.length === 0) return '  (no gate guards this transition)';
  return renderTable(
    // The reason last: it is the long column, and nothing after it gets pushed off screen.
    ['GATE', 'INTO', 'RESULT', 'EVIDENCE', 'REASON'],
    gates.map((g) => [g.id, g.into, outcome(g.result), evidenceText(g), g.hint === undefined ? g.reason : `${g.reason} (policy: ${g.hint})`]),
    color,
  );
}

export function renderTransition(from: CanonicalState, to: CanonicalState, gates: readonly GateResult[], verdict: TransitionVerdict, color: boolean): string {
  const lines = [`transition ${from} → ${to}`, renderGates(gates, color), ''];
  const blocking = verdict.reasons.length;
  lines.push(
    verdict.allow
      ? `verdict: ${paint('ALLOWED', 'good', color)}${verdict.conditions.length > 0 ? ' (with conditions)' : ''}`
      : `verdict: ${paint('NOT ALLOWED', 'bad', color)} (${blocking} ${blocking === 1 ? 'reason' : 'reasons'})`,
  );
  for (const reason of verdict.reasons) lines.push(`  - ${reason}`);
  for (const condition of verdict.conditions) lines.push(`  condition: ${condition}`);
  lines.push(`policy ${verdict.policyVersion}`);
  return lines.join('\n');
}

/** `next`: the states the lifecycle offers from the current one. */
export function renderAssessment(assessment: Assessment, next: readonly CanonicalState[], color: boolean): string {
  const card = assessment.scorecard;
  const tone: Tone = card.recommendation === 'Go' ? 'good' : card.recommendation === 'No-Go' ? 'bad' : 'warn';
  const lines = [
    `CAB scorecard: ${paint(card.recommendation, tone, color)}`,
    renderTable(
      ['CRITERION', 'RESULT', 'REASON'],
      card.criteria.map((c) => [c.label, outcome(c.result), c.reason]),
      color,
    ),
  ];
  for (const condition of card.conditions) lines.push(`  condition: ${condition}`);
  lines.push('');
  const targets = nextTargets(assessment, next);
  lines.push(
    `next transitions from ${assessment.state}:`,
    targets.length === 0
      ? isTerminal(assessment.state)
        ? `  (none: ${assessment.state} is a final state)`
        : `  (none: the lifecycle offers no move from ${assessment.state} for this change type)`
      : renderTable(
          ['TO', 'ALLOWED', 'BLOCKED BY'],
          targets.map((t) => [t.to, t.allowed ? { text: 'yes', tone: 'good' } : { text: 'no', tone: 'bad' }, t.blockers.join(', ') || '-']),
          color,
        ),
  );
  if (assessment.violations.length > 0) {
    lines.push('', `violations (gates of ${assessment.state} that fail now):`);
    for (const v of assessment.violations) lines.push(`  - ${v.reason} (${v.gate})`);
  }
  lines.push('', 'gates of the next transitions:', renderGates(assessment.gates, color));
  return lines.join('\n');
}

/** Each target the assessment evaluated, allowed or with the gates that block it. */
export function nextTargets(assessment: Assessment, next: readonly CanonicalState[]): { to: CanonicalState; allowed: boolean; blockers: string[] }[] {
  return next.map((to) => {
    const guarded = new Set(gatedStates(assessment.state, to));
    const blockers = assessment.gates.filter((g) => guarded.has(g.into) && !clears(g)).map((g) => `${g.id} (${g.result})`);
    return { to, allowed: assessment.allowedTransitions.includes(to), blockers };
  });
}

export function renderExplain(provenance: readonly RuleProvenance[], policyFile: string, color: boolean): string {
  const lines = [`rule parameters in force (policy ${policyFile}):`];
  for (const rule of provenance) {
    lines.push(`${paint(rule.rule, 'strong', color)}  ${paint(rule.doc, 'dim', color)}`);
    if (rule.params.length === 0) {
      lines.push('  (no parameters)');
      continue;
    }
    const table = renderTable(
      ['PARAMETER', 'VALUE', 'FROM'],
      rule.params.map((p) => [p.name, p.value, { text: p.source, tone: p.source === 'built-in default' ? 'dim' : 'info' }]),
      color,
    );
    lines.push(...table.split('\n').map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

/** Which calendars the answer rests on, so a dry run without the ITSM schedules is never mistaken for a full one. */
export function renderCalendars(instance: string, basis: CalendarBasis, color: boolean): string {
  switch (basis.itsm) {
    case 'read':
      return `calendars: the policy calendar and the ITSM schedules of ${instance}`;
    case 'none':
      return `calendars: the policy calendar (${instance} publishes no schedules)`;
    case 'unreachable':
      return paint(`calendars: THE POLICY CALENDAR ONLY: the ITSM schedules of ${instance} could not be read (${basis.error ?? 'no answer'}); a freeze there is not seen`, 'warn', color);
  }
}
