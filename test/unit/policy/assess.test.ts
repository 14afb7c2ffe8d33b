// assess() and validateTransition(): what a change may do next and why not,
// waivers, violations, and the one-call-for-everything contract.

import { describe, expect, it } from 'vitest';
import type { Waiver } from '../../../src/domain/assessment.ts';
import { assess, evaluateState, gatesForTransition, validateTransition } from '../../../src/policy/assess.ts';
import { loadPolicy, parsePolicy } from '../../../src/policy/policy-config.ts';
import { approved, ciEvent, context, mirrored, monitorEvent, readinessEvents } from './policy-fixtures.ts';

const waiver = (overrides: Partial<Waiver> = {}): Waiver => ({
  gate: 'implement.lower-environments',
  changeId: null,
  by: 'Claire CAB-Chair',
  reason: 'Pre-Prod is down for the datacentre move; UAT sign-off accepted',
  until: '2026-03-11T00:00:00Z',
  grantedAt: '2026-03-09T18:00:00Z',
  ...overrides,
});
const IN_WINDOW = '2026-03-10T22:05:00Z';
const notInPreProd = readinessEvents().filter((e) => e.environment !== 'Pre-Prod');

describe('assess', () => {
  it('lists the gates of every next transition and which transitions are open', () => {
    const mc = mirrored({ state: 'scheduled' }, { approvals: [approved('Change Management')] });
    const result = assess(mc, context(IN_WINDOW, { events: { ci: readinessEvents(), monitor: [] } }));
    expect(result).toMatchObject({ state: 'scheduled', classification: 'minor', revision: 3, evaluatedAt: '2026-03-10T22:05:00.000Z', allowedTransitions: ['implement'] });
    expect([...new Set(result.gates.map((g) => g.into))]).toEqual(['implement', 'canceled']);
    expect(result.gates.filter((g) => g.into === 'implement').every((g) => g.result === 'pass')).toBe(true);
    expect(result.gates.find((g) => g.id === 'canceled.reason')?.result).toBe('fail');
    expect(result.policyVersion).toMatch(/^2026\.1\+/);
  });

  it('closes a transition while evidence is pending, and says what it waits for', () => {
    const ctx = context(IN_WINDOW, { events: { ci: notInPreProd, monitor: [] } });
    const mc = mirrored({ state: 'scheduled' });
    expect(assess(mc, ctx).allowedTransitions).toEqual([]);
    expect(validateTransition(mc, 'implement', ctx)).toEqual({
      allow: false,
      reasons: ['9fceb02 is not yet deployed to Pre-Prod (implement.lower-environments, pending)'],
      conditions: [],
      policyVersion: ctx.policy.version,
    });
  });

  it('holds a standard change entering scheduled from new to the assess and authorize checks it skips', () => {
    const mc = mirrored({ type: 'standard', state: 'new', justification: null, plans: { implementation: 'x', backout: '', test: 'y' } });
    const verdict = validateTransition(mc, 'scheduled', context('2026-03-05T10:00:00Z'));
    expect(verdict.allow).toBe(false);
    expect(verdict.reasons).toEqual(['the record is missing business justification (assess.record-complete)', 'backout plan is empty (authorize.plans)', expect.stringMatching(/No-Go.*\(scheduled\.cab-scorecard\)$/)]);
  });

  it('refuses a transition the lifecycle does not have, whatever the gates say', () => {
    const verdict = validateTransition(mirrored({ state: 'review' }), 'canceled', context(IN_WINDOW));
    expect(verdict).toMatchObject({ allow: false, reasons: ['review → canceled is not a transition of the normal change lifecycle; allowed next: closed, failed'] });
    expect(validateTransition(mirrored({ state: 'closed' }), 'closed', context(IN_WINDOW)).reasons).toEqual(['the change is already in closed; closed is a final state']);
    expect(gatesForTransition(mirrored({ state: 'review' }), 'canceled', context(IN_WINDOW))).toEqual([]);
  });

  it('carries the CAB Conditional Go conditions on an allowed move to scheduled', () => {
    const mc = mirrored({ state: 'authorize' }, { approvals: [approved('Change Management')] });
    const verdict = validateTransition(mc, 'scheduled', context('2026-03-05T10:00:00Z'));
    expect(verdict).toMatchObject({ allow: true, reasons: [], conditions: ['CAB Conditional Go: Testing status: to be confirmed (no test results reported yet for 9fceb02)'] });
  });

  it('reports failing gates of the current state as violations, but not entry-only checks', () => {
    // In implement after the window ended: an overrun. Lead time no longer matters once authorised.
    const late = assess(mirrored({ state: 'implement' }), context('2026-03-11T03:00:00Z', { events: { ci: readinessEvents(), monitor: [] } }));
    expect(late.violations).toEqual([{ gate: 'implement.window', state: 'implement', reason: 'the planned window 2026-03-10 22:00 UTC – 2026-03-10 23:30 UTC ended 3 h 30 min ago' }]);
    const authorised = assess(mirrored({ state: 'authorize' }), context('2026-03-10T21:00:00Z'));
    expect(authorised.violations).toEqual([]);
    const closed = assess(mirrored({ state: 'closed', actualEnd: '2026-03-10T23:30:00Z', closeCode: 'successful', closeNotes: 'ok' }), context('2026-04-01T00:00:00Z', { events: { ci: [], monitor: [monitorEvent({ startsAt: '2026-03-31T00:00:00Z' })] } }));
    expect(closed.violations).toEqual([]);
  });
});

const at = (now: string, waivers: Waiver[]) => context(now, { events: { ci: notInPreProd, monitor: [] }, waivers });

describe('waivers', () => {
  const mc = mirrored({ state: 'scheduled' });

  it('turn a failing or pending gate into waived, with who and why, and open the transition', () => {
    const verdict = validateTransition(mc, 'implement', at(IN_WINDOW, [waiver()]));
    expect(verdict.allow).toBe(true);
    expect(verdict.conditions).toEqual([
      'implement.lower-environments: waived by Claire CAB-Chair until 2026-03-11 00:00 UTC: Pre-Prod is down for the datacentre move; UAT sign-off accepted (was: 9fceb02 is not yet deployed to Pre-Prod)',
    ]);
    const gate = assess(mc, at(IN_WINDOW, [waiver()])).gates.find((g) => g.id === 'implement.lower-environments');
    expect(gate?.result).toBe('waived');
    expect(gate?.evidence.at(-1)).toMatchObject({ kind: 'waiver', summary: 'Claire CAB-Chair: Pre-Prod is down for the datacentre move; UAT sign-off accepted' });
  });

  it('stop applying once expired, and never apply to another change or another gate', () => {
    expect(validateTransition(mc, 'implement', at('2026-03-11T00:00:00Z', [waiver()])).allow).toBe(false);
    expect(validateTransition(mc, 'implement', at(IN_WINDOW, [waiver({ changeId: 'servicenow:sn-prod:other' })])).allow).toBe(false);
    expect(validateTransition(mc, 'implement', at(IN_WINDOW, [waiver({ gate: 'implement.scan' })])).allow).toBe(false);
    expect(validateTransition(mc, 'implement', at(IN_WINDOW, [waiver({ changeId: mc.change.id })])).allow).toBe(true);
  });

  it('cannot lift a rule the policy marks as not waivable', () => {
    const strict = parsePolicy('version: 1\nrules:\n  implement.lower-environments: { waivable: false }\n', 'strict.yaml');
    const ctx = context(IN_WINDOW, { policy: strict, events: { ci: notInPreProd, monitor: [] }, waivers: [waiver()] });
    expect(validateTransition(mc, 'implement', ctx).allow).toBe(false);
  });

  it('leave a passing gate as it is', () => {
    const ctx = context(IN_WINDOW, { events: { ci: readinessEvents(), monitor: [] }, waivers: [waiver()] });
    expect(assess(mc, ctx).gates.find((g) => g.id === 'implement.lower-environments')?.result).toBe('pass');
  });
});

describe('one code path for explain, validate and enforcement', () => {
  it('agrees: a transition is allowed exactly when assess lists it', () => {
    const ci = [...readinessEvents(), ciEvent({ kind: 'scan', startedAt: '2026-03-10T20:00:00Z', finishedAt: '2026-03-10T20:10:00Z', findings: { critical: 1 } })];
    for (const ctx of [context(IN_WINDOW, { events: { ci, monitor: [] } }), context(IN_WINDOW, { events: { ci: readinessEvents(), monitor: [] } })]) {
      const mc = mirrored({ state: 'scheduled' });
      const allowed = assess(mc, ctx).allowedTransitions;
      for (const to of ['implement', 'canceled', 'closed'] as const) expect(validateTransition(mc, to, ctx).allow).toBe(allowed.includes(to));
    }
  });
});

describe('gates per edge and custom rules', () => {
  const custom = loadPolicy('test/fixtures/policy/custom-and-overrides.yaml');

  it('explains an existing edge with the gates into the target state', () => {
    const gates = gatesForTransition(mirrored({ state: 'scheduled' }), 'implement', context(IN_WINDOW, { events: { ci: readinessEvents(), monitor: [] } }));
    expect(gates.length).toBeGreaterThan(0);
    expect(new Set(gates.map((g) => g.into))).toEqual(new Set(['implement']));
  });

  it('adds the CAB conditions only to a move the scorecard gate guards', () => {
    const ctx = context('2026-03-05T10:00:00Z');
    expect(validateTransition(mirrored({ state: 'authorize' }, { approvals: [approved('Change Management')] }), 'scheduled', ctx).conditions).not.toEqual([]);
    expect(validateTransition(mirrored({ state: 'authorize' }), 'canceled', ctx).conditions).toEqual([]);
  });

  it('runs a custom rule only for the state it guards, with the rule as its evidence', () => {
    const ctx = context('2026-03-13T10:00:00Z', { policy: custom }); // a Friday in Berlin
    expect(evaluateState(mirrored(), 'closed', ctx).filter((g) => g.id.startsWith('custom.'))).toEqual([]);
    const friday = evaluateState(mirrored(), 'implement', ctx).find((g) => g.id === 'custom.no-friday-deploys');
    expect(friday).toMatchObject({ result: 'fail', evidence: [{ kind: 'rule', ref: 'custom.no-friday-deploys', summary: 'now.getDayOfWeek("Europe/Berlin") != 5', url: null, at: null }] });
  });
});
