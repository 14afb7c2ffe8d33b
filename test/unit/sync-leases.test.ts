// Two replicas (two engines, each with its lease keeper) sharing one lease
// store and one mirror: an instance is synced under its lease only, a replica
// that loses the lease stops before storing its next page, and a replica that
// paused past its lease has its next page refused by the fence.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance, PageRequest, PageResult } from '../../src/kit/connector.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { InProcessLeases } from '../../src/store/in-process-leases.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { LeaseKeeper } from '../../src/sync/lease-keeper.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const TTL = 30_000;
const ROWS = 30;
const PAGE = 10;

/** Rows r000… one second apart; `onRead(n, request)` runs before the n-th read (0-based) is answered. */
class PagedSource implements ConnectorInstance {
  readonly system = 'servicenow' as const;
  readonly instanceId = 'sn';
  readonly streams = [{ name: 'changes', description: 'changes' }];
  reads = 0;
  onRead: (n: number) => Promise<void> = async () => undefined;

  async readPage(request: PageRequest): Promise<PageResult> {
    await this.onRead(this.reads++);
    const rows = Array.from({ length: ROWS }, (_, i) => ({ id: `r${String(i).padStart(3, '0')}`, updatedAt: new Date(Date.parse('2026-03-01T00:00:00Z') + i * 1000).toISOString().replace('.000Z', 'Z') }));
    const from = request.after === null ? 0 : rows.findIndex((r) => r.updatedAt > (request.after?.updatedAt ?? ''));
    const slice = from < 0 ? [] : rows.slice(from, from + request.pageSize);
    const last = slice.at(-1);
    return {
      items: slice.map((r) => ({ kind: 'change' as const, change: buildChange({ id: `servicenow:sn:${r.id}`, instance: 'sn', nativeId: r.id, key: `CHG${r.id}`, updatedAt: r.updatedAt }) })),
      last: last === undefined ? null : { updatedAt: last.updatedAt, id: last.id },
      total: ROWS,
      hasMore: from >= 0 && from + request.pageSize < ROWS,
      apiCalls: 1,
    };
  }

  async fetchOne(): Promise<null> {
    return null;
  }
}

const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0)) await step();
});

function world() {
  let now = T0;
  const clock = (): Date => new Date(now);
  const store = SqliteChangeStore.open(':memory:');
  const leases = new InProcessLeases({ fenceFloor: (instance) => store.fenceOf(instance) });
  const logger = pino({ level: 'silent' });
  const replica = (holder: string) => {
    const keeper = new LeaseKeeper({ leases, holder, ttlMs: TTL, renewEveryMs: TTL / 3, logger, clock });
    const source = new PagedSource();
    const engine = new SyncEngine({ store, leases: keeper, logger, metrics: createMetrics({ defaultMetrics: false }), clock });
    engine.register({ connector: source, pageSize: PAGE, overlapMs: 0 });
    teardown.unshift(() => keeper.stop());
    return { keeper, source, engine };
  };
  teardown.push(() => store.close());
  return { store, leases, replica, advance: (ms: number) => (now += ms) };
}

describe('syncing under leases', () => {
  it('leaves an instance to the replica holding its lease, naming it, until that one lets go', async () => {
    const { replica } = world();
    const [one, two] = [replica('replica-1'), replica('replica-2')];
    await one.engine.sync('sn');
    expect(one.keeper.held('sn')).toMatchObject({ fence: 1 });
    await expect(two.engine.sync('sn')).rejects.toMatchObject({ code: 'CG_SYNC_BUSY', details: { instance: 'sn', holder: 'replica-1' } });
    expect(two.source.reads).toBe(0);
    await one.keeper.stop();
    // Replica 2 runs now, from the cursor replica 1 saved.
    const report = await two.engine.sync('sn');
    expect(two.source.reads).toBe(1);
    expect(report.streams[0]).toMatchObject({ pages: 1, records: 0 });
    expect(two.keeper.held('sn')).toMatchObject({ fence: 2 });
  });

  it('stops a run at the next page once its lease is lost, storing nothing of that page', async () => {
    const { store, replica, advance } = world();
    const [one, two] = [replica('replica-1'), replica('replica-2')];
    one.source.onRead = async (n) => {
      if (n !== 1) return;
      // Replica 1 stalls past its lease; replica 2 takes the instance; replica 1's renewal then fails.
      advance(TTL + 1);
      expect(await two.keeper.ensure('sn')).toMatchObject({ fence: 2 });
      await one.keeper.tick();
    };
    await expect(one.engine.sync('sn')).rejects.toMatchObject({ code: 'CG_LEASE_LOST', details: { instance: 'sn', fence: 1 } });
    expect(one.keeper.held('sn')).toBeNull();
    expect(await store.countChanges('sn')).toBe(PAGE);
    expect(await store.getCursor('sn', 'changes')).toMatchObject({ id: 'r009' });
  });

  it('refuses the page of a replica that paused past its lease once the next holder wrote, and lets the stale replica go', async () => {
    const { store, leases, replica, advance } = world();
    const [one, two] = [replica('replica-1'), replica('replica-2')];
    one.source.onRead = async (n) => {
      if (n !== 1) return;
      // Replica 1 is paused (no tick runs): its lease lapses and replica 2 syncs everything under fence 2.
      advance(TTL + 1);
      await two.engine.sync('sn');
    };
    await expect(one.engine.sync('sn')).rejects.toMatchObject({ code: 'CG_LEASE_LOST', details: { instance: 'sn', fence: 1, newest: 2 } });
    expect(one.keeper.held('sn')).toBeNull();
    expect(await store.countChanges('sn')).toBe(ROWS);
    expect(await store.getCursor('sn', 'changes')).toMatchObject({ id: 'r029' });
    expect(await store.fenceOf('sn')).toBe(2);
    // A process started later counts on from the fence the store saw, not from 1.
    await two.keeper.stop();
    expect((await new InProcessLeases({ fenceFloor: (i) => store.fenceOf(i) }).acquire('sn', 'replica-3', TTL, new Date(T0)))?.fence).toBe(3);
    expect(await leases.current('sn', new Date(T0 + TTL + 2))).toBeNull();
  });
});
