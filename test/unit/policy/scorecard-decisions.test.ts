// The CAB scorecard at its edges: a risk level exactly at the accepted maximum,
// an unknown level, a failed CI run that a later unfinished run must not hide,
// test counts a later build without counts must not erase, and the texts a CAB
// reads when services or groups have no display name.

import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/domain/change.ts';
import { assessRisk, DEFAULT_RISK_MATRIX } from '../../../src/policy/risk.ts';
import { scorecard, type ScorecardInput } from '../../../src/policy/scorecard.ts';
import { buildChange } from '../../support/change-builder.ts';
import { ciEvent, readinessEvents, WATCHED } from './policy-fixtures.ts';

const NOW = Date.parse('2026-03-10T12:00:00Z');

function card(change: Change = buildChange(), overrides: Partial<ScorecardInput> = {}) {
  const found = scorecard({ change, risk: assessRisk(change, DEFAULT_RISK_MATRIX), ci: readinessEvents(), monitor: [], watch: WATCHED, now: NOW, maxRiskLevel: 'high', placeholders: ['n/a'], ...overrides });
  return { ...found, criterion: (id: string) => found.criteria.find((c) => c.id === id) };
}

describe('risk criterion', () => {
  it('accepts a risk exactly at the level the policy accepts, and fails one above it', () => {
    expect(card(buildChange({ risk: { impact: 'high', probability: 'high', level: null } })).criterion('risk')?.result).toBe('pass');
    expect(card(buildChange({ risk: { impact: 'high', probability: 'high', level: null } }), { maxRiskLevel: 'medium' }).criterion('risk')?.result).toBe('fail');
  });

  it('is unknown, not pass, when no level is known', () => {
    const found = card(buildChange({ risk: { impact: null, probability: null, level: null } }));
    expect(found.criterion('risk')?.result).toBe('unknown');
    expect(found.recommendation).toBe('Conditional Go');
  });
});

describe('testing criterion', () => {
  it('is unknown when a test plan exists but no commit is linked and no CI run was correlated', () => {
    const change = buildChange({ links: { repos: [], commits: [], artifacts: [], pipelines: [] } });
    expect(card(change, { ci: [] }).criterion('testing')).toMatchObject({ result: 'unknown', reason: 'a test plan exists but no commit is linked, so there are no test results' });
  });

  it('keeps a failed run as the verdict while a later run is still going', () => {
    const failed = ciEvent({ kind: 'build', status: 'failure', startedAt: '2026-03-10T09:00:00Z', finishedAt: '2026-03-10T09:05:00Z' });
    const running = ciEvent({ kind: 'build', status: 'running', startedAt: '2026-03-10T10:00:00Z', finishedAt: null });
    const found = card(buildChange(), { ci: [...readinessEvents(), failed, running] });
    expect(found.criterion('testing')).toMatchObject({ result: 'fail', reason: 'the latest CI run for 9fceb02 failed' });
    expect(found.recommendation).toBe('No-Go');
  });

  it('keeps the latest test counts when a later build reports none', () => {
    const build = ciEvent({ kind: 'build', status: 'success', startedAt: '2026-03-10T10:00:00Z', finishedAt: '2026-03-10T10:05:00Z' });
    expect(card(buildChange(), { ci: [...readinessEvents(), build] }).criterion('testing')).toMatchObject({ result: 'pass', reason: '60 tests passed, none failed, for 9fceb02' });
  });
});

describe('business impact and operational readiness', () => {
  it('fails business impact when neither a service nor a CI is named', () => {
    const found = card(buildChange({ services: [], cis: [] }));
    expect(found.criterion('businessImpact')).toMatchObject({ result: 'fail', reason: 'no affected service or CI is named, so the impact of a failure is unknown' });
  });

  it('names services and groups by id when they have no display name', () => {
    const found = card(buildChange({ services: [{ id: 'svc-9', name: null }], cis: [], assignmentGroup: { id: 'grp-3', name: null } }));
    expect(found.criterion('businessImpact')?.reason).toMatch(/ impact on svc-9$/);
    expect(found.criterion('operational')?.reason).toBe('grp-3 supports the change and no critical or high alert is firing');
  });
});
