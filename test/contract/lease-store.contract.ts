// The LeaseStore contract: one holder per connector instance at a time, a
// holder that dies frees it within the time-to-live, and every acquisition
// carries a fence greater than the last, so a write made under a lease that
// was lost is refused. Each adapter's factory is run through this suite by
// test/contract/store-adapters.test.ts.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Lease, LeaseStore } from '../../src/store/lease-store.ts';

const T0 = new Date('2026-03-02T09:00:00Z');
const later = (ms: number): Date => new Date(T0.getTime() + ms);
const TTL = 30_000;

function taken(lease: Lease | null): Lease {
  if (lease === null) throw new Error('lease not taken');
  return lease;
}

/** `open` must return a new, empty lease store each time; the suite closes it after each test. */
export function describeLeaseStoreContract(name: string, open: () => Promise<LeaseStore>): void {
  describe(`LeaseStore contract: ${name}`, () => {
    let leases: LeaseStore;
    beforeEach(async () => {
      leases = await open();
    });
    afterEach(async () => {
      await leases.close();
    });

    it('gives an instance to one holder at a time, and keeps instances apart', async () => {
      const held = taken(await leases.acquire('sn-prod', 'replica-1', TTL, T0));
      expect(held).toMatchObject({ instance: 'sn-prod', holder: 'replica-1', fence: 1, expiresAt: later(TTL).toISOString() });
      expect(await leases.acquire('sn-prod', 'replica-2', TTL, later(1000))).toBeNull();
      expect(await leases.acquire('jsm-cloud', 'replica-2', TTL, later(1000))).toMatchObject({ instance: 'jsm-cloud', holder: 'replica-2' });
      expect(await leases.current('sn-prod', later(1000))).toMatchObject({ holder: 'replica-1', token: held.token, fence: 1 });
    });

    it('lets exactly one of many simultaneous takers have it, for a free and for a lapsed lease alike', async () => {
      const first = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((holder) => leases.acquire('sn-prod', holder, TTL, T0)));
      expect(first.filter((l) => l !== null)).toHaveLength(1);
      const second = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((holder) => leases.acquire('sn-prod', holder, TTL, later(TTL))));
      expect(second.filter((l) => l !== null).map((l) => l?.fence)).toEqual([2]);
    });

    it('hands a dead holder\'s instance to the next taker once the lease lapses, with a greater fence, and refuses the old fence', async () => {
      const dead = taken(await leases.acquire('sn-prod', 'replica-1', TTL, T0));
      expect(await leases.isCurrent('sn-prod', dead.fence, later(TTL - 1))).toBe(true);
      expect(await leases.acquire('sn-prod', 'replica-2', TTL, later(TTL - 1))).toBeNull();
      const next = taken(await leases.acquire('sn-prod', 'replica-2', TTL, later(TTL)));
      expect(next.fence).toBeGreaterThan(dead.fence);
      // The paused holder wakes up: its renewal fails and a write under its fence is refused.
      expect(await leases.renew(dead, TTL, later(TTL + 1))).toBeNull();
      expect(await leases.isCurrent('sn-prod', dead.fence, later(TTL + 1))).toBe(false);
      expect(await leases.isCurrent('sn-prod', next.fence, later(TTL + 1))).toBe(true);
      expect(await leases.release(dead)).toBe(false);
      expect(await leases.current('sn-prod', later(TTL + 2))).toMatchObject({ holder: 'replica-2', fence: next.fence });
    });

    it('renews from the time of renewal with the same fence, and refuses a lapsed lease even if nobody took it', async () => {
      const held = taken(await leases.acquire('sn-prod', 'replica-1', TTL, T0));
      const renewed = taken(await leases.renew(held, TTL, later(TTL - 1000)));
      expect(renewed).toMatchObject({ token: held.token, fence: held.fence, expiresAt: later(2 * TTL - 1000).toISOString() });
      expect(await leases.acquire('sn-prod', 'replica-2', TTL, later(TTL + 1000))).toBeNull();
      expect(await leases.renew(held, TTL, later(2 * TTL))).toBeNull();
      expect(await leases.isCurrent('sn-prod', held.fence, later(2 * TTL))).toBe(false);
    });

    it('frees an instance on release, once; the next acquisition gets a greater fence', async () => {
      const first = taken(await leases.acquire('sn-prod', 'replica-1', TTL, T0));
      expect(await leases.release(first)).toBe(true);
      expect(await leases.release(first)).toBe(false);
      expect(await leases.current('sn-prod', later(1))).toBeNull();
      expect(await leases.isCurrent('sn-prod', first.fence, later(1))).toBe(false);
      const second = taken(await leases.acquire('sn-prod', 'replica-1', TTL, later(1)));
      expect(second.fence).toBeGreaterThan(first.fence);
      expect(await leases.renew(first, TTL, later(2))).toBeNull();
    });
  });
}
