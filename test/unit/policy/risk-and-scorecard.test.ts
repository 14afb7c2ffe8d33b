// Risk matrix (seed §3.1), release classification (seed §1.3) and the CAB
// scorecard (seed §7.3) with its recommendation.

import { describe, expect, it } from 'vitest';
import type { Level } from '../../../src/domain/change.ts';
import { assessRisk, classify, DEFAULT_RISK_MATRIX } from '../../../src/policy/risk.ts';
import { scorecard, type ScorecardInput } from '../../../src/policy/scorecard.ts';
import { buildChange } from '../../support/change-builder.ts';
import { ciEvent, DEFAULT_POLICY, monitorEvent, readinessEvents, WATCHED } from './policy-fixtures.ts';

const risk = (impact: Level | null, probability: Level | null, level: Level | null = null) => buildChange({ risk: { impact, probability, level } });

describe('risk matrix', () => {
  it.each([
    ['low', 'low', 'low', 1],
    ['medium', 'medium', 'medium', 4],
    ['high', 'low', 'medium', 3],
    ['high', 'high', 'high', 9],
    ['very_high', 'medium', 'high', 8],
    ['very_high', 'very_high', 'very_high', 16],
  ] as const)('impact %s × probability %s → %s (score %i)', (impact, probability, level, score) => {
    const r = assessRisk(risk(impact, probability, 'low'), DEFAULT_RISK_MATRIX);
    expect(r).toMatchObject({ level, score, cell: `${impact}×${probability}`, source: 'matrix', stated: 'low' });
  });

  it('falls back to the stated level when probability is unknown, and says so', () => {
    expect(assessRisk(risk('high', null, 'medium'), DEFAULT_RISK_MATRIX)).toMatchObject({ level: 'medium', score: null, cell: null, source: 'stated' });
    expect(assessRisk(risk(null, null, null), DEFAULT_RISK_MATRIX)).toMatchObject({ level: null, source: 'none' });
  });
});

describe('release classification', () => {
  const config = DEFAULT_POLICY.classification;
  it.each([
    ['emergency', 'low', 'low', null, 'emergency'],
    ['standard', 'very_high', 'very_high', null, 'minor'],
    ['normal', 'high', 'low', null, 'major'],
    ['normal', 'medium', 'very_high', null, 'major'], // matrix: high risk
    ['normal', 'medium', 'low', null, 'minor'],
    ['normal', null, null, 'low', 'minor'],
    ['normal', null, null, null, 'major'], // nothing known: the stricter control
  ] as const)('%s change, impact %s, probability %s, stated %s → %s', (type, impact, probability, level, expected) => {
    const change = buildChange({ type, risk: { impact, probability, level } });
    expect(classify(change, assessRisk(change, DEFAULT_RISK_MATRIX), config)).toBe(expected);
  });
});

const byId = (card: ReturnType<typeof scorecard>) => Object.fromEntries(card.criteria.map((c) => [c.id, c.result]));

describe('CAB scorecard', () => {
  const NOW = Date.parse('2026-03-10T12:00:00Z');
  const input = (overrides: Partial<ScorecardInput> = {}): ScorecardInput => {
    const change = overrides.change ?? buildChange();
    return { change, risk: assessRisk(change, DEFAULT_RISK_MATRIX), ci: readinessEvents(), monitor: [], watch: WATCHED, now: NOW, maxRiskLevel: 'high', placeholders: ['n/a'], ...overrides };
  };

  it('recommends Go when every criterion passes on evidence', () => {
    const card = scorecard(input());
    expect(byId(card)).toEqual({ risk: 'pass', testing: 'pass', businessImpact: 'pass', rollback: 'pass', operational: 'pass' });
    expect(card).toMatchObject({ recommendation: 'Go', conditions: [] });
    expect(card.criteria.find((c) => c.id === 'testing')?.evidence[0]).toMatchObject({ kind: 'ci' });
  });

  it('recommends No-Go when tests failed, naming the criterion and the failure', () => {
    const red = ciEvent({ kind: 'test', status: 'failure', startedAt: '2026-03-10T10:00:00Z', finishedAt: '2026-03-10T10:30:00Z', tests: { passed: 57, failed: 3, skipped: 0 } });
    const card = scorecard(input({ ci: [...readinessEvents(), red] }));
    expect(card.recommendation).toBe('No-Go');
    expect(card.conditions).toEqual(['Testing status: 3 tests failed in the latest run for 9fceb02']);
  });

  it('recommends No-Go for a risk above the accepted level and for a missing backout plan', () => {
    const hot = buildChange({ risk: { impact: 'very_high', probability: 'very_high', level: null }, plans: { implementation: 'x', backout: 'N/A', test: 'y' } });
    const card = scorecard(input({ change: hot, risk: assessRisk(hot, DEFAULT_RISK_MATRIX) }));
    expect(card.recommendation).toBe('No-Go');
    expect(card.conditions).toEqual([expect.stringMatching(/^Risk level: very high risk is above the high the policy accepts/), 'Rollback readiness: backout plan is empty']);
  });

  it('recommends Conditional Go when operations are not ready, listing the condition', () => {
    const card = scorecard(input({ monitor: [monitorEvent({ startsAt: '2026-03-10T11:00:00Z' })] }));
    expect(card.recommendation).toBe('Conditional Go');
    expect(card.conditions).toEqual([expect.stringMatching(/^Operational readiness: 1 critical or high alert\(s\) firing on the affected services, e.g. "HighErrorRate"/)]);
  });

  it('leaves operational readiness unknown while no monitoring watches the services, or it has gone quiet', () => {
    const blind = scorecard(input({ watch: undefined }));
    expect(blind.criteria.find((c) => c.id === 'operational')).toMatchObject({ result: 'unknown', reason: expect.stringMatching(/^no monitoring source covers Payments API/) });
    const quiet = scorecard(input({ watch: { covered: false, sources: ['am'], lastHeartbeat: null } }));
    expect(quiet.criteria.find((c) => c.id === 'operational')).toMatchObject({ result: 'unknown', reason: expect.stringContaining('(am) has never reported') });
    expect(blind.recommendation).not.toBe('Go');
  });

  it('treats missing evidence as unknown, never as pass', () => {
    const card = scorecard(input({ ci: [] }));
    expect(byId(card)['testing']).toBe('unknown');
    expect(card.recommendation).toBe('Conditional Go');
    expect(card.conditions).toEqual(['Testing status: to be confirmed (no test results reported yet for 9fceb02)']);
  });

  it('fails testing when there is neither a linked commit nor a test plan', () => {
    const bare = buildChange({ links: { repos: [], commits: [], artifacts: [], pipelines: [] }, plans: { implementation: 'x', backout: 'y', test: null } });
    const card = scorecard(input({ change: bare, risk: assessRisk(bare, DEFAULT_RISK_MATRIX), ci: [] }));
    expect(card.criteria.find((c) => c.id === 'testing')).toMatchObject({ result: 'fail', reason: 'test plan is empty and no commit links test results' });
    expect(card.recommendation).toBe('No-Go');
  });
});
