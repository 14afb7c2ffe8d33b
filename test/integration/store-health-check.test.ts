// The SQLite store's own health check, without the service around it: a page
// damaged on disk is found by the quick check alone (nothing else reads it), a
// store file replaced under the bundle is `missing` and stays so, and the
// monitor keeps `since` while the reason holds.

import { closeSync, copyFileSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreHealthMonitor, type StoreHealth, type StoreHealthState } from '../../src/store/store-health.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import { buildChanges } from '../support/change-builder.ts';

let dir: string;
let stores: StoreBundle | undefined;

afterEach(async () => {
  await stores?.close();
  stores = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => Promise<StoreHealth>, wanted: (h: StoreHealth) => boolean): Promise<StoreHealth> {
  let last = await check();
  for (let i = 0; i < 100 && !wanted(last); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await check();
  }
  return last;
}

describe('the SQLite store health check', () => {
  it('finds a damaged page by the quick check alone, and the store stays corrupt', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-health-'));
    const path = join(dir, 'changegate.db');
    stores = openSqliteStores(path, { quickCheckEveryMs: 100 });
    await stores.changes.applyPage('sn', 'changes', buildChanges(200).map((change) => ({ kind: 'change', change })), null);
    expect(await stores.health()).toEqual({ ok: true });

    const side = new DatabaseSync(path);
    side.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const { rootpage } = side.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'revisions'`).get() as { rootpage: number };
    side.close();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, (rootpage - 1) * 4096);
    closeSync(fd);

    const found = await until(() => (stores as StoreBundle).health(), (h) => !h.ok);
    expect(found).toMatchObject({ ok: false, reason: 'corrupt', detail: expect.stringContaining('quick_check') });
    expect(await stores.health()).toMatchObject({ ok: false, reason: 'corrupt' });
  });

  it('calls a store file replaced under it missing, and keeps it so', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-health-'));
    const path = join(dir, 'changegate.db');
    stores = openSqliteStores(path);
    expect(await stores.health()).toEqual({ ok: true });
    // A backup restored over the live file: another file at the same path.
    copyFileSync(path, join(dir, 'backup.db'));
    renameSync(join(dir, 'backup.db'), path);
    expect(await stores.health()).toMatchObject({ ok: false, reason: 'missing' });
    // Work written now would go to the replaced file, kept nowhere: refused.
    await expect(stores.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'd-1', receivedAt: new Date().toISOString(), body: {} })).rejects.toMatchObject({
      code: 'CG_STORE_UNAVAILABLE',
      details: { reason: 'missing' },
    });
    expect(await stores.health()).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('with the file deleted under it, still answers reads from what it held, refuses writes, and the check reports the loss', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-health-'));
    const path = join(dir, 'changegate.db');
    stores = openSqliteStores(path);
    const [change] = buildChanges(1);
    await stores.changes.applyPage('sn', 'changes', [{ kind: 'change', change: change! }], null);
    rmSync(dir, { recursive: true, force: true });
    // Reads skip the look at the file (a stat on every read was ~2% of a sync): the answer is what the store held.
    expect((await stores.changes.getChange(change!.id))?.change.key).toBe(change!.key);
    expect(await stores.events.findEvents({ changeKey: change!.key })).toEqual([]);
    // A write would go nowhere: refused, and the health check says why.
    await expect(stores.changes.applyPage('sn', 'changes', [{ kind: 'change', change: { ...change!, title: 'edited' } }], null)).rejects.toMatchObject({
      code: 'CG_STORE_UNAVAILABLE',
      details: { reason: 'missing' },
    });
    expect(await stores.health()).toMatchObject({ ok: false, reason: 'missing' });
  });
});

describe('the store health monitor', () => {
  it('keeps since while the reason holds, restarts it on another reason, and clears on health', async () => {
    let now = Date.parse('2026-05-01T10:00:00.000Z');
    let health: StoreHealth = { ok: true };
    const seen: StoreHealthState[] = [];
    const monitor = new StoreHealthMonitor(async () => health, { clock: () => new Date(now), onChange: (s) => seen.push(s) });

    expect(await monitor.checkNow()).toEqual({ ok: true });
    health = { ok: false, reason: 'locked', detail: 'held' };
    expect(await monitor.checkNow()).toEqual({ ok: false, reason: 'locked', detail: 'held', since: '2026-05-01T10:00:00.000Z' });
    now += 3_000;
    expect(await monitor.checkNow()).toMatchObject({ reason: 'locked', since: '2026-05-01T10:00:00.000Z' });
    health = { ok: false, reason: 'full', detail: 'no space' };
    expect(await monitor.checkNow()).toMatchObject({ reason: 'full', since: '2026-05-01T10:00:03.000Z' });
    health = { ok: true };
    expect(await monitor.checkNow()).toEqual({ ok: true });
    expect(seen.map((s) => (s.ok ? 'ok' : s.reason))).toEqual(['locked', 'full', 'ok']);
  });

  it('answers calls during a check with one more check after it, and keeps its state when a check throws', async () => {
    let calls = 0;
    let fail = false;
    const monitor = new StoreHealthMonitor(async (): Promise<StoreHealth> => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (fail) throw new Error('probe bug');
      return { ok: false, reason: 'full', detail: 'no space' };
    });
    await Promise.all([monitor.checkNow(), monitor.checkNow(), monitor.checkNow()]);
    expect(calls).toBe(2);
    fail = true;
    expect(await monitor.checkNow()).toMatchObject({ ok: false, reason: 'full' });
  });
});
