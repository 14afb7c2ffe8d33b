// Gates into Assess and Authorize, from passing and failing fixtures: each case
// asserts the verdict and that the reason names what is missing or wrong.

import { describe, expect, it } from 'vitest';
import type { Calendar } from '../../../src/policy/calendar.ts';
import { buildChange } from '../../support/change-builder.ts';
import { context, gate, mirrored } from './policy-fixtures.ts';

const BEFORE = '2026-03-05T10:00:00Z'; // planned start (2026-03-10 22:00 UTC) is 5 d 12 h away

const quarterClose: Calendar = {
  windows: [{ id: 'q1-close', name: 'Quarter close', kind: 'freeze', timeZone: 'UTC', services: [], schedule: 'once', start: '2026-03-10T00:00', end: '2026-03-12T00:00' }],
};

function maintenance(days: ('tue' | 'sat')[], services: string[]): Calendar {
  return {
    windows: [
      { id: 'night', name: 'Night maintenance', kind: 'maintenance', timeZone: 'UTC', services, schedule: 'recurring', days, start: '21:00', cron: null, end: '01:00', durationMs: null, validFrom: null, validUntil: null },
    ],
  };
}

const other = (overrides: Parameters<typeof buildChange>[0]) =>
  buildChange({ nativeId: 'other-1', key: 'CHG0030002', state: 'scheduled', plannedStart: '2026-03-10T23:00:00Z', plannedEnd: '2026-03-10T23:59:00Z', ...overrides });

const cases = [
  { gate: 'assess.record-complete', name: 'complete record', mc: mirrored(), result: 'pass', reason: /title, description, requester, assignment group, affected service or CI and business justification are set/ },
  { gate: 'assess.record-complete', name: 'no description or justification', mc: mirrored({ description: null, justification: '   ' }), result: 'fail', reason: /missing description and business justification$/ },
  { gate: 'assess.record-complete', name: 'no service or CI', mc: mirrored({ services: [], cis: [] }), result: 'fail', reason: /missing affected service or CI/ },
  { gate: 'assess.record-complete', name: 'no requester', mc: mirrored({ requester: null }), result: 'fail', reason: /missing requester/ },
  {
    gate: 'assess.record-complete',
    name: 'JSM: the affected service stands in for the group',
    mc: mirrored({ assignmentGroup: { id: 'svc-1', name: 'Payments API' }, standIns: { assignmentGroup: 'affected-service' } }),
    result: 'pass',
    reason: /are set \(the affected service Payments API stands in for the assignment group\)$/,
  },
  {
    gate: 'assess.record-complete',
    name: 'a site with no group field and no stand-in',
    mc: mirrored({ assignmentGroup: null, standIns: { assignmentGroup: 'none' } }),
    result: 'fail',
    reason: /^the record is missing assignment group \(this site has no assignment group field and the mapping lets nothing stand in for it\)$/,
  },
  { gate: 'authorize.risk-assessed', name: 'impact × probability', mc: mirrored({ risk: { impact: 'high', probability: 'medium', level: null } }), result: 'pass', reason: /impact high × probability medium gives medium risk/ },
  { gate: 'authorize.risk-assessed', name: 'no probability, stated level', mc: mirrored({ risk: { impact: 'high', probability: null, level: 'high' } }), result: 'pass', reason: /probability is not set, so the stated risk level high is used/ },
  { gate: 'authorize.risk-assessed', name: 'no impact', mc: mirrored({ risk: { impact: null, probability: 'low', level: 'low' } }), result: 'fail', reason: /^impact is not set/ },
  { gate: 'authorize.risk-assessed', name: 'nothing known', mc: mirrored({ risk: { impact: null, probability: null, level: null } }), result: 'fail', reason: /impact and probability are not set and the ticket states no risk/ },
  { gate: 'authorize.plans', name: 'all plans', mc: mirrored(), result: 'pass', reason: /implementation, backout and test plans are present/ },
  { gate: 'authorize.plans', name: 'empty backout', mc: mirrored({ plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } }), result: 'fail', reason: /^backout plan is empty$/ },
  { gate: 'authorize.plans', name: 'placeholder and missing', mc: mirrored({ plans: { implementation: null, backout: 'Roll back.', test: 'N/A' } }), result: 'fail', reason: /^implementation and test plans are empty$/ },
  { gate: 'authorize.schedule', name: 'planned window', mc: mirrored(), result: 'pass', reason: /planned 2026-03-10 22:00 UTC – 2026-03-10 23:30 UTC \(1 h 30 min\)/ },
  { gate: 'authorize.schedule', name: 'no planned end', mc: mirrored({ plannedEnd: null }), result: 'fail', reason: /^planned end is not set$/ },
  { gate: 'authorize.schedule', name: 'end before start', mc: mirrored({ plannedEnd: '2026-03-10T21:00:00Z' }), result: 'fail', reason: /planned end 2026-03-10 21:00 UTC is not after planned start 2026-03-10 22:00 UTC/ },
  { gate: 'authorize.lead-time', name: 'enough lead time', mc: mirrored(), result: 'pass', reason: /is 5 d 12 h away; normal changes need 48 h/ },
  { gate: 'authorize.lead-time', name: 'too close', at: '2026-03-10T02:00:00Z', mc: mirrored(), result: 'fail', reason: /^planned start 2026-03-10 22:00 UTC is 20 h away; normal changes need 48 h lead time$/ },
  { gate: 'authorize.lead-time', name: 'emergency', at: '2026-03-10T21:00:00Z', mc: mirrored({ type: 'emergency' }), result: 'pass', reason: /emergency changes need no lead time/ },
  { gate: 'authorize.freeze', name: 'inside a freeze', calendar: quarterClose, mc: mirrored(), result: 'fail', reason: /overlaps freeze "Quarter close" \(2026-03-10 00:00 UTC – 2026-03-12 00:00 UTC\)/ },
  { gate: 'authorize.freeze', name: 'emergency in a freeze', calendar: quarterClose, mc: mirrored({ type: 'emergency' }), result: 'pass', reason: /emergency changes are exempt from freeze windows \(overlaps "Quarter close"/ },
  { gate: 'authorize.freeze', name: 'no freeze', mc: mirrored(), result: 'pass', reason: /no freeze window overlaps/ },
  { gate: 'authorize.freeze', name: 'no planned start', calendar: quarterClose, mc: mirrored({ plannedStart: null }), result: 'pending', reason: /planned start is not set/ },
  { gate: 'authorize.maintenance-window', name: 'no window applies', calendar: maintenance(['sat'], ['Billing']), mc: mirrored(), result: 'pass', reason: /no maintenance window applies/ },
  { gate: 'authorize.maintenance-window', name: 'inside Tuesday night', calendar: maintenance(['tue'], ['Payments API']), mc: mirrored(), result: 'pass', reason: /inside maintenance window "Night maintenance" \(2026-03-10 21:00 UTC – 2026-03-11 01:00 UTC\)/ },
  { gate: 'authorize.maintenance-window', name: 'outside Saturday night', calendar: maintenance(['sat'], ['payments api']), mc: mirrored(), result: 'fail', reason: /2026-03-10 22:00 UTC – 2026-03-10 23:30 UTC is not inside a maintenance window/ },
  { gate: 'authorize.no-overlap', name: 'same service, same time', others: [other({})], mc: mirrored(), result: 'fail', reason: /overlaps CHG0030002 on Payments API and pay-gw-cluster-01 \(2026-03-10 23:00 UTC – 2026-03-10 23:59 UTC\)/ },
  { gate: 'authorize.no-overlap', name: 'canceled neighbour', others: [other({ state: 'canceled' })], mc: mirrored(), result: 'pass', reason: /no other change/ },
  { gate: 'authorize.no-overlap', name: 'other service', others: [other({ services: [{ id: 'svc-b', name: 'Billing' }], cis: [] })], mc: mirrored(), result: 'pass', reason: /no other change/ },
  { gate: 'authorize.no-overlap', name: 'itself', others: [buildChange()], mc: mirrored(), result: 'pass', reason: /no other change/ },
  // Edges found by mutation testing (docs/mutation-testing.md): each row is a verdict a one-character change flipped unnoticed.
  { gate: 'authorize.risk-assessed', name: 'impact only, no stated level', mc: mirrored({ risk: { impact: 'high', probability: null, level: null } }), result: 'fail', reason: /^no risk level: probability is not set and the ticket states no risk$/ },
  { gate: 'authorize.schedule', name: 'ends when it starts', mc: mirrored({ plannedEnd: '2026-03-10T22:00:00Z' }), result: 'fail', reason: /is not after planned start/ },
  { gate: 'authorize.lead-time', name: 'exactly the lead time', at: '2026-03-08T22:00:00Z', mc: mirrored(), result: 'pass', reason: /^planned start 2026-03-10 22:00 UTC is 48 h away; normal changes need 48 h$/ },
  { gate: 'authorize.lead-time', name: 'start already past', at: '2026-03-11T00:00:00Z', mc: mirrored(), result: 'fail', reason: /^planned start 2026-03-10 22:00 UTC was /},
  { gate: 'authorize.lead-time', name: 'no planned start', mc: mirrored({ plannedStart: null }), result: 'fail', reason: /^planned start is not set, so the 48 h lead time for normal changes cannot be checked$/ },
  { gate: 'authorize.freeze', name: 'emergency, no freeze', mc: mirrored({ type: 'emergency' }), result: 'pass', reason: /^emergency changes are exempt from freeze windows$/ },
  { gate: 'authorize.maintenance-window', name: 'applies, no planned end', calendar: maintenance(['tue'], ['Payments API']), mc: mirrored({ plannedEnd: null }), result: 'pending', reason: /^maintenance windows cannot be checked: planned end is not set$/ },
  { gate: 'authorize.no-overlap', name: 'no planned start', others: [other({})], mc: mirrored({ plannedStart: null }), result: 'pending', reason: /^overlapping changes cannot be checked: planned start is not set$/ },
] as const;

describe('gates into assess and authorize', () => {
  it.each(cases)('$gate: $name → $result', (c) => {
    const ctx = context('at' in c ? c.at : BEFORE, {
      ...('calendar' in c ? { calendar: c.calendar } : {}),
      ...('others' in c ? { otherChanges: [...c.others] } : {}),
    });
    const result = gate(c.gate, c.mc, ctx);
    expect(result.result).toBe(c.result);
    expect(result.reason).toMatch(c.reason);
    expect(result.into).toBe(c.gate.split('.')[0]);
  });

  it('names the first ten overlapping changes, in the order the lookup gave them, and counts the rest', () => {
    const others = Array.from({ length: 15 }, (_, i) => other({ nativeId: `other-${i}`, key: `CHG00400${String(i).padStart(2, '0')}` }));
    const result = gate('authorize.no-overlap', mirrored(), context(BEFORE, { otherChanges: others }));
    expect(result.result).toBe('fail');
    expect(result.reason).toMatch(/^the planned window overlaps 15 changes: CHG0040000 on Payments API and pay-gw-cluster-01 \(2026-03-10 23:00 UTC – 2026-03-10 23:59 UTC\), CHG0040001 on /);
    expect(result.reason).toMatch(/CHG0040009 on [^,]+\) and 5 others$/);
    expect(result.reason).not.toContain('CHG0040010');
    expect(result.evidence.map((e) => e.ref)).toEqual(others.slice(0, 10).map((o) => o.key));
  });

  it('names every overlapping change when there are ten or fewer', () => {
    const others = Array.from({ length: 10 }, (_, i) => other({ nativeId: `other-${i}`, key: `CHG00400${String(i).padStart(2, '0')}` }));
    const result = gate('authorize.no-overlap', mirrored(), context(BEFORE, { otherChanges: others }));
    expect(result.reason).toMatch(/^the planned window overlaps CHG0040000 on .* and CHG0040009 on Payments API and pay-gw-cluster-01 \(2026-03-10 23:00 UTC – 2026-03-10 23:59 UTC\)$/);
    expect(result.evidence).toHaveLength(10);
  });

  it('points at the empty fields in its evidence', () => {
    const result = gate('authorize.plans', mirrored({ plans: { implementation: 'x', backout: null, test: 'y' } }), context(BEFORE));
    expect(result.evidence.map((e) => e.ref)).toEqual(['plans.backout']);
  });
});
