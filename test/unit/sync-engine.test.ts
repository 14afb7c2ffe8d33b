import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance, PageRequest, PageResult, StreamCursor } from '../../src/kit/connector.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { InProcessRunLocks } from '../../src/store/in-process-run-locks.ts';
import type { RunLock } from '../../src/store/run-locks.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';

interface Row {
  id: string;
  updatedAt: string;
  revision: number;
  hidden?: boolean;
}

const after = (row: Row, cursor: StreamCursor | null): boolean =>
  cursor === null || row.updatedAt > cursor.updatedAt || (row.updatedAt === cursor.updatedAt && cursor.id !== '' && row.id > cursor.id) || (cursor.id === '' && row.updatedAt >= cursor.updatedAt);

/** A source with ServiceNow's paging semantics: keyset order, ACL applied after the limit. */
class FakeSource implements ConnectorInstance {
  readonly system = 'servicenow' as const;
  readonly instanceId = 'fake';
  readonly streams = [{ name: 'changes', description: 'changes' }];
  rows: Row[] = [];
  requests: PageRequest[] = [];
  failAfter = Infinity;
  /** Called before each page is served (a test's way to act mid-run). */
  beforePage: (n: number) => void = () => undefined;

  upsert(id: string, updatedAt: string, hidden = false): void {
    const existing = this.rows.find((r) => r.id === id);
    if (existing) Object.assign(existing, { updatedAt, revision: existing.revision + 1, hidden });
    else this.rows.push({ id, updatedAt, revision: 0, hidden });
  }

  async readPage(request: PageRequest): Promise<PageResult> {
    this.beforePage(this.requests.length);
    if (this.requests.length >= this.failAfter) throw new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'connection reset');
    this.requests.push(request);
    const matching = this.rows
      .filter((r) => after(r, request.after))
      .toSorted((a, b) => (a.updatedAt === b.updatedAt ? (a.id < b.id ? -1 : 1) : a.updatedAt < b.updatedAt ? -1 : 1));
    const slice = matching.slice(request.offset, request.offset + request.pageSize);
    const visible = slice.filter((r) => !r.hidden);
    const lastRow = visible.at(-1);
    return {
      items: visible.map((r) => ({
        kind: 'change' as const,
        change: buildChange({ id: `servicenow:fake:${r.id}`, instance: 'fake', nativeId: r.id, key: `CHG${r.id}`, updatedAt: r.updatedAt, nativeRevision: r.revision }),
      })),
      last: lastRow ? { updatedAt: lastRow.updatedAt, id: lastRow.id } : null,
      total: matching.length,
      hasMore: request.offset + request.pageSize < matching.length,
      apiCalls: 1,
    };
  }

  async fetchOne(): Promise<null> {
    return null;
  }
}

const stores: ChangeStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function setup(source: FakeSource, now = '2026-01-01T00:00:00Z') {
  const store = SqliteChangeStore.open(':memory:');
  stores.push(store);
  const engine = new SyncEngine({ store, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date(now) });
  engine.register({ connector: source, pageSize: 10, overlapMs: 60_000 });
  return { store, engine };
}

const at = (minute: number, second = 0) => `2025-06-01T10:${String(minute).padStart(2, '0')}:${String(second).padStart(2, '0')}Z`;

describe('sync engine', () => {
  it('mirrors every record once, including ties on the same second', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 35; i++) source.upsert(`r${String(i).padStart(3, '0')}`, at(Math.floor(i / 7)));
    const { store, engine } = setup(source);
    const report = await engine.sync('fake');
    expect(await store.countChanges('fake')).toBe(35);
    expect(report.streams[0]).toMatchObject({ records: 35, written: 35, pages: 4 });
  });

  it('resumes from the saved cursor after a crash and re-reads only the overlap', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 50; i++) source.upsert(`r${String(i).padStart(3, '0')}`, at(i));
    const { store, engine } = setup(source);
    source.failAfter = 3;
    await expect(engine.sync('fake')).rejects.toMatchObject({ code: 'CG_UPSTREAM_UNAVAILABLE' });
    expect(await store.countChanges('fake')).toBe(30);
    expect(await store.getCursor('fake', 'changes')).toEqual({ updatedAt: at(29), id: 'r029' });

    source.failAfter = Infinity;
    source.requests = [];
    const report = await engine.sync('fake');
    // Restarted one minute (the overlap) before the cursor, not from zero.
    expect(source.requests[0]?.after).toEqual({ updatedAt: at(28), id: '' });
    expect(report.streams[0]).toMatchObject({ written: 20, unchanged: 2 });
    expect(await store.countChanges('fake')).toBe(50);
  });

  it('walks past pages the ACL emptied instead of stopping early', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 40; i++) source.upsert(`r${String(i).padStart(3, '0')}`, at(i), i >= 10 && i < 25);
    const { store, engine } = setup(source);
    await engine.sync('fake');
    expect(await store.countChanges('fake')).toBe(25);
    expect(source.requests.some((r) => r.offset > 0)).toBe(true);
  });

  it('re-reading the overlap writes no new revision', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 12; i++) source.upsert(`r${String(i).padStart(3, '0')}`, at(0, i));
    const { store, engine } = setup(source);
    await engine.sync('fake');
    const second = await engine.sync('fake');
    expect(second.streams[0]).toMatchObject({ written: 0, unchanged: 12 });
    expect(await store.listRevisions('servicenow:fake:r000')).toHaveLength(1);
  });

  it('picks up an update that landed in an already-read second', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 5; i++) source.upsert(`r${i}`, at(5));
    const { store, engine } = setup(source);
    await engine.sync('fake');
    source.upsert('r0', at(5)); // same second as the saved cursor, smaller id
    await engine.sync('fake');
    expect((await store.getChange('servicenow:fake:r0'))?.change.nativeRevision).toBe(1);
    expect(await store.listRevisions('servicenow:fake:r0')).toHaveLength(2);
  });

  it('never bookmarks past the signpost', async () => {
    const source = new FakeSource();
    source.upsert('future', '2030-01-01T00:00:00Z');
    const { store, engine } = setup(source, '2026-01-01T00:00:00Z');
    await engine.sync('fake');
    expect(await store.getCursor('fake', 'changes')).toEqual({ updatedAt: '2026-01-01T00:00:00Z', id: '' });
  });

  it('runs one sync at a time per instance', async () => {
    const source = new FakeSource();
    source.upsert('a', at(1));
    const { engine } = setup(source);
    const first = engine.sync('fake');
    const second = engine.sync('fake').catch((err: unknown) => err);
    expect(isChangegateError(await second, 'CG_SYNC_BUSY')).toBe(true);
    await expect(engine.sync('fake', { join: true })).resolves.toEqual(await first);
  });
});

function withHook(source: FakeSource, options: { pageSize?: number; onTold?: (midRun: boolean) => void } = {}) {
  const store = SqliteChangeStore.open(':memory:');
  stores.push(store);
  const told: { ids: number; midRun: boolean }[] = [];
  const engine = new SyncEngine({
    store,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => new Date('2026-01-01T00:00:00Z'),
    onChangesWritten: async (_instance, ids, context) => {
      told.push({ ids: ids.length, midRun: context?.midRun === true });
      options.onTold?.(context?.midRun === true);
    },
  });
  engine.register({ connector: source, pageSize: options.pageSize ?? 10, overlapMs: 60_000 });
  return { store, engine, told };
}

describe('sync engine: shutdown', () => {
  it('stops a run in progress at the page being read, keeping the pages it stored and leaving their changes owed', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 30; i++) source.upsert(`r${String(i).padStart(2, '0')}`, at(1, i));
    const { store, engine, told } = withHook(source);
    let stopped: Promise<void> | null = null;
    // The next page is asked for before the current one is stored: the third request comes while the
    // second page waits to be stored, and the process is told to stop then.
    source.beforePage = (n) => {
      if (n === 2) stopped = engine.stop();
    };
    const error = await engine.sync('fake').catch((err: unknown) => err);
    expect(isChangegateError(error, 'CG_SHUTTING_DOWN')).toBe(true);
    await stopped;
    // The first page and its cursor are kept; the page that arrived during shutdown is not stored.
    expect(await store.countChanges('fake')).toBe(10);
    expect(await store.getCursor('fake', 'changes')).toEqual({ updatedAt: at(1, 9), id: 'r09' });
    // Its changes were judged as the page was stored; no end-of-run pass was started during shutdown.
    expect(told).toEqual([{ ids: 10, midRun: true }]);
    expect(await store.listOwedAssessments({ instance: 'fake', limit: 100 })).toHaveLength(10);
  });

  it('aborts a request the source never answers, so shutdown does not wait on it', async () => {
    const source = new FakeSource();
    source.upsert('a', at(1));
    const asked = Promise.withResolvers<void>();
    // A source that hangs: it answers only by failing once the request's signal is aborted.
    source.readPage = (request) => {
      asked.resolve();
      return new Promise((_resolve, reject) => request.signal?.addEventListener('abort', () => reject(request.signal?.reason as Error)));
    };
    const { engine } = withHook(source);
    const run = engine.sync('fake').catch((err: unknown) => err);
    await asked.promise;
    await engine.stop();
    expect(isChangegateError(await run, 'CG_SHUTTING_DOWN')).toBe(true);
  });

  it('ends the pass over owed changes between chunks once shutdown begins', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 1500; i++) source.upsert(`r${String(i).padStart(4, '0')}`, at(1 + Math.floor(i / 60), i % 60));
    let stopped: Promise<void> | null = null;
    // The hook judges nothing, so every change stays owed; shutdown begins during the pass's first chunk.
    const { store, engine, told } = withHook(source, {
      pageSize: 500,
      onTold: (midRun) => {
        if (!midRun) stopped ??= engine.stop();
      },
    });
    await engine.sync('fake');
    await stopped;
    expect(told.filter((t) => !t.midRun)).toEqual([{ ids: 1000, midRun: false }]);
    expect(await store.countChanges('fake')).toBe(1500);
  });

  it('refuses a run asked for after shutdown began', async () => {
    const source = new FakeSource();
    source.upsert('a', at(1));
    const { store, engine } = withHook(source);
    await engine.stop();
    const error = await engine.sync('fake').catch((err: unknown) => err);
    expect(isChangegateError(error, 'CG_SHUTTING_DOWN')).toBe(true);
    expect(source.requests).toHaveLength(0);
    expect(await store.countChanges('fake')).toBe(0);
  });
});

const T0 = '2026-01-01T00:00:00Z';

function withLocks(source: FakeSource, locks: InProcessRunLocks, clock: () => Date) {
  const store = SqliteChangeStore.open(':memory:');
  stores.push(store);
  const engine = new SyncEngine({ store, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock, runLocks: locks, owner: 'serve-a', runLockTtlMs: 60_000 });
  engine.register({ connector: source, pageSize: 10, overlapMs: 60_000 });
  return { store, engine };
}

describe('sync engine: who runs an instance', () => {
  it('leaves an instance to whoever holds its run lock, and runs it once the lock is released', async () => {
    const source = new FakeSource();
    source.upsert('a', at(1));
    const locks = new InProcessRunLocks();
    const { store, engine } = withLocks(source, locks, () => new Date(T0));
    const elsewhere = await locks.acquire('fake', 'serve-b', 60_000, new Date(T0));
    if (elsewhere === null) throw new Error('lock not taken');

    await expect(engine.sync('fake')).rejects.toMatchObject({ code: 'CG_SYNC_BUSY' });
    expect(source.requests).toEqual([]);
    expect(await store.countChanges()).toBe(0);

    await locks.release(elsewhere);
    await engine.sync('fake');
    expect(await store.countChanges()).toBe(1);
    // The run let its lock go.
    expect(await locks.holder('fake', new Date(T0))).toBeNull();
  });

  it('stops a run whose lock lapsed and was taken by another, keeping what it stored and leaving the new holder alone', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 30; i++) source.upsert(`r${String(i).padStart(3, '0')}`, at(i));
    const locks = new InProcessRunLocks();
    let now = new Date(T0);
    const { store, engine } = withLocks(source, locks, () => now);
    let taker: RunLock | null = null;
    source.beforePage = (n) => {
      if (n !== 1) return;
      // The first page took longer than the lock lives; another process takes the instance.
      now = new Date(Date.parse(T0) + 120_000);
      void locks.acquire('fake', 'serve-b', 60_000, now).then((lock) => {
        taker = lock;
      });
    };

    await expect(engine.sync('fake')).rejects.toMatchObject({ code: 'CG_SYNC_BUSY', details: { lapsed: true } });
    expect(taker).not.toBeNull();
    expect(await store.countChanges()).toBe(10);
    expect(await locks.holder('fake', now)).toMatchObject({ owner: 'serve-b' });
    expect(engine.readiness.instances()).toEqual([{ id: 'fake', syncing: false, lastSuccessAt: null, lastError: { code: 'CG_SYNC_BUSY', at: now.toISOString() }, failedSinceSuccess: 1, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }]);
  });

  it('tells readiness when a run is in progress, when one last succeeded and why the last one failed', async () => {
    const source = new FakeSource();
    source.upsert('a', at(1));
    const { engine } = setup(source, T0);
    expect(engine.readiness.instances()).toEqual([{ id: 'fake', syncing: false, lastSuccessAt: null, lastError: null, failedSinceSuccess: 0, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }]);

    const during: boolean[] = [];
    await engine.sync('fake', { onProgress: () => during.push(engine.readiness.instances()[0]?.syncing ?? false) });
    expect(during).toEqual([true]);
    expect(engine.readiness.instances()).toEqual([{ id: 'fake', syncing: false, lastSuccessAt: T0.replace('Z', '.000Z'), lastError: null, failedSinceSuccess: 0, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }]);

    source.failAfter = 0;
    await expect(engine.sync('fake')).rejects.toMatchObject({ code: 'CG_UPSTREAM_UNAVAILABLE' });
    expect(engine.readiness.instances()).toEqual([
      { id: 'fake', syncing: false, lastSuccessAt: T0.replace('Z', '.000Z'), lastError: { code: 'CG_UPSTREAM_UNAVAILABLE', at: T0.replace('Z', '.000Z') }, failedSinceSuccess: 1, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null },
    ]);
    expect(engine.lastSuccessAt('fake')?.toISOString()).toBe(T0.replace('Z', '.000Z'));
  });
});

describe('sync engine: what a run reports and how far it chases', () => {
  it('reports pages, calls and records per stream, and progress against the total the first page gave', async () => {
    const source = new FakeSource();
    for (let i = 0; i < 25; i++) source.upsert(`r${String(i).padStart(2, '0')}`, at(1, i));
    const { engine } = setup(source);
    const progress: [number, number | null][] = [];
    const report = await engine.sync('fake', { onProgress: (p) => progress.push([p.records, p.total]) });
    expect(report.streams).toEqual([{ stream: 'changes', pages: 3, apiCalls: 3, records: 25, written: 25, unchanged: 0, stale: 0, invalid: 0, rejected: [] }]);
    expect(progress).toEqual([[10, 25], [20, 25], [25, 25]]);
    expect(report.full).toBe(false);
    const again = await engine.sync('fake');
    expect(again.streams[0]).toMatchObject({ written: 0, unchanged: 25 });
  });

  it('starts a full sync from the beginning, whatever the saved cursor says', async () => {
    const source = new FakeSource();
    source.upsert('a', at(1));
    source.upsert('b', at(2));
    const { engine } = setup(source);
    await engine.sync('fake');
    source.requests = [];
    const report = await engine.sync('fake', { full: true });
    expect(source.requests[0]?.after).toBeNull();
    expect(report).toMatchObject({ full: true, streams: [{ records: 2 }] });
  });

  it('stops chasing rows stamped past the signpost and its overlap; the next run reads them', async () => {
    const source = new FakeSource();
    for (const id of ['x1', 'x2', 'x3']) source.upsert(id, '2030-01-01T00:00:00Z');
    const store = SqliteChangeStore.open(':memory:');
    stores.push(store);
    const engine = new SyncEngine({ store, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date('2026-01-01T00:00:00Z') });
    engine.register({ connector: source, pageSize: 1, overlapMs: 60_000 });
    const report = await engine.sync('fake');
    expect(source.requests).toHaveLength(1);
    expect(report.streams[0]).toMatchObject({ pages: 1, records: 1 });
  });
});
