// Gates into Implement and Review: the clock, freezes, and the readiness
// evidence for the linked commit (CI, tests, scan, lower environments,
// production deploy, smoke test).

import { describe, expect, it } from 'vitest';
import type { CiEvent } from '../../../src/domain/events.ts';
import type { Calendar } from '../../../src/policy/calendar.ts';
import { ciEvent, context, gate, mirrored, readinessEvents } from './policy-fixtures.ts';

const IN_WINDOW = '2026-03-10T22:05:00Z';
const freeze: Calendar = {
  windows: [{ id: 'q1-close', name: 'Quarter close', kind: 'freeze', timeZone: 'UTC', services: ['Payments API'], schedule: 'once', start: '2026-03-10T00:00', end: '2026-03-12T00:00' }],
};
const billingFreeze: Calendar = { windows: freeze.windows.map((w) => ({ ...w, services: ['Billing'] })) };
const ready = readinessEvents();
const without = (env: string) => ready.filter((e) => e.environment !== env);
const prodDeploy = (overrides: Partial<CiEvent> = {}) =>
  ciEvent({ kind: 'deploy', environment: 'production', startedAt: '2026-03-10T22:10:00Z', finishedAt: '2026-03-10T22:20:00Z', ...overrides });
const smoke = (overrides: Partial<CiEvent> = {}) =>
  ciEvent({ kind: 'test', name: 'smoke', environment: 'prod', startedAt: '2026-03-10T22:21:00Z', finishedAt: '2026-03-10T22:25:00Z', tests: { passed: 12, failed: 0, skipped: 0 }, ...overrides });

const cases = [
  { gate: 'implement.window', name: 'inside', ci: [], mc: mirrored(), result: 'pass', reason: /now \(2026-03-10 22:05 UTC\) is inside the planned window 2026-03-10 22:00 UTC – 2026-03-10 23:30 UTC/ },
  { gate: 'implement.window', name: 'within the grace', at: '2026-03-10T21:50:00Z', ci: [], mc: mirrored(), result: 'pass', reason: /inside the planned window/ },
  { gate: 'implement.window', name: 'too early', at: '2026-03-10T20:00:00Z', ci: [], mc: mirrored(), result: 'fail', reason: /^planned start 2026-03-10 22:00 UTC is 2 h away; implementation may begin 15 min before it$/ },
  { gate: 'implement.window', name: 'too late', at: '2026-03-11T02:00:00Z', ci: [], mc: mirrored(), result: 'fail', reason: /planned window 2026-03-10 22:00 UTC – 2026-03-10 23:30 UTC ended 2 h 30 min ago/ },
  { gate: 'implement.freeze', name: 'inside a freeze', calendar: freeze, ci: [], mc: mirrored(), result: 'fail', reason: /now is inside freeze "Quarter close"/ },
  { gate: 'implement.freeze', name: 'emergency inside a freeze', calendar: freeze, ci: [], mc: mirrored({ type: 'emergency' }), result: 'pass', reason: /emergency changes are exempt from freeze windows \(inside "Quarter close"/ },
  { gate: 'implement.freeze', name: 'freeze on another service', calendar: billingFreeze, ci: [], mc: mirrored(), result: 'pass', reason: /no freeze window is in force/ },
  { gate: 'implement.ci-green', name: 'green', ci: ready, mc: mirrored(), result: 'pass', reason: /latest CI run for 9fceb02 at 2026-03-09 \d\d:\d\d UTC is green/ },
  { gate: 'implement.ci-green', name: 'red after green', ci: [...ready, ciEvent({ status: 'failure', startedAt: '2026-03-10T12:00:00Z', finishedAt: '2026-03-10T12:05:00Z' })], mc: mirrored(), result: 'fail', reason: /latest CI run for 9fceb02 at 2026-03-10 12:05 UTC failed/ },
  { gate: 'implement.ci-green', name: 'still running', ci: [ciEvent({ status: 'running', finishedAt: null })], mc: mirrored(), result: 'pending', reason: /still running/ },
  { gate: 'implement.ci-green', name: 'no run', ci: [], mc: mirrored(), result: 'pending', reason: /^waiting for a CI run of commit 9fceb02$/ },
  { gate: 'implement.ci-green', name: 'runs for another commit only', ci: readinessEvents('0123456789abcdef0123456789abcdef01234567'), mc: mirrored(), result: 'pending', reason: /waiting for a CI run of commit/ },
  { gate: 'implement.ci-green', name: 'abbreviated sha in the event', ci: [ciEvent({ commit: '9fceb02' })], mc: mirrored(), result: 'pass', reason: /is green/ },
  { gate: 'implement.ci-green', name: 'run reported after now', at: '2026-03-09T07:00:00Z', ci: ready, mc: mirrored(), result: 'pending', reason: /waiting for a CI run of commit/ },
  // No commit field (JSM's default): the commit of the runs correlated with the change is judged.
  { gate: 'implement.ci-green', name: 'no commit linked, correlated runs', ci: ready, mc: mirrored({ links: { repos: [], commits: [], artifacts: [], pipelines: [] } }), result: 'pass', reason: /latest CI run for 9fceb02 .* is green/ },
  { gate: 'implement.ci-green', name: 'no commit linked, no run yet', ci: [], mc: mirrored({ links: { repos: [], commits: [], artifacts: [], pipelines: [] } }), result: 'pending', reason: /^waiting for a CI run of a commit for this change/ },
  { gate: 'implement.tests', name: 'all passed', ci: ready, mc: mirrored(), result: 'pass', reason: /latest test run for 9fceb02: 60 passed, 0 failed, 0 skipped/ },
  { gate: 'implement.tests', name: 'failures', ci: [...ready, ciEvent({ kind: 'test', startedAt: '2026-03-10T12:00:00Z', finishedAt: '2026-03-10T12:30:00Z', status: 'failure', tests: { passed: 57, failed: 3, skipped: 0 } })], mc: mirrored(), result: 'fail', reason: /^3 tests failed in the latest run for 9fceb02 \(57 passed, 3 failed, 0 skipped\)$/ },
  { gate: 'implement.tests', name: 'no results', ci: [ciEvent()], mc: mirrored(), result: 'pending', reason: /no test results reported yet for commit 9fceb02/ },
  { gate: 'implement.scan', name: 'clean', ci: ready, mc: mirrored(), result: 'pass', reason: /security scan for 9fceb02: no critical or high finding open/ },
  { gate: 'implement.scan', name: 'critical and high open', ci: [ciEvent({ kind: 'scan', status: 'failure', findings: { critical: 2, high: 1, low: 4 } })], mc: mirrored(), result: 'fail', reason: /security scan for 9fceb02 reports 2 critical and 1 high findings open/ },
  { gate: 'implement.scan', name: 'no scan', ci: [ciEvent()], mc: mirrored(), result: 'pending', reason: /no security scan seen yet for commit 9fceb02/ },
  { gate: 'implement.lower-environments', name: 'SIT → UAT → Pre-Prod', ci: ready, mc: mirrored(), result: 'pass', reason: /9fceb02 deployed and verified in SIT → UAT → Pre-Prod, in order/ },
  { gate: 'implement.lower-environments', name: 'Pre-Prod missing', ci: without('Pre-Prod'), mc: mirrored(), result: 'pending', reason: /^9fceb02 is not yet deployed to Pre-Prod$/ },
  {
    gate: 'implement.lower-environments',
    name: 'UAT before SIT',
    ci: [...without('SIT'), ciEvent({ kind: 'deploy', environment: 'sit', startedAt: '2026-03-09T12:30:00Z', finishedAt: '2026-03-09T12:40:00Z', verified: true })],
    mc: mirrored(),
    result: 'fail',
    reason: /9fceb02 reached UAT \(2026-03-09 11:10 UTC\) before SIT \(2026-03-09 12:40 UTC\); promotion order is SIT → UAT → Pre-Prod/,
  },
  { gate: 'implement.lower-environments', name: 'UAT deploy failed', ci: [...without('UAT'), ciEvent({ kind: 'deploy', environment: 'UAT', status: 'failure', startedAt: '2026-03-09T11:00:00Z', finishedAt: '2026-03-09T11:05:00Z' })], mc: mirrored(), result: 'fail', reason: /deploy of 9fceb02 to UAT failed at 2026-03-09 11:05 UTC/ },
  { gate: 'implement.lower-environments', name: 'deployed, never verified', ci: ready.filter((e) => !(e.kind === 'test' && e.environment === 'UAT')), mc: mirrored(), result: 'pending', reason: /deployed to UAT but not verified there/ },
  { gate: 'implement.lower-environments', name: 'verified by the source', ci: [...ready.filter((e) => e.environment !== 'UAT'), ciEvent({ kind: 'deploy', environment: 'UAT', verified: true, startedAt: '2026-03-09T11:00:00Z', finishedAt: '2026-03-09T11:10:00Z' })], mc: mirrored(), result: 'pass', reason: /deployed and verified/ },
  { gate: 'review.production-deploy', name: 'deployed', at: '2026-03-10T23:00:00Z', ci: [...ready, prodDeploy()], mc: mirrored(), result: 'pass', reason: /^9fceb02 deployed to production at 2026-03-10 22:20 UTC$/ },
  { gate: 'review.production-deploy', name: 'deploy failed', at: '2026-03-10T23:00:00Z', ci: [prodDeploy({ status: 'failure' })], mc: mirrored(), result: 'fail', reason: /production deploy of 9fceb02 failed/ },
  { gate: 'review.production-deploy', name: 'no deploy', ci: ready, mc: mirrored(), result: 'pending', reason: /no production deploy of 9fceb02 seen yet/ },
  { gate: 'review.smoke-test', name: 'smoke passed', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke()], mc: mirrored(), result: 'pass', reason: /smoke test "smoke" passed in production at 2026-03-10 22:25 UTC/ },
  { gate: 'review.smoke-test', name: 'smoke failed', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke({ status: 'failure', tests: { passed: 10, failed: 2, skipped: 0 } })], mc: mirrored(), result: 'fail', reason: /smoke test "smoke" in production failed \(2 tests failed\)/ },
  { gate: 'review.smoke-test', name: 'test before the deploy', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke({ startedAt: '2026-03-10T21:00:00Z', finishedAt: '2026-03-10T21:05:00Z' })], mc: mirrored(), result: 'pending', reason: /no smoke test result in production since the deploy at 2026-03-10 22:20 UTC/ },
  { gate: 'review.smoke-test', name: 'no production deploy', ci: ready, mc: mirrored(), result: 'pending', reason: /no production deploy of 9fceb02 yet/ },
  // Edges found by mutation testing (docs/mutation-testing.md): each row is a verdict a one-character change flipped unnoticed.
  { gate: 'implement.window', name: 'exactly at the grace before the start', at: '2026-03-10T21:45:00Z', ci: [], mc: mirrored(), result: 'pass', reason: /inside the planned window/ },
  { gate: 'implement.window', name: 'exactly at the grace after the end', at: '2026-03-10T23:45:00Z', ci: [], mc: mirrored(), result: 'pass', reason: /inside the planned window/ },
  { gate: 'implement.window', name: 'no planned start', ci: [], mc: mirrored({ plannedStart: null }), result: 'fail', reason: /planned start/ },
  { gate: 'implement.freeze', name: 'emergency, no freeze in force', ci: [], mc: mirrored({ type: 'emergency' }), result: 'pass', reason: /^emergency changes are exempt from freeze windows$/ },
  { gate: 'implement.tests', name: 'a later build without test counts', ci: [...ready, ciEvent({ kind: 'build', startedAt: '2026-03-10T12:00:00Z', finishedAt: '2026-03-10T12:05:00Z' })], mc: mirrored(), result: 'pass', reason: /60 passed, 0 failed/ },
  { gate: 'implement.scan', name: 'scan still running', ci: [ciEvent({ kind: 'scan', status: 'running', finishedAt: null })], mc: mirrored(), result: 'pending', reason: /^security scan for 9fceb02 is still running$/ },
  { gate: 'implement.scan', name: 'scan queued', ci: [ciEvent({ kind: 'scan', status: 'queued', finishedAt: null })], mc: mirrored(), result: 'pending', reason: /is still queued/ },
  { gate: 'implement.scan', name: 'passed without findings', ci: [ciEvent({ kind: 'scan', status: 'success', findings: null })], mc: mirrored(), result: 'pass', reason: /^security scan for 9fceb02 passed and reports no findings$/ },
  { gate: 'implement.scan', name: 'failed without findings', ci: [ciEvent({ kind: 'scan', status: 'failure', findings: null })], mc: mirrored(), result: 'fail', reason: /^security scan for 9fceb02 failure without reporting findings$/ },
  { gate: 'implement.scan', name: 'one critical', ci: [ciEvent({ kind: 'scan', status: 'failure', findings: { critical: 1, high: 0 } })], mc: mirrored(), result: 'fail', reason: /^security scan for 9fceb02 reports 1 critical finding open$/ },
  { gate: 'implement.scan', name: 'two criticals', ci: [ciEvent({ kind: 'scan', status: 'failure', findings: { critical: 2 } })], mc: mirrored(), result: 'fail', reason: /reports 2 critical findings open$/ },
  { gate: 'implement.lower-environments', name: 'UAT deploy still running', ci: [...without('UAT'), ciEvent({ kind: 'deploy', environment: 'UAT', status: 'running', startedAt: '2026-03-09T11:00:00Z', finishedAt: null })], mc: mirrored(), result: 'pending', reason: /^9fceb02 is not yet deployed to UAT$/ },
  { gate: 'review.production-deploy', name: 'deploy running', at: '2026-03-10T23:00:00Z', ci: [prodDeploy({ status: 'running', finishedAt: null })], mc: mirrored(), result: 'pending', reason: /^production deploy of 9fceb02 is running$/ },
  { gate: 'review.smoke-test', name: 'smoke running', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke({ status: 'running', finishedAt: null, tests: null })], mc: mirrored(), result: 'pending', reason: /in production is still running$/ },
  { gate: 'review.smoke-test', name: 'smoke green status but failed tests', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke({ tests: { passed: 11, failed: 1, skipped: 0 } })], mc: mirrored(), result: 'fail', reason: /failed \(1 test failed\)/ },
  { gate: 'review.smoke-test', name: 'smoke failed without counts', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke({ status: 'failure', tests: null })], mc: mirrored(), result: 'fail', reason: /^smoke test "smoke" in production failure at 2026-03-10 22:25 UTC$/ },
  { gate: 'review.smoke-test', name: 'smoke at the deploy instant', at: '2026-03-10T23:00:00Z', ci: [prodDeploy(), smoke({ startedAt: '2026-03-10T22:15:00Z', finishedAt: '2026-03-10T22:20:00Z' })], mc: mirrored(), result: 'pass', reason: /passed in production/ },
] as const;

describe('gates into implement and review', () => {
  it.each(cases)('$gate: $name → $result', (c) => {
    const ctx = context('at' in c ? c.at : IN_WINDOW, { events: { ci: [...c.ci], monitor: [] }, ...('calendar' in c ? { calendar: c.calendar } : {}) });
    const result = gate(c.gate, c.mc, ctx);
    expect(result.result).toBe(c.result);
    expect(result.reason).toMatch(c.reason);
  });

  it('cites the CI runs it judged', () => {
    const result = gate('implement.scan', mirrored(), context(IN_WINDOW, { events: { ci: ready, monitor: [] } }));
    const scan = ready.find((e) => e.kind === 'scan');
    expect(result.evidence).toEqual([expect.objectContaining({ kind: 'ci', ref: scan?.id, url: scan?.url })]);
  });
});
