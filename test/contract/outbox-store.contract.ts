// The OutboxStore contract: what every adapter (SQLite, MongoDB) must do, as
// the assessment runner and the outbox worker rely on it.
// store-adapters.test.ts runs it against every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TicketNote } from '../../src/kit/connector.ts';
import type { ClaimOwner } from '../../src/store/claim-owner.ts';
import type { NewOutboxItem, OutboxError, OutboxStore } from '../../src/store/outbox-store.ts';

const T0 = new Date('2026-03-02T09:00:00Z');
const later = (ms: number): Date => new Date(T0.getTime() + ms);
const note = (title: string): TicketNote => ({ title, tone: 'info', lines: [title] });
const owner = (name: string, pid: number): ClaimOwner => ({ id: `${name}-epoch`, host: 'host-a', pid, startedAt: '2026-03-02T08:00:00.000Z' });
const DEAD = owner('dead', 101);
const LIVE = owner('live', 202);
const NEXT = owner('next', 303);
const ownerIds = async (store: { claimOwners(): Promise<ClaimOwner[]> }): Promise<string[]> => (await store.claimOwners()).map((o) => o.id).toSorted();
const transient: OutboxError = { code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient', message: 'HTTP 503' };

/** Each key on its own change unless told: items of one change supersede each other. */
function comment(key: string, changeId = `servicenow:sn:${key}`, source: NewOutboxItem['source'] = 'assessment'): NewOutboxItem {
  return { instance: 'sn', changeId, nativeId: changeId.split(':')[2] ?? 'a', source, idempotencyKey: key, payload: { action: 'comment', note: note(key) } };
}

function verdictItem(key: string, changeId = 'servicenow:sn:a'): NewOutboxItem {
  return {
    instance: 'sn',
    changeId,
    nativeId: 'a',
    source: 'assessment',
    idempotencyKey: key,
    payload: { action: 'set-verdict', verdict: { verdict: 'blocked', state: 'assess', transitions: [], reasons: [key], breaches: [], policyVersion: 'p1', assessedAt: T0.toISOString() } },
  };
}

/** `open` must return a new, empty store each time; the suite closes it after each test. */
export function describeOutboxStoreContract(name: string, open: () => Promise<OutboxStore>): void {
  describe(`OutboxStore contract: ${name}`, () => {
    let outbox: OutboxStore;
    beforeEach(async () => {
      outbox = await open();
    });
    afterEach(async () => {
      await outbox.close();
    });

    it('stores an item once per idempotency key and says which keys were already there', async () => {
      const first = await outbox.enqueue([comment('k1'), comment('k2')], T0);
      expect(first).toEqual({ inserted: ['k1', 'k2'], duplicates: [], superseded: 0 });
      const again = await outbox.enqueue([comment('k2'), comment('k3')], later(1000));
      expect(again.inserted).toEqual(['k3']);
      expect(again.duplicates).toEqual(['k2']);
      const stored = await outbox.get('k1');
      expect(stored).toMatchObject({ idempotencyKey: 'k1', action: 'comment', status: 'pending', attempts: 0, lastError: null, payload: { action: 'comment', note: note('k1') } });
      expect((await outbox.counts()).pending).toBe(3);
    });

    it('claims due items oldest first, counts the attempt and hides them from other claims until the lease runs out', async () => {
      await outbox.enqueue([comment('a'), comment('b'), comment('c')], T0);
      const first = await outbox.claim(2, T0, 60_000);
      expect(first.map((i) => i.idempotencyKey)).toEqual(['a', 'b']);
      expect(first.every((i) => i.status === 'claimed' && i.attempts === 1 && i.claimToken !== null)).toBe(true);
      const second = await outbox.claim(10, later(1000), 60_000);
      expect(second.map((i) => i.idempotencyKey)).toEqual(['c']);
      expect(await outbox.claim(10, later(59_000), 60_000)).toEqual([]);
      // The holder of `a` died: after its lease, `a` and `b` come back with a new token and a second attempt.
      const reclaimed = await outbox.claim(10, later(60_000), 60_000);
      expect(reclaimed.map((i) => [i.idempotencyKey, i.attempts])).toEqual([
        ['a', 2],
        ['b', 2],
      ]);
      expect(reclaimed[0]?.claimToken).not.toBe(first[0]?.claimToken);
    });

    it("records who holds each claim, and releases a dead owner's items at once without touching a live owner's", async () => {
      await outbox.enqueue([comment('a'), comment('b'), comment('c'), comment('d')], T0);
      const held = await outbox.claim(2, T0, 600_000, DEAD);
      await outbox.claim(1, T0, 600_000, LIVE);
      await outbox.claim(1, T0, 600_000);
      expect(held.map((i) => [i.idempotencyKey, i.claimOwner])).toEqual([
        ['a', DEAD],
        ['b', DEAD],
      ]);
      // An unowned claim (a caller that gave none) is left to its lease.
      expect(await ownerIds(outbox)).toEqual([DEAD.id, LIVE.id]);

      expect(await outbox.releaseClaims(DEAD.id, later(1000))).toBe(2);
      expect(await outbox.get('a')).toMatchObject({ status: 'pending', attempts: 1, claimToken: null, claimOwner: null, nextAttemptAt: later(1000).toISOString() });
      expect(await ownerIds(outbox)).toEqual([LIVE.id]);
      // Claimable now, long before the ten-minute lease ends; the attempt cut short was counted once, the new claim counts one more.
      const again = await outbox.claim(10, later(1000), 600_000, NEXT);
      expect(again.map((i) => [i.idempotencyKey, i.attempts])).toEqual([
        ['a', 2],
        ['b', 2],
      ]);
      // The dead owner's token no longer settles anything.
      expect(await outbox.complete(held[0]?.id ?? 0, held[0]?.claimToken as string, 'written', later(2000))).toBe(false);
      expect(await outbox.get('c')).toMatchObject({ status: 'claimed', claimOwner: LIVE });
      expect(await outbox.releaseClaims('nobody', later(3000))).toBe(0);
    });

    it('forgets the owner once an item is settled, so a release never touches it', async () => {
      await outbox.enqueue([comment('a'), comment('b')], T0);
      const [a, b] = await outbox.claim(2, T0, 600_000, DEAD);
      if (a === undefined || b === undefined) throw new Error('claim gave nothing');
      await outbox.complete(a.id, a.claimToken as string, 'written', later(1000));
      await outbox.retryLater(b.id, b.claimToken as string, later(300_000), transient, later(1000));
      expect(await ownerIds(outbox)).toEqual([]);
      expect(await outbox.releaseClaims(DEAD.id, later(2000))).toBe(0);
      expect(await outbox.get('b')).toMatchObject({ status: 'pending', claimOwner: null, nextAttemptAt: later(300_000).toISOString() });
    });

    it('lets only the current holder settle an item', async () => {
      await outbox.enqueue([comment('a')], T0);
      const [stale] = await outbox.claim(1, T0, 1000);
      const [current] = await outbox.claim(1, later(1000), 1000);
      if (stale === undefined || current === undefined) throw new Error('claim gave nothing');
      expect(await outbox.complete(stale.id, stale.claimToken as string, 'written', later(1500))).toBe(false);
      expect(await outbox.complete(current.id, current.claimToken as string, 'already-done', later(1500))).toBe(true);
      expect(await outbox.get('a')).toMatchObject({ status: 'done', result: 'already-done', claimToken: null, finishedAt: later(1500).toISOString() });
      expect(await outbox.claim(10, later(60_000))).toEqual([]);
    });

    it('returns a retried item at its retry time with the error kept, and parks a failed one for good', async () => {
      await outbox.enqueue([comment('retry'), comment('park')], T0);
      const [retry, park] = await outbox.claim(2, T0);
      if (retry === undefined || park === undefined) throw new Error('claim gave too little');
      expect(await outbox.retryLater(retry.id, retry.claimToken as string, later(30_000), transient, T0)).toBe(true);
      const refused: OutboxError = { code: 'CG_WRITE_REFUSED', kind: 'config', message: 'no transition' };
      expect(await outbox.fail(park.id, park.claimToken as string, refused, T0)).toBe(true);
      expect(await outbox.claim(10, later(29_999))).toEqual([]);
      const due = await outbox.claim(10, later(30_000));
      expect(due.map((i) => [i.idempotencyKey, i.attempts, i.lastError])).toEqual([['retry', 2, transient]]);
      expect(await outbox.get('park')).toMatchObject({ status: 'failed', lastError: refused });
      expect(await outbox.counts()).toEqual({ pending: 0, claimed: 1, done: 0, failed: 1, superseded: 0 });
    });

    it('supersedes older pending assessment write-back of the same change and action, never enforcement or claimed items', async () => {
      await outbox.enqueue([verdictItem('v1'), comment('c1', 'servicenow:sn:a'), comment('e1', 'servicenow:sn:a', 'enforcement'), verdictItem('other', 'servicenow:sn:b')], T0);
      const [inFlight] = await outbox.claim(1, T0);
      expect(inFlight?.idempotencyKey).toBe('v1');
      const result = await outbox.enqueue([verdictItem('v2'), comment('c2', 'servicenow:sn:a')], later(1000));
      expect(result).toEqual({ inserted: ['v2', 'c2'], duplicates: [], superseded: 1 });
      const statuses = Object.fromEntries((await outbox.list({ limit: 100 })).map((i) => [i.idempotencyKey, i.status]));
      expect(statuses).toEqual({ v1: 'claimed', c1: 'superseded', e1: 'pending', other: 'pending', v2: 'pending', c2: 'pending' });
    });

    it('lists by change, action and status, oldest first', async () => {
      await outbox.enqueue([comment('a1', 'servicenow:sn:a'), verdictItem('a2'), comment('b1', 'servicenow:sn:b')], T0);
      expect((await outbox.list({ changeId: 'servicenow:sn:a' })).map((i) => i.idempotencyKey)).toEqual(['a1', 'a2']);
      expect((await outbox.list({ action: 'comment' })).map((i) => i.idempotencyKey)).toEqual(['a1', 'b1']);
      expect((await outbox.list({ status: 'pending', limit: 1 })).map((i) => i.idempotencyKey)).toEqual(['a1']);
      expect(await outbox.get('nope')).toBeNull();
    });

    it("pages one change's items by (createdAt, id) in either order, each once, however many share a time", async () => {
      const a = 'servicenow:sn:a';
      // Five at one instant, then three queued later but stamped an hour earlier (higher ids, earlier times), one after.
      await outbox.enqueue(['t0', 't1', 't2', 't3', 't4'].map((k) => comment(k, a, 'evidence')), T0);
      await outbox.enqueue(['e0', 'e1', 'e2'].map((k) => comment(k, a, 'evidence')), later(-3_600_000));
      await outbox.enqueue([comment('z', a, 'evidence'), comment('elsewhere', 'servicenow:sn:b', 'evidence')], later(1000));
      const asc = ['e0', 'e1', 'e2', 't0', 't1', 't2', 't3', 't4', 'z'];
      for (const order of ['asc', 'desc'] as const) {
        const keys: string[] = [];
        let after: { createdAt: string; id: number } | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await outbox.listForHistory(a, { order, limit: 2, ...(after === undefined ? {} : { after }) });
          keys.push(...page.map((i) => i.idempotencyKey));
          const last = page.at(-1);
          if (last === undefined) break;
          after = { createdAt: last.createdAt, id: last.id };
        }
        expect({ order, keys }).toEqual({ order, keys: order === 'asc' ? asc : asc.toReversed() });
      }
      // At a time, bound 0 takes every item oldest first and none newest first; the largest id the reverse.
      const atT0 = (order: 'asc' | 'desc', id: number) => outbox.listForHistory(a, { order, limit: 10, after: { createdAt: T0.toISOString(), id } });
      expect((await atT0('asc', 0)).map((i) => i.idempotencyKey)).toEqual(['t0', 't1', 't2', 't3', 't4', 'z']);
      expect((await atT0('desc', 0)).map((i) => i.idempotencyKey)).toEqual(['e2', 'e1', 'e0']);
      expect((await atT0('asc', Number.MAX_SAFE_INTEGER)).map((i) => i.idempotencyKey)).toEqual(['z']);
      expect((await atT0('desc', Number.MAX_SAFE_INTEGER)).map((i) => i.idempotencyKey)).toEqual(['t4', 't3', 't2', 't1', 't0', 'e2', 'e1', 'e0']);
      expect(await outbox.countForChange(a)).toBe(9);
      expect(await outbox.countForChange('servicenow:sn:none')).toBe(0);
    });
  });
}
