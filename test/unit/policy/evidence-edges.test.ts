// Evidence matching at its edges: which commit a CI event is about, which test
// run verifies a deploy, which alerts are firing on the change's services, and
// the texts that explain risk and an unusable planned window. Found by mutation
// testing (docs/mutation-testing.md): each case is one a changed character let through.

import { describe, expect, it } from 'vitest';
import { assessRisk, DEFAULT_RISK_MATRIX, describeRisk } from '../../../src/policy/risk.ts';
import { sameCommit } from '../../../src/domain/commit-sha.ts';
import { commitEvents, EVENT_CLOCK_SKEW_MS, firingOn, linkedCommit, verificationAfter } from '../../../src/policy/evidence.ts';
import { plannedWindow } from '../../../src/policy/gates/gate.ts';
import { reachableStates } from '../../../src/policy/lifecycle.ts';
import { compileCustomRule, runCustomRule } from '../../../src/policy/custom-rules.ts';
import { buildChange } from '../../support/change-builder.ts';
import { ciEvent, COMMIT, monitorEvent } from './policy-fixtures.ts';

const ms = (text: string) => Date.parse(text);
const uatTest = (o: Parameters<typeof ciEvent>[0]) => ciEvent({ kind: 'test', environment: 'UAT', startedAt: '2026-03-09T11:10:00Z', finishedAt: '2026-03-09T11:10:00Z', tests: { passed: 5, failed: 0, skipped: 0 }, ...o });

describe('which commit an event is about', () => {
  it('matches full and abbreviated shas in any case and with stray spaces, from seven characters on', () => {
    expect(sameCommit(COMMIT, '9FCEB02')).toBe(true);
    expect(sameCommit(` ${COMMIT} `, '9fceb02d0ae5')).toBe(true);
    expect(sameCommit('9fceb02', COMMIT)).toBe(true);
    expect(sameCommit(COMMIT, '9fceb0')).toBe(false);
    expect(sameCommit(COMMIT, 'e598e95dc970b74767f19372d61af8')).toBe(false); // a suffix is not an abbreviation
    expect(sameCommit('', '')).toBe(false);
    expect(sameCommit('  ', '')).toBe(false);
  });

  it('judges the last linked commit that is not blank', () => {
    expect(linkedCommit(buildChange({ links: { repos: [], commits: ['abc1234', '  '], artifacts: [], pipelines: [] } }))).toBe('abc1234');
    expect(linkedCommit(buildChange({ links: { repos: [], commits: [' '], artifacts: [], pipelines: [] } }))).toBeNull();
  });

  it('counts an event that started exactly now, and ignores events without a commit', () => {
    const now = ms('2026-03-10T12:00:00Z');
    const starting = ciEvent({ startedAt: '2026-03-10T12:00:00Z', finishedAt: null });
    expect(commitEvents([starting, ciEvent({ commit: null })], COMMIT, now)).toEqual([starting]);
  });
});

describe('which test run verifies a deploy', () => {
  const deploy = ciEvent({ kind: 'deploy', environment: 'UAT', startedAt: '2026-03-09T11:00:00Z', finishedAt: '2026-03-09T11:10:00Z' });
  const now = ms('2026-03-10T00:00:00Z');

  it('accepts a green run finishing at the deploy instant or after, with no failed test', () => {
    const green = uatTest({});
    expect(verificationAfter([deploy, green], deploy, ['UAT'], now)).toBe(green);
    const noCounts = uatTest({ tests: null });
    expect(verificationAfter([deploy, noCounts], deploy, ['UAT'], now)).toBe(noCounts);
  });

  it('refuses a failed run, a green status with failed tests, and a run from before the deploy', () => {
    expect(verificationAfter([deploy, uatTest({ status: 'failure' })], deploy, ['UAT'], now)).toBeNull();
    expect(verificationAfter([deploy, uatTest({ tests: { passed: 4, failed: 1, skipped: 0 } })], deploy, ['UAT'], now)).toBeNull();
    expect(verificationAfter([deploy, uatTest({ startedAt: '2026-03-09T10:00:00Z', finishedAt: '2026-03-09T11:09:59Z' })], deploy, ['UAT'], now)).toBeNull();
  });
});

describe('which alerts are firing on the change', () => {
  const change = buildChange();
  const at = ms('2026-03-11T02:00:00Z');

  it('ignores alerts that start after now beyond the clock skew allowed, and takes one on any of the alert\'s targets', () => {
    expect(firingOn(change, [monitorEvent({ startsAt: new Date(at + EVENT_CLOCK_SKEW_MS + 1).toISOString() })], ['critical'], at)).toEqual([]);
    expect(firingOn(change, [monitorEvent({ startsAt: new Date(at + EVENT_CLOCK_SKEW_MS).toISOString() })], ['critical'], at)).toHaveLength(1);
    const labelled = monitorEvent({ service: 'Checkout', labels: { app: ' pay-gw-cluster-01 ' } });
    expect(firingOn(change, [labelled], ['critical'], at)).toEqual([labelled]);
  });

  it('keeps the latest state per fingerprint: resolved after firing is not firing', () => {
    const resolved = monitorEvent({ id: 'r', status: 'resolved', endsAt: '2026-03-11T01:30:00Z' });
    expect(firingOn(change, [monitorEvent(), resolved], ['critical'], at)).toEqual([]);
    expect(firingOn(change, [resolved, monitorEvent()], ['critical'], at)).toEqual([]);
    const refired = monitorEvent({ id: 'again', startsAt: '2026-03-11T01:45:00Z' });
    expect(firingOn(change, [monitorEvent(), resolved, refired], ['critical'], at)).toEqual([refired]);
  });

  it('leaves out unrated alerts and lists the most severe first', () => {
    const high = monitorEvent({ id: 'h', fingerprint: 'fp-h', severity: 'high' });
    const critical = monitorEvent({ id: 'c', fingerprint: 'fp-c', severity: 'critical' });
    const unrated = monitorEvent({ id: 'u', fingerprint: 'fp-u', severity: null });
    expect(firingOn(change, [high, unrated, critical], ['critical', 'high'], at).map((e) => e.id)).toEqual(['c', 'h']);
  });
});

describe('texts that explain', () => {
  it('says when the ticket states another risk level than the matrix gives', () => {
    const stated = assessRisk(buildChange({ risk: { impact: 'high', probability: 'high', level: 'low' } }), DEFAULT_RISK_MATRIX);
    expect(describeRisk(stated)).toBe('impact high × probability high gives high risk (score 9 of 16); the ticket states low, the matrix level is used');
    const same = assessRisk(buildChange({ risk: { impact: 'high', probability: 'high', level: 'high' } }), DEFAULT_RISK_MATRIX);
    expect(describeRisk(same)).toBe('impact high × probability high gives high risk (score 9 of 16)');
  });

  it('names what is wrong with a planned window', () => {
    expect(plannedWindow(buildChange({ plannedStart: null, plannedEnd: null }))).toEqual({ problem: 'planned start and planned end are not set' });
    expect(plannedWindow(buildChange({ plannedEnd: 'soon' }))).toEqual({ problem: 'planned start or end is not a valid date' });
    expect(plannedWindow(buildChange({ plannedStart: 'soon' }))).toEqual({ problem: 'planned start or end is not a valid date' });
  });
});

describe('lifecycle and custom rules', () => {
  it('reaches every state of the normal lifecycle from new, and not the skipped ones for a standard change', () => {
    expect(reachableStates('normal').toSorted()).toEqual(['assess', 'authorize', 'canceled', 'closed', 'failed', 'implement', 'new', 'review', 'scheduled']);
    expect(reachableStates('standard').toSorted()).toEqual(['canceled', 'closed', 'failed', 'implement', 'new', 'review', 'scheduled']);
  });

  it('fails a rule whose expression yields something other than a bool at run time', () => {
    const compiled = compileCustomRule({ id: 'custom.dyn', into: 'implement', expr: 'change.custom.u_flag', message: 'flag must be set' });
    if (!('rule' in compiled)) throw new Error(compiled.error);
    const verdict = runCustomRule(compiled.rule, { change: { custom: { u_flag: 'yes' } }, events: { ci: [], monitor: [] }, now: new Date(0) } as never);
    expect(verdict).toEqual({ result: 'fail', reason: 'flag must be set (rule custom.dyn could not be evaluated: expression yielded string, not a bool)' });
  });
});
