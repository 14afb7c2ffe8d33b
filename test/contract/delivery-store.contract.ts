// The DeliveryStore contract: what every adapter (SQLite, MongoDB) must do for
// the webhook inbox, as the receiver and the processor rely on it. Written
// against the port only; store-adapters.test.ts runs it against every store
// adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimOwner } from '../../src/store/claim-owner.ts';
import type { DeliveryStore, NewDelivery } from '../../src/store/delivery-store.ts';

const T0 = Date.parse('2026-03-12T10:00:00.000Z');
const at = (ms: number): Date => new Date(T0 + ms);

const owner = (name: string, pid: number): ClaimOwner => ({ id: `${name}-epoch`, host: 'host-a', pid, startedAt: '2026-03-02T08:00:00.000Z' });
const DEAD = owner('dead', 101);
const LIVE = owner('live', 202);
const NEXT = owner('next', 303);
const ownerIds = async (store: { claimOwners(): Promise<ClaimOwner[]> }): Promise<string[]> => (await store.claimOwners()).map((o) => o.id).toSorted();

function delivery(n: number, overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    system: 'jira',
    instance: 'jsm-cloud',
    deliveryId: `d-${n}`,
    receivedAt: at(n * 1000).toISOString(),
    body: { webhookEvent: 'jira:issue_updated', issue: { id: String(10000 + n), key: `ITSM-${n}` }, text: 'ünïcode ✓' },
    ...overrides,
  };
}

/** `open` must return a new, empty store each time; the suite closes it after each test. */
export function describeDeliveryStoreContract(name: string, open: () => Promise<DeliveryStore>): void {
  describe(`DeliveryStore contract: ${name}`, () => {
    let store: DeliveryStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('record', () => {
      it('stores a delivery once and calls a replay of the same delivery id a duplicate, keeping the first body', async () => {
        const first = await store.record(delivery(1));
        expect(first).toEqual({ id: 'jira:jsm-cloud:d-1', duplicate: false });
        expect(await store.record(delivery(1, { body: { replayed: true }, receivedAt: at(60_000).toISOString() }))).toEqual({ id: first.id, duplicate: true });

        expect(await store.get(first.id)).toEqual({
          ...delivery(1),
          id: 'jira:jsm-cloud:d-1',
          status: 'pending',
          attempts: 0,
          nextAttemptAt: delivery(1).receivedAt,
          lastError: null,
          finishedAt: null,
        });
        expect(await store.pendingCount()).toBe(1);
      });

      it('de-duplicates per instance and system: the same id on another instance is another delivery', async () => {
        expect((await store.record(delivery(1))).duplicate).toBe(false);
        expect((await store.record(delivery(1, { instance: 'jsm-other' }))).duplicate).toBe(false);
        expect((await store.record(delivery(1, { system: 'servicenow' }))).duplicate).toBe(false);
        expect(await store.pendingCount()).toBe(3);
        expect(await store.pendingCount('jsm-other')).toBe(1);
        expect(await store.pendingCount('nobody')).toBe(0);
      });

      it('answers a replay as a duplicate even after the delivery was processed', async () => {
        const { id } = await store.record(delivery(1));
        await store.claim(10, at(5_000));
        await store.complete(id, at(6_000));
        expect((await store.record(delivery(1))).duplicate).toBe(true);
        expect(await store.claim(10, at(7_000))).toEqual([]);
      });
    });

    describe('claim', () => {
      it('hands out due deliveries oldest received first, up to the limit, counting the attempt', async () => {
        // Recorded out of order: the third arrived first.
        await store.record(delivery(2));
        await store.record(delivery(3, { receivedAt: at(500).toISOString() }));
        await store.record(delivery(1));
        const batch = await store.claim(2, at(10_000));
        expect(batch.map((d) => d.deliveryId)).toEqual(['d-3', 'd-1']);
        expect(batch.every((d) => d.attempts === 1 && d.status === 'pending')).toBe(true);
        expect(batch[1]?.body).toEqual(delivery(1).body);
        expect((await store.claim(2, at(10_000))).map((d) => d.deliveryId)).toEqual(['d-2']);
        expect(await store.claim(2, at(10_000))).toEqual([]);
      });

      it('never hands the same delivery to two claims while its lease runs, and hands it out again once it expires', async () => {
        await store.record(delivery(1));
        const [a, b] = await Promise.all([store.claim(5, at(10_000), { leaseMs: 30_000 }), store.claim(5, at(10_000), { leaseMs: 30_000 })]);
        expect([...(a ?? []), ...(b ?? [])].map((d) => d.deliveryId)).toEqual(['d-1']);
        expect(await store.claim(5, at(39_999))).toEqual([]);
        // The claimer died mid-work: after the lease the delivery comes back, its attempts counted.
        const again = await store.claim(5, at(40_000));
        expect(again.map((d) => [d.deliveryId, d.attempts])).toEqual([['d-1', 2]]);
        expect(await store.pendingCount()).toBe(1);
      });

      it("records who leased a delivery, and makes a dead owner's due at once without touching a live owner's", async () => {
        await store.record(delivery(1));
        await store.record(delivery(2));
        await store.record(delivery(3));
        await store.claim(1, at(10_000), { leaseMs: 30_000, owner: DEAD });
        await store.claim(1, at(10_000), { leaseMs: 30_000, owner: LIVE });
        await store.claim(1, at(10_000), { leaseMs: 30_000 });
        expect(await ownerIds(store)).toEqual([DEAD.id, LIVE.id]);

        expect(await store.releaseClaims(DEAD.id, at(11_000))).toBe(1);
        expect(await ownerIds(store)).toEqual([LIVE.id]);
        // Due now, not when the lease would have run out; the attempt cut short was counted once.
        const again = await store.claim(5, at(11_000), { owner: NEXT });
        expect(again.map((d) => [d.deliveryId, d.attempts])).toEqual([['d-1', 2]]);
        expect(await store.releaseClaims('nobody', at(12_000))).toBe(0);
      });

      it('forgets the owner once a delivery is settled, so a release never cuts a retry wait short', async () => {
        const first = await store.record(delivery(1));
        const second = await store.record(delivery(2));
        await store.claim(2, at(10_000), { owner: DEAD });
        await store.complete(first.id, at(11_000));
        await store.fail(second.id, 'HTTP 503', at(600_000), at(11_000));
        expect(await ownerIds(store)).toEqual([]);
        expect(await store.releaseClaims(DEAD.id, at(12_000))).toBe(0);
        expect(await store.claim(5, at(599_999))).toEqual([]);
      });

      it('does not hand out a delivery received after `now`', async () => {
        await store.record(delivery(5));
        expect(await store.claim(5, at(4_999))).toEqual([]);
        expect(await store.claim(5, at(5_000))).toHaveLength(1);
      });
    });

    describe('complete and fail', () => {
      it('a completed delivery is never handed out again and no longer pending', async () => {
        const { id } = await store.record(delivery(1));
        await store.claim(1, at(2_000));
        await store.complete(id, at(3_000));
        expect(await store.get(id)).toMatchObject({ status: 'done', attempts: 1, finishedAt: at(3_000).toISOString() });
        expect(await store.claim(5, at(10_000_000))).toEqual([]);
        expect(await store.pendingCount()).toBe(0);
      });

      it('a failed attempt with a retry time comes back at that time, with the error and attempts kept', async () => {
        const { id } = await store.record(delivery(1));
        await store.claim(1, at(2_000));
        await store.fail(id, '[CG_UPSTREAM_UNAVAILABLE] Jira kept answering 503', at(60_000), at(3_000));
        expect(await store.get(id)).toMatchObject({ status: 'pending', attempts: 1, lastError: '[CG_UPSTREAM_UNAVAILABLE] Jira kept answering 503', nextAttemptAt: at(60_000).toISOString() });
        expect(await store.claim(5, at(59_999))).toEqual([]);
        const [retry] = await store.claim(5, at(60_000));
        expect(retry).toMatchObject({ id, attempts: 2 });
        expect(await store.pendingCount()).toBe(1);
      });

      it('a failure without a retry time stays failed: not pending, never handed out again, still visible', async () => {
        const { id } = await store.record(delivery(1));
        await store.claim(1, at(2_000));
        await store.fail(id, 'gave up', null, at(3_000));
        expect(await store.get(id)).toMatchObject({ status: 'failed', attempts: 1, lastError: 'gave up', finishedAt: at(3_000).toISOString() });
        expect(await store.claim(5, at(10_000_000))).toEqual([]);
        expect(await store.pendingCount()).toBe(0);
      });
    });

    describe('purge', () => {
      it('forgets done and failed deliveries finished before the cutoff, and keeps pending and recent ones', async () => {
        for (const n of [1, 2, 3, 4]) await store.record(delivery(n));
        await store.claim(3, at(10_000));
        await store.complete('jira:jsm-cloud:d-1', at(20_000));
        await store.fail('jira:jsm-cloud:d-2', 'gave up', null, at(20_000));
        await store.complete('jira:jsm-cloud:d-3', at(90_000));

        expect(await store.purge(at(60_000))).toBe(2);
        expect(await store.get('jira:jsm-cloud:d-1')).toBeNull();
        expect(await store.get('jira:jsm-cloud:d-2')).toBeNull();
        expect(await store.get('jira:jsm-cloud:d-3')).toMatchObject({ status: 'done' });
        expect(await store.get('jira:jsm-cloud:d-4')).toMatchObject({ status: 'pending' });
        // Past the retention window a replay is a new delivery.
        expect((await store.record(delivery(1))).duplicate).toBe(false);
      });
    });
  });
}
