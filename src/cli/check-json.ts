// `changegate check --json`: the stable shape scripts read (documented in the
// README, "check --json"). Fields are added, never renamed or removed, within
// `"format": 1`.

import type { RuleProvenance } from '../assess/rule-provenance.ts';
import type { Assessment, GateResult, TransitionVerdict } from '../domain/assessment.ts';
import type { CanonicalState, MirroredChange } from '../domain/change.ts';
import { nextTargets } from './check-report.ts';

export interface CalendarBasis {
  /** `read`: the instance's ITSM schedules were read and merged; `none`: its system publishes none; `unreachable`: judged with the policy calendar only. */
  itsm: 'read' | 'none' | 'unreachable';
  error?: string;
}

const gateJson = (g: GateResult) => ({
  id: g.id,
  into: g.into,
  result: g.result,
  reason: g.reason,
  ...(g.hint === undefined ? {} : { hint: g.hint }),
  evidence: g.evidence.map((e) => ({ kind: e.kind, ref: e.ref, summary: e.summary })),
});

export interface CheckJsonInput {
  mc: MirroredChange;
  assessment: Assessment;
  calendars: CalendarBasis;
  transition?: { to: CanonicalState; gates: readonly GateResult[]; verdict: TransitionVerdict };
  next: readonly CanonicalState[];
  explain?: readonly RuleProvenance[];
  exitCode: number;
}

export function checkJson(input: CheckJsonInput): unknown {
  const { mc, assessment: a } = input;
  const c = mc.change;
  return {
    format: 1,
    exitCode: input.exitCode,
    change: { key: c.key, id: c.id, instance: c.instance, system: c.system, type: c.type, title: c.title, state: c.state, nativeState: c.nativeState, nativeStateLabel: c.nativeStateLabel, revision: c.nativeRevision, url: c.url },
    policyVersion: a.policyVersion,
    evaluatedAt: a.evaluatedAt,
    calendars: input.calendars,
    classification: a.classification,
    risk: { level: a.risk.level, cell: a.risk.cell, source: a.risk.source },
    ...(input.transition === undefined
      ? {
          assessment: {
            scorecard: { recommendation: a.scorecard.recommendation, conditions: a.scorecard.conditions, criteria: a.scorecard.criteria.map((k) => ({ id: k.id, label: k.label, result: k.result, reason: k.reason })) },
            next: nextTargets(a, input.next),
            violations: a.violations,
            gates: a.gates.map(gateJson),
          },
        }
      : {
          transition: {
            from: c.state,
            to: input.transition.to,
            allow: input.transition.verdict.allow,
            reasons: input.transition.verdict.reasons,
            conditions: input.transition.verdict.conditions,
            gates: input.transition.gates.map(gateJson),
          },
        }),
    ...(input.explain === undefined ? {} : { explain: input.explain }),
  };
}
