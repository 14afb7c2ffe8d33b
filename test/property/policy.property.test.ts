// Properties of the policy engine over open-ended input: allowed transitions
// are lifecycle edges, assessments are deterministic, waivers expire, and a
// broken policy file is reported at its file, line and rule.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Waiver } from '../../src/domain/assessment.ts';
import { CANONICAL_STATES, CHANGE_TYPES, LEVELS, type Approval, type Change, type MirroredChange } from '../../src/domain/change.ts';
import type { CiEvent } from '../../src/domain/events.ts';
import { ChangegateError } from '../../src/errors.ts';
import { assess, validateTransition } from '../../src/policy/assess.ts';
import { isEdge, nextStates } from '../../src/policy/lifecycle.ts';
import { parsePolicy } from '../../src/policy/policy-config.ts';
import { BUILT_IN_RULE_IDS } from '../../src/policy/rule-catalog.ts';
import { buildApproval, buildChange } from '../support/change-builder.ts';
import { ciEvent, context, readinessEvents } from '../unit/policy/policy-fixtures.ts';

const BASE = Date.parse('2026-03-01T00:00:00Z');
const HOUR = 3_600_000;
const instant = fc.integer({ min: 0, max: 20 * 24 }).map((h) => new Date(BASE + h * HOUR));
const iso = (d: Date) => d.toISOString();
const level = fc.option(fc.constantFrom(...LEVELS), { nil: null });
const text = fc.option(fc.constantFrom('', 'n/a', 'Roll back by switching traffic to green.'), { nil: null });
const person = fc.constantFrom({ id: 'u-ada', name: 'Ada' }, { id: 'u-grace', name: 'Grace' }, { id: 'u-beth', name: 'Beth' });

const approval: fc.Arbitrary<Approval> = fc
  .record({ approver: person, group: fc.constantFrom('CAB', 'Change Management', 'eCAB', 'Network'), state: fc.constantFrom('requested', 'approved', 'rejected') as fc.Arbitrary<Approval['state']>, n: fc.nat(99) })
  .map(({ approver, group, state, n }) => buildApproval({ id: `appr-${n}`, approver, group: { id: `g-${group}`, name: group }, state, nativeState: state, decidedAt: state === 'requested' ? null : '2026-03-02T10:00:00Z' }));

const change: fc.Arbitrary<Change> = fc
  .record({
    type: fc.constantFrom(...CHANGE_TYPES),
    state: fc.constantFrom(...CANONICAL_STATES),
    impact: level,
    probability: level,
    stated: level,
    backout: text,
    start: instant,
    hours: fc.integer({ min: -2, max: 12 }),
    requester: fc.option(person, { nil: null }),
    assignee: fc.option(person, { nil: null }),
    actualEnd: fc.option(instant, { nil: null }),
    closeNotes: text,
    commit: fc.constantFrom(null, '9fceb02d0ae598e95dc970b74767f19372d61af8', 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef'),
  })
  .map((r) =>
    buildChange({
      type: r.type,
      state: r.state,
      risk: { impact: r.impact, probability: r.probability, level: r.stated },
      plans: { implementation: 'Deploy.', backout: r.backout, test: 'Smoke.' },
      plannedStart: iso(r.start),
      plannedEnd: iso(new Date(r.start.getTime() + r.hours * HOUR)),
      requester: r.requester,
      assignee: r.assignee,
      actualEnd: r.actualEnd && iso(r.actualEnd),
      closeNotes: r.closeNotes,
      links: { repos: [], commits: r.commit ? [r.commit] : [], artifacts: [], pipelines: [] },
    }),
  );

const events: fc.Arbitrary<CiEvent[]> = fc.oneof(
  fc.constant<CiEvent[]>([]),
  fc.constant(readinessEvents()),
  fc.subarray(readinessEvents()),
  fc.constant<CiEvent[]>([ciEvent({ kind: 'test', status: 'failure', tests: { passed: 1, failed: 2, skipped: 0 } })]),
);

const mirroredChange: fc.Arbitrary<MirroredChange> = fc.record({ change, approvals: fc.array(approval, { maxLength: 3 }), journal: fc.constant([]) });
const gateId = fc.constantFrom(...BUILT_IN_RULE_IDS);

describe('policy engine properties', () => {
  it('allows only edges of the lifecycle graph', () => {
    fc.assert(
      fc.property(mirroredChange, events, instant, fc.constantFrom(...CANONICAL_STATES), (mc, ci, now, to) => {
        const ctx = context(iso(now), { events: { ci, monitor: [] } });
        expect(!validateTransition(mc, to, ctx).allow || isEdge(mc.change.type, mc.change.state, to)).toBe(true);
        const allowed = assess(mc, ctx).allowedTransitions;
        expect(allowed.every((s) => nextStates(mc.change.type, mc.change.state).includes(s))).toBe(true);
        expect(validateTransition(mc, to, ctx).allow).toBe(allowed.includes(to));
      }),
      { numRuns: 300 },
    );
  });

  it('gives deep-equal assessments for the same inputs', () => {
    fc.assert(
      fc.property(mirroredChange, events, instant, (mc, ci, now) => {
        const first = assess(mc, context(iso(now), { events: { ci, monitor: [] } }));
        const again = assess(structuredClone(mc), context(iso(now), { events: { ci: structuredClone(ci).toReversed(), monitor: [] } }));
        expect(again).toEqual(first);
        expect(JSON.parse(JSON.stringify(first))).toEqual(first);
      }),
      { numRuns: 150 },
    );
  });

  it('waives a failing or pending gate only until the waiver expires', () => {
    fc.assert(
      fc.property(mirroredChange, events, instant, gateId, fc.integer({ min: -48, max: 48 }), (mc, ci, now, gate, untilHours) => {
        const until = iso(new Date(now.getTime() + untilHours * HOUR));
        const waiver: Waiver = { gate, changeId: null, by: 'cab.chair', reason: 'accepted risk', until, grantedAt: null };
        const plain = assess(mc, context(iso(now), { events: { ci, monitor: [] } })).gates;
        const waived = assess(mc, context(iso(now), { events: { ci, monitor: [] }, waivers: [waiver] })).gates;
        expect(waived.map((g) => g.id)).toEqual(plain.map((g) => g.id));
        waived.forEach((g, i) => {
          const before = plain[i]!;
          const applies = g.id === gate && untilHours > 0 && (before.result === 'fail' || before.result === 'pending');
          const marks = { result: g.result, keepsReason: g.reason.endsWith(`(was: ${before.reason})`), waiverCited: g.evidence.at(-1)?.kind === 'waiver' };
          expect(marks).toEqual(applies ? { result: 'waived', keepsReason: true, waiverCited: true } : { result: before.result, keepsReason: false, waiverCited: false });
          // Apart from the verdict, a waived gate is the gate it was; an unwaived one is unchanged.
          expect(applies ? { ...g, result: before.result, reason: before.reason, evidence: g.evidence.slice(0, -1) } : g).toEqual(before);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('reports a policy file error at its file, line and rule', () => {
    const scope = fc.constantFrom('assess', 'authorize', 'scheduled', 'implement', 'review', 'closed', 'canceled');
    const badId = fc.tuple(scope, fc.stringMatching(/^[a-z]{3,10}$/)).map(([s, n]) => `${s}.${n}x`);
    fc.assert(
      fc.property(fc.nat(8), fc.subarray(BUILT_IN_RULE_IDS, { maxLength: 5 }), badId, fc.boolean(), (blank, good, bad, asCel) => {
        const lines = ['version: 1', ...Array.from({ length: blank }, (_, i) => `# note ${i}`)];
        let line: number;
        if (asCel) {
          lines.push('custom:', `  - id: custom.${bad.replace('.', '-')}`, '    into: implement');
          line = lines.length + 1;
          lines.push(`    expr: 'change.title == "x" &&'`, '    message: m');
        } else {
          lines.push('rules:', ...good.map((id) => `  ${id}: {}`));
          line = lines.length + 1;
          lines.push(`  ${bad}:`, '    enabled: false');
        }
        const rule = asCel ? `custom.${bad.replace('.', '-')}` : bad;
        let error: unknown = null;
        try {
          parsePolicy(`${lines.join('\n')}\n`, 'ops/policy.yaml');
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(ChangegateError);
        const err = error as ChangegateError;
        expect(err.code).toBe('CG_POLICY_INVALID');
        expect(err.message).toContain(`ops/policy.yaml:${line}:`);
        expect(err.message).toContain(`"${rule}"`);
        expect(err.details['line']).toBe(line);
      }),
      { numRuns: 100 },
    );
  });
});
