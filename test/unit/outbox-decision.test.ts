// What the outbox worker does with a ticket write that failed: a config or input
// failure (a business rule, a missing transition, a gone ticket) is parked at
// once; anything else comes back later with backoff, never sooner than a second,
// until the attempts run out.

import { describe, expect, it } from 'vitest';
import { ChangegateError } from '../../src/errors.ts';
import { decideOutbox, OUTBOX_RETRY_POLICY } from '../../src/sync/outbox-worker.ts';

const policy = (random: number) => ({ ...OUTBOX_RETRY_POLICY, random: () => random });

describe('decideOutbox', () => {
  it('parks config and input failures at once, without calling it giving up', () => {
    expect(decideOutbox(new ChangegateError('CG_CONFIG_INVALID', 'x'), 1, policy(0.5))).toEqual({ action: 'fail', gaveUp: false });
    expect(decideOutbox(new ChangegateError('CG_INPUT_INVALID', 'x'), 1, policy(0.5))).toEqual({ action: 'fail', gaveUp: false });
  });

  it('retries transient, upstream and internal failures with a wait of at least a second', () => {
    for (const code of ['CG_UPSTREAM_UNAVAILABLE', 'CG_SN_BAD_RESPONSE', 'CG_INTERNAL'] as const) {
      expect(decideOutbox(new ChangegateError(code, 'x'), 1, policy(0))).toEqual({ action: 'retry', waitMs: 1000 });
    }
    expect(decideOutbox(new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'x'), 3, policy(0.5))).toEqual({ action: 'retry', waitMs: 10_000 });
  });

  it('waits at least as long as the ticket system asked before trying a throttled write again', () => {
    const throttled = new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'x', { details: { status: 429, retryAfterMs: 120_000 } });
    expect(decideOutbox(throttled, 1, policy(0.5))).toEqual({ action: 'retry', waitMs: 120_000 });
    // A longer backoff still wins over a short ask.
    const brief = new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'x', { details: { status: 429, retryAfterMs: 2_000 } });
    expect(decideOutbox(brief, 3, policy(0.5))).toEqual({ action: 'retry', waitMs: 10_000 });
  });

  it('gives up on the last attempt the policy allows, not one before', () => {
    const transient = new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'x');
    expect(decideOutbox(transient, OUTBOX_RETRY_POLICY.maxAttempts - 1, policy(0.5)).action).toBe('retry');
    expect(decideOutbox(transient, OUTBOX_RETRY_POLICY.maxAttempts, policy(0.5))).toEqual({ action: 'fail', gaveUp: true });
  });
});
