// The CAB scorecard (seed §7.3): five criteria, each pass, fail or unknown with
// the evidence it rests on, and a recommendation. "Require evidence, not verbal
// confirmation" (seed §7.3): a criterion without evidence is unknown, never pass.
//
//   Go              every criterion passes
//   No-Go           risk, testing or rollback fails
//   Conditional Go  otherwise; the conditions name each criterion not passing

import type { RiskAssessment, Scorecard, ScorecardCriterion, ScorecardCriterionId } from '../domain/assessment.ts';
import type { Change, Level } from '../domain/change.ts';
import type { CiEvent, MonitorEvent, MonitorWatch } from '../domain/events.ts';
import { ciRef, commitEvents, fieldRef, firingOn, isBlank, latest, changeCommit, monitorRef, shortSha, unwatched } from './evidence.ts';
import { describeRisk, levelLabel, levelRank } from './risk.ts';

export interface ScorecardInput {
  change: Change;
  risk: RiskAssessment;
  ci: readonly CiEvent[];
  monitor: readonly MonitorEvent[];
  /** Whether monitoring watches the change's services (absent: nothing does). */
  watch?: MonitorWatch | undefined;
  now: number;
  maxRiskLevel: Level;
  /** Texts that count as an empty plan (the `authorize.plans` placeholders). */
  placeholders: readonly string[];
}

const LABELS: Record<ScorecardCriterionId, string> = {
  risk: 'Risk level',
  testing: 'Testing status',
  businessImpact: 'Business impact',
  rollback: 'Rollback readiness',
  operational: 'Operational readiness',
};

const BLOCKING: readonly ScorecardCriterionId[] = ['risk', 'testing', 'rollback'];

type Outcome = Omit<ScorecardCriterion, 'id' | 'label'>;

function riskCriterion({ risk, maxRiskLevel }: ScorecardInput): Outcome {
  const evidence = [fieldRef('risk', describeRisk(risk))];
  if (risk.level === null) return { result: 'unknown', reason: describeRisk(risk), evidence };
  if (levelRank(risk.level) > levelRank(maxRiskLevel)) {
    return { result: 'fail', reason: `${levelLabel(risk.level)} risk is above the ${levelLabel(maxRiskLevel)} the policy accepts (${describeRisk(risk)})`, evidence };
  }
  return { result: 'pass', reason: describeRisk(risk), evidence };
}

function testingCriterion(input: ScorecardInput): Outcome {
  const { change, ci, now } = input;
  const commit = changeCommit(change, ci, now);
  if (commit === null) {
    if (isBlank(change.plans.test, input.placeholders)) return { result: 'fail', reason: 'test plan is empty and no commit links test results', evidence: [fieldRef('plans.test', 'empty')] };
    return { result: 'unknown', reason: 'a test plan exists but no commit is linked, so there are no test results', evidence: [fieldRef('plans.test', 'present')] };
  }
  const sha = shortSha(commit);
  const runs = commitEvents(ci, commit, now, ['build', 'test']);
  const lastRun = latest(runs.filter((e) => e.status === 'success' || e.status === 'failure'));
  const lastTests = latest(runs.filter((e) => e.tests !== null));
  if (lastTests?.tests && lastTests.tests.failed > 0) {
    return { result: 'fail', reason: `${lastTests.tests.failed} tests failed in the latest run for ${sha}`, evidence: [ciRef(lastTests)] };
  }
  if (lastRun?.status === 'failure') return { result: 'fail', reason: `the latest CI run for ${sha} failed`, evidence: [ciRef(lastRun)] };
  if (lastTests?.tests) {
    return { result: 'pass', reason: `${lastTests.tests.passed} tests passed, none failed, for ${sha}`, evidence: [ciRef(lastTests)] };
  }
  return { result: 'unknown', reason: `no test results reported yet for ${sha}`, evidence: lastRun ? [ciRef(lastRun)] : [] };
}

function businessImpactCriterion({ change, risk }: ScorecardInput): Outcome {
  const targets = [...change.services, ...change.cis].map((r) => r.name ?? r.id);
  if (targets.length === 0) return { result: 'fail', reason: 'no affected service or CI is named, so the impact of a failure is unknown', evidence: [fieldRef('services', 'empty')] };
  if (risk.impact === null) return { result: 'unknown', reason: `impact on ${targets.join(', ')} is not assessed`, evidence: [fieldRef('risk.impact', 'not set')] };
  return { result: 'pass', reason: `${levelLabel(risk.impact)} impact on ${targets.join(', ')}`, evidence: [fieldRef('risk.impact', risk.impact)] };
}

function rollbackCriterion({ change, placeholders }: ScorecardInput): Outcome {
  if (isBlank(change.plans.backout, placeholders)) {
    return { result: 'fail', reason: 'backout plan is empty', evidence: [fieldRef('plans.backout', 'empty')] };
  }
  return { result: 'pass', reason: 'backout plan is documented', evidence: [fieldRef('plans.backout', 'present')] };
}

function operationalCriterion({ change, monitor, watch, now }: ScorecardInput): Outcome {
  const firing = firingOn(change, monitor, ['critical', 'high'], now);
  if (firing.length > 0) {
    const first = firing[0] as (typeof firing)[number];
    return { result: 'fail', reason: `${firing.length} critical or high alert(s) firing on the affected services, e.g. "${first.title ?? first.fingerprint}"`, evidence: firing.map(monitorRef) };
  }
  if (change.assignmentGroup === null) return { result: 'unknown', reason: 'no assignment group is set to support the change', evidence: [fieldRef('assignmentGroup', 'not set')] };
  const group = change.assignmentGroup.name ?? change.assignmentGroup.id;
  const blind = unwatched(watch, [...change.services, ...change.cis].map((r) => r.name ?? r.id).join(', '));
  if (blind !== null) return { result: 'unknown', reason: blind, evidence: [fieldRef('assignmentGroup', group)] };
  return { result: 'pass', reason: `${group} supports the change and no critical or high alert is firing`, evidence: [fieldRef('assignmentGroup', group)] };
}

const CRITERIA: Record<ScorecardCriterionId, (input: ScorecardInput) => Outcome> = {
  risk: riskCriterion,
  testing: testingCriterion,
  businessImpact: businessImpactCriterion,
  rollback: rollbackCriterion,
  operational: operationalCriterion,
};

export function recommend(criteria: readonly ScorecardCriterion[]): Pick<Scorecard, 'recommendation' | 'conditions'> {
  const blocking = criteria.filter((c) => c.result === 'fail' && BLOCKING.includes(c.id));
  if (blocking.length > 0) return { recommendation: 'No-Go', conditions: blocking.map((c) => `${c.label}: ${c.reason}`) };
  const open = criteria.filter((c) => c.result !== 'pass');
  if (open.length === 0) return { recommendation: 'Go', conditions: [] };
  return {
    recommendation: 'Conditional Go',
    conditions: open.map((c) => (c.result === 'unknown' ? `${c.label}: to be confirmed (${c.reason})` : `${c.label}: ${c.reason}`)),
  };
}

export function scorecard(input: ScorecardInput): Scorecard {
  const criteria = (Object.keys(CRITERIA) as ScorecardCriterionId[]).map((id): ScorecardCriterion => ({ id, label: LABELS[id], ...CRITERIA[id](input) }));
  return { criteria, ...recommend(criteria) };
}
