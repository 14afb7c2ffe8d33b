import { describe, expect, it } from 'vitest';
import { backoffMs, classify, parseWait, type Decision, type Outcome, type RetryPolicy } from '../../src/http/retry-classifier.ts';

const NOW = Date.parse('2026-03-12T10:00:00Z');
const policy: RetryPolicy = { baseMs: 100, maxMs: 1_000, maxAttempts: 4, maxWaitMs: 60_000, random: () => 0.5, now: () => NOW };

const res = (status: number, headers: Record<string, string> = {}): Outcome => ({ kind: 'response', status, headers });
const net = (code: string): Outcome => ({ kind: 'network', code });

describe('classify', () => {
  const cases: Array<{ name: string; outcome: Outcome; attempt: number; refreshed?: boolean; expected: Partial<Decision> }> = [
    { name: '429 with Retry-After seconds waits that long', outcome: res(429, { 'Retry-After': '7' }), attempt: 1, expected: { action: 'retry', waitMs: 7_000 } },
    {
      name: '429 with Retry-After HTTP date waits until then',
      outcome: res(429, { 'retry-after': 'Thu, 12 Mar 2026 10:00:30 GMT' }),
      attempt: 1,
      expected: { action: 'retry', waitMs: 30_000 },
    },
    {
      name: '429 with ServiceNow X-RateLimit-Reset epoch seconds',
      outcome: res(429, { 'X-RateLimit-Reset': String(NOW / 1000 + 12), 'X-RateLimit-Rule': 'abc123' }),
      attempt: 2,
      expected: { action: 'retry', waitMs: 12_000 },
    },
    {
      name: '429 with Atlassian ISO X-RateLimit-Reset',
      outcome: res(429, { 'X-RateLimit-Reset': '2026-03-12T10:00:05.000Z', 'RateLimit-Reason': 'jira-burst-based' }),
      attempt: 1,
      expected: { action: 'retry', waitMs: 5_000 },
    },
    { name: 'Retry-After wins over X-RateLimit-Reset', outcome: res(429, { 'Retry-After': '2', 'X-RateLimit-Reset': String(NOW / 1000 + 50) }), attempt: 1, expected: { action: 'retry', waitMs: 2_000 } },
    { name: 'RateLimit-Reset delta seconds', outcome: res(429, { 'RateLimit-Reset': '3' }), attempt: 1, expected: { action: 'retry', waitMs: 3_000 } },
    { name: 'a reset already past means no wait', outcome: res(429, { 'X-RateLimit-Reset': String(NOW / 1000 - 5) }), attempt: 1, expected: { action: 'retry', waitMs: 0 } },
    { name: 'unreadable Retry-After falls back to backoff', outcome: res(429, { 'Retry-After': 'soon' }), attempt: 1, expected: { action: 'retry', waitMs: 50 } },
    { name: '429 without headers backs off (attempt 1: half of 100)', outcome: res(429), attempt: 1, expected: { action: 'retry', waitMs: 50 } },
    { name: '503 honours Retry-After', outcome: res(503, { 'Retry-After': '1' }), attempt: 1, expected: { action: 'retry', waitMs: 1_000 } },
    { name: 'X-RateLimit-Reset on a 500 is not a wait instruction', outcome: res(500, { 'X-RateLimit-Reset': String(NOW / 1000 + 50) }), attempt: 3, expected: { action: 'retry', waitMs: 200 } },
    { name: '502 retries with backoff', outcome: res(502), attempt: 2, expected: { action: 'retry', waitMs: 100 } },
    { name: '504 retries', outcome: res(504), attempt: 1, expected: { action: 'retry' } },
    { name: 'a wait past the cap fails as transient', outcome: res(429, { 'Retry-After': '3600' }), attempt: 1, expected: { action: 'fail', kind: 'transient' } },
    { name: 'last attempt fails as transient', outcome: res(503), attempt: 4, expected: { action: 'fail', kind: 'transient' } },
    { name: '401 asks for a credential refresh', outcome: res(401), attempt: 1, expected: { action: 'refreshAuth' } },
    { name: '401 after a refresh fails as config', outcome: res(401), attempt: 2, refreshed: true, expected: { action: 'fail', kind: 'config' } },
    { name: '403 fails as config', outcome: res(403), attempt: 1, expected: { action: 'fail', kind: 'config' } },
    { name: 'GitHub secondary limit: 403 with Retry-After waits it out', outcome: res(403, { 'Retry-After': '4' }), attempt: 1, expected: { action: 'retry', waitMs: 4_000 } },
    { name: 'GitHub primary limit: 403 with X-RateLimit-Remaining 0 waits for the reset', outcome: res(403, { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(NOW / 1000 + 7) }), attempt: 1, expected: { action: 'retry', waitMs: 7_000 } },
    { name: 'a 403 with quota left is a rejection, reset header or not', outcome: res(403, { 'X-RateLimit-Remaining': '4999', 'X-RateLimit-Reset': String(NOW / 1000 + 7) }), attempt: 1, expected: { action: 'fail', kind: 'config' } },
    { name: 'a 403 limit resetting in an hour is left to the next run', outcome: res(403, { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(NOW / 1000 + 3600) }), attempt: 1, expected: { action: 'fail', kind: 'transient' } },
    { name: '404 fails as config', outcome: res(404), attempt: 1, expected: { action: 'fail', kind: 'config' } },
    { name: '400 fails as config even with Retry-After', outcome: res(400, { 'Retry-After': '1' }), attempt: 1, expected: { action: 'fail', kind: 'config' } },
    { name: '501 fails as upstream', outcome: res(501), attempt: 1, expected: { action: 'fail', kind: 'upstream' } },
    { name: 'ECONNRESET retries', outcome: net('ECONNRESET'), attempt: 1, expected: { action: 'retry', waitMs: 50 } },
    { name: 'ETIMEDOUT retries', outcome: net('ETIMEDOUT'), attempt: 2, expected: { action: 'retry', waitMs: 100 } },
    { name: 'EAI_AGAIN retries', outcome: net('EAI_AGAIN'), attempt: 1, expected: { action: 'retry' } },
    { name: 'ECONNREFUSED on the last attempt fails as transient', outcome: net('ECONNREFUSED'), attempt: 4, expected: { action: 'fail', kind: 'transient' } },
    { name: 'a TLS failure is not retried', outcome: net('CERT_HAS_EXPIRED'), attempt: 1, expected: { action: 'fail', kind: 'upstream' } },
  ];

  it.each(cases)('$name', ({ outcome, attempt, refreshed, expected }) => {
    const decision = classify(outcome, attempt, policy, { authRefreshed: refreshed ?? false });
    expect(decision).toMatchObject(expected);
  });

  it('names the throttle rule in the retry reason', () => {
    const decision = classify(res(429, { 'Retry-After': '1', 'RateLimit-Reason': 'jira-quota-global-based' }), 1, policy);
    expect(decision).toMatchObject({ action: 'retry', reason: expect.stringContaining('jira-quota-global-based') });
  });

  it('is deterministic for a given random source and spans the whole jitter window', () => {
    const low = { ...policy, random: () => 0 };
    const high = { ...policy, random: () => 0.999_999 };
    expect(classify(res(500), 2, low)).toEqual(classify(res(500), 2, low));
    expect(classify(res(500), 2, low)).toMatchObject({ waitMs: 0 });
    expect(classify(res(500), 2, high)).toMatchObject({ waitMs: 199 });
  });
});

describe('backoffMs', () => {
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000],
    [30, 1_000],
  ])('attempt %i has ceiling %i', (attempt, ceiling) => {
    expect(backoffMs(attempt, { ...policy, random: () => 0.999_999_9 })).toBe(ceiling - 1);
  });
});

describe('parseWait', () => {
  it.each([
    ['120', 'delta-or-date', 120_000],
    ['1.5', 'delta', 1_500],
    ['Thu, 12 Mar 2026 10:01:00 GMT', 'delta-or-date', 60_000],
    ['60', 'epoch-or-iso', 60_000],
    ['', 'delta', null],
    ['later', 'delta', null],
  ] as const)('%s as %s → %s', (value, format, expected) => {
    expect(parseWait(value, format, NOW)).toBe(expected);
  });
});
