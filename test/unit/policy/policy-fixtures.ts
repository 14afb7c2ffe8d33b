// Shared inputs for the policy tests: the default policy, events shaped as the
// events pipeline emits them, and a context at a chosen instant.

import type { GateResult } from '../../../src/domain/assessment.ts';
import type { Approval, Change, JournalEntry, MirroredChange } from '../../../src/domain/change.ts';
import type { CiEvent, MonitorEvent, MonitorWatch } from '../../../src/domain/events.ts';
import { evaluateState } from '../../../src/policy/assess.ts';
import type { PolicyContext } from '../../../src/policy/context.ts';
import { loadPolicy, type Policy } from '../../../src/policy/policy-config.ts';
import { isBuiltInRule, RULES } from '../../../src/policy/rule-catalog.ts';
import { buildApproval, buildChange } from '../../support/change-builder.ts';

export const DEFAULT_POLICY: Policy = loadPolicy();

/** The commit `buildChange` links. */
export const COMMIT = '9fceb02d0ae598e95dc970b74767f19372d61af8';

export function mirrored(overrides: Partial<Change> = {}, children: { approvals?: Approval[]; journal?: JournalEntry[] } = {}): MirroredChange {
  return { change: buildChange(overrides), approvals: children.approvals ?? [], journal: children.journal ?? [] };
}

let ciSeq = 0;
export function ciEvent(overrides: Partial<CiEvent> = {}): CiEvent {
  ciSeq += 1;
  return {
    id: `github:run-${ciSeq}`,
    source: 'github',
    kind: 'build',
    repo: 'acme/payments-gateway',
    commit: COMMIT,
    branch: 'release/4.2',
    runId: String(9000 + ciSeq),
    name: 'build-and-test',
    status: 'success',
    environment: null,
    startedAt: '2026-03-09T08:00:00Z',
    finishedAt: '2026-03-09T08:10:00Z',
    url: `https://github.com/acme/payments-gateway/actions/runs/${9000 + ciSeq}`,
    changeKeys: ['CHG0030001'],
    tests: null,
    findings: null,
    verified: null,
    ...overrides,
  };
}

export function monitorEvent(overrides: Partial<MonitorEvent> = {}): MonitorEvent {
  return {
    id: 'alertmanager:fp-1:2026-03-11T01:00:00Z',
    source: 'alertmanager',
    kind: 'alert',
    status: 'firing',
    severity: 'critical',
    service: 'Payments API',
    labels: { alertname: 'HighErrorRate', service: 'Payments API' },
    title: 'HighErrorRate',
    startsAt: '2026-03-11T01:00:00Z',
    endsAt: null,
    fingerprint: 'fp-1',
    url: 'http://alertmanager.example/#/alerts?fingerprint=fp-1',
    ...overrides,
  };
}

/** Build, tests, scan and SIT → UAT → Pre-Prod, all green, on 2026-03-09. */
const t = (h: number, m = 0) => `2026-03-09T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00Z`;

export function readinessEvents(commit = COMMIT): CiEvent[] {
  return [
    ciEvent({ commit, kind: 'build', startedAt: t(8), finishedAt: t(8, 10) }),
    ciEvent({ commit, kind: 'test', name: 'unit', startedAt: t(8, 10), finishedAt: t(8, 20), tests: { passed: 412, failed: 0, skipped: 3 } }),
    ciEvent({ commit, kind: 'scan', name: 'codeql', startedAt: t(8, 20), finishedAt: t(8, 30), findings: { critical: 0, high: 0, medium: 2 } }),
    ...['SIT', 'UAT', 'Pre-Prod'].flatMap((environment, i) => [
      ciEvent({ commit, kind: 'deploy', environment, name: 'deploy', startedAt: t(9 + 2 * i), finishedAt: t(9 + 2 * i, 10) }),
      ciEvent({ commit, kind: 'test', environment, name: 'e2e', startedAt: t(9 + 2 * i, 15), finishedAt: t(9 + 2 * i, 45), tests: { passed: 60, failed: 0, skipped: 0 } }),
    ]),
  ];
}

/** Monitoring that watches every service and reported recently: alert checks can pass on "nothing firing". */
export const WATCHED: MonitorWatch = { covered: true, sources: ['alertmanager'], lastHeartbeat: '2026-03-10T09:00:00Z' };

export function context(at: string, overrides: Partial<Omit<PolicyContext, 'now'>> = {}): PolicyContext {
  const policy = overrides.policy ?? DEFAULT_POLICY;
  return { now: new Date(at), events: { ci: [], monitor: [], watch: WATCHED }, calendar: policy.calendar, otherChanges: [], waivers: [], policy, ...overrides };
}

export function approved(groupName: string, overrides: Partial<Approval> = {}): Approval {
  return buildApproval({ state: 'approved', nativeState: 'approved', decidedAt: '2026-03-05T14:30:00Z', group: { id: `grp-${groupName}`, name: groupName }, ...overrides });
}

/** One gate's result, evaluated as if the change were about to enter the gate's state. */
export function gate(id: string, mc: MirroredChange, ctx: PolicyContext): GateResult {
  const into = isBuiltInRule(id) ? RULES[id].into : ctx.policy.custom.find((r) => r.id === id)?.into;
  const found = into === undefined ? undefined : evaluateState(mc, into, ctx).find((g) => g.id === id);
  if (!found) throw new Error(`gate ${id} was not evaluated (disabled or unknown)`);
  return found;
}
