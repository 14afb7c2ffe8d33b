// The RunLocks contract: what every adapter (in-process, lease-backed) must do
// so two runs of one instance never overlap, and a holder that dies frees the
// instance once its lock lapses. Each adapter's factory is run through this
// suite by test/contract/store-adapters.test.ts.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunLocks } from '../../src/store/run-locks.ts';

const T0 = new Date('2026-03-02T09:00:00Z');
const later = (ms: number): Date => new Date(T0.getTime() + ms);
const TTL = 60_000;

/** `open` must return new, empty run locks each time; the suite closes them after each test. */
export function describeRunLocksContract(name: string, open: () => Promise<RunLocks>): void {
  describe(`RunLocks contract: ${name}`, () => {
    let locks: RunLocks;
    beforeEach(async () => {
      locks = await open();
    });
    afterEach(async () => {
      await locks.close();
    });

    it('gives an instance to one holder at a time, whoever asks second (the same owner included)', async () => {
      const held = await locks.acquire('sn-prod', 'serve-1', TTL, T0);
      expect(held).toMatchObject({ instance: 'sn-prod', owner: 'serve-1', expiresAt: later(TTL).toISOString() });
      expect(await locks.acquire('sn-prod', 'serve-2', TTL, later(1000))).toBeNull();
      expect(await locks.acquire('sn-prod', 'serve-1', TTL, later(1000))).toBeNull();
      expect(await locks.holder('sn-prod', later(1000))).toMatchObject({ owner: 'serve-1', token: held?.token });
    });

    it('keeps instances apart: holding one leaves the others free', async () => {
      expect(await locks.acquire('sn-prod', 'serve-1', TTL, T0)).not.toBeNull();
      expect(await locks.acquire('jsm-cloud', 'serve-1', TTL, T0)).toMatchObject({ instance: 'jsm-cloud' });
      expect(await locks.holder('sn-dev', T0)).toBeNull();
    });

    it('lets exactly one of many simultaneous takers have it', async () => {
      const tries = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((owner) => locks.acquire('sn-prod', owner, TTL, T0)));
      expect(tries.filter((t) => t !== null)).toHaveLength(1);
    });

    it('frees an instance on release, once: a second release or a stale token changes nothing', async () => {
      const first = await locks.acquire('sn-prod', 'serve-1', TTL, T0);
      if (first === null) throw new Error('lock not taken');
      expect(await locks.release(first)).toBe(true);
      expect(await locks.holder('sn-prod', T0)).toBeNull();
      const second = await locks.acquire('sn-prod', 'serve-2', TTL, later(1));
      expect(second?.token).not.toBe(first.token);
      expect(await locks.release(first)).toBe(false);
      expect(await locks.holder('sn-prod', later(2))).toMatchObject({ owner: 'serve-2' });
    });

    it('lets a lock lapse after its time-to-live, and the lapsed holder can neither renew nor release the next one', async () => {
      const crashed = await locks.acquire('sn-prod', 'serve-1', TTL, T0);
      if (crashed === null) throw new Error('lock not taken');
      expect(await locks.acquire('sn-prod', 'serve-2', TTL, later(TTL - 1))).toBeNull();
      const next = await locks.acquire('sn-prod', 'serve-2', TTL, later(TTL));
      expect(next).toMatchObject({ owner: 'serve-2', expiresAt: later(2 * TTL).toISOString() });
      expect(await locks.renew(crashed, TTL, later(TTL + 1))).toBeNull();
      expect(await locks.release(crashed)).toBe(false);
      expect(await locks.holder('sn-prod', later(TTL + 2))).toMatchObject({ owner: 'serve-2', token: next?.token });
    });

    it('extends a renewed lock from the time of renewal, and refuses to renew one that lapsed even if nobody took it', async () => {
      const held = await locks.acquire('sn-prod', 'serve-1', TTL, T0);
      if (held === null) throw new Error('lock not taken');
      const renewed = await locks.renew(held, TTL, later(TTL - 1000));
      expect(renewed).toMatchObject({ token: held.token, owner: 'serve-1', expiresAt: later(2 * TTL - 1000).toISOString() });
      expect(await locks.acquire('sn-prod', 'serve-2', TTL, later(TTL + 1000))).toBeNull();
      expect(await locks.holder('sn-prod', later(2 * TTL - 1000))).toBeNull();
      expect(await locks.renew(held, TTL, later(2 * TTL))).toBeNull();
      expect(await locks.acquire('sn-prod', 'serve-2', TTL, later(2 * TTL))).toMatchObject({ owner: 'serve-2' });
    });

    it('answers a renewal or release of a released lock with nothing held', async () => {
      const held = await locks.acquire('sn-prod', 'serve-1', TTL, T0);
      if (held === null) throw new Error('lock not taken');
      await locks.release(held);
      expect(await locks.renew(held, TTL, later(1))).toBeNull();
      expect(await locks.holder('sn-prod', later(1))).toBeNull();
    });
  });
}
