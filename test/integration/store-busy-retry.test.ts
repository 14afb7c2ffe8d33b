// The SQLite store under a write lock held by another connection: work waits
// for it asynchronously (the event loop keeps turning), a whole page or a
// whole batch lands once the lock goes, and work that outlasts the retry bound
// fails with CG_STORE_BUSY having stored nothing of itself.

import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewOutboxItem } from '../../src/store/outbox-store.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import { buildChanges } from '../support/change-builder.ts';

let dir: string;
let opened: StoreBundle | undefined;
let other: DatabaseSync | undefined;

afterEach(async () => {
  if (other?.isOpen) other.close();
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(busyBoundMs: number): { stores: StoreBundle; lock(): void; release(): void } {
  dir = mkdtempSync(join(tmpdir(), 'cg-busy-'));
  const path = join(dir, 'changegate.db');
  const stores = openSqliteStores(path, { busyBoundMs });
  opened = stores;
  other = new DatabaseSync(path);
  const db = other;
  return { stores, lock: () => db.exec('BEGIN IMMEDIATE'), release: () => db.exec('COMMIT') };
}

const comment = (key: string): NewOutboxItem => ({
  instance: 'sn',
  changeId: `servicenow:sn:${key}`,
  nativeId: key,
  source: 'assessment',
  idempotencyKey: key,
  payload: { action: 'comment', note: { title: key, tone: 'info', lines: [key] } },
});

/** How many times timers fired while `work` was pending: a blocked event loop fires none. */
async function ticksDuring<T>(work: Promise<T>): Promise<{ value: T; ticks: number }> {
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 10);
  try {
    return { value: await work, ticks };
  } finally {
    clearInterval(timer);
  }
}

describe('the SQLite store while another connection holds the write lock', () => {
  it('stores a whole page once the lock is released, the event loop turning meanwhile', async () => {
    const { stores, lock, release } = open(5_000);
    lock();
    const changes = buildChanges(20);
    const page = stores.changes.applyPage('sn-prod', 'changes', changes.map((change) => ({ kind: 'change', change })), { updatedAt: '2026-03-01T00:00:00.000Z', id: 'x' });
    setTimeout(release, 300);
    const { value, ticks } = await ticksDuring(page);
    expect(value.changesWritten).toBe(20);
    expect(ticks).toBeGreaterThan(5);
    expect(await stores.changes.countChanges()).toBe(20);
    expect(await stores.changes.getCursor('sn-prod', 'changes')).toEqual({ updatedAt: '2026-03-01T00:00:00.000Z', id: 'x' });
  });

  it('fails with CG_STORE_BUSY past the bound, having stored nothing of the page or the batch', async () => {
    const { stores, lock, release } = open(300);
    lock();
    const changes = buildChanges(5);
    await expect(stores.changes.applyPage('sn-prod', 'changes', changes.map((change) => ({ kind: 'change', change })), { updatedAt: '2026-03-01T00:00:00.000Z', id: 'x' })).rejects.toMatchObject({
      code: 'CG_STORE_BUSY',
      details: { reason: 'locked', op: 'applyPage' },
    });
    await expect(stores.outbox.enqueue([comment('a'), comment('b')], new Date())).rejects.toMatchObject({ code: 'CG_STORE_BUSY' });
    await expect(stores.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'd-1', receivedAt: new Date().toISOString(), body: {} })).rejects.toMatchObject({
      code: 'CG_STORE_BUSY',
    });
    release();
    expect(await stores.changes.countChanges()).toBe(0);
    expect(await stores.changes.getCursor('sn-prod', 'changes')).toBeNull();
    expect(await stores.outbox.counts()).toMatchObject({ pending: 0 });
    expect(await stores.deliveries.pendingCount()).toBe(0);
    // The same work, retried by its caller, lands whole.
    expect((await stores.outbox.enqueue([comment('a'), comment('b')], new Date())).inserted).toEqual(['a', 'b']);
  });

  it('reports a held lock as the store health, and health again once released', async () => {
    const { stores, lock, release } = open(300);
    expect(await stores.health()).toEqual({ ok: true });
    lock();
    expect(await stores.health()).toMatchObject({ ok: false, reason: 'locked' });
    release();
    expect(await stores.health()).toEqual({ ok: true });
  });
});
