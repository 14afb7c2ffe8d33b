// A corrupt page and a full disk under a running `serve`. The disk is played
// by capping SQLite's `max_page_count` on every connection changegate opened
// (the file cannot grow: SQLITE_FULL, as on a full disk). Each turns /readyz
// to 503 with its reason, webhooks to 503, and validate to the fail mode; a
// freed disk brings all back, a corrupt store stays unready.

import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DemoInstances } from '../../src/app/demo-instances.ts';
import { startSimulators, startWorld, type StoreWorld } from './store-health-world.ts';

let dir: string;
let demo: DemoInstances;
let world: StoreWorld | undefined;

beforeAll(async () => {
  demo = await startSimulators();
});

afterEach(async () => {
  await world?.close();
  world = undefined;
  rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await demo?.close();
});

const pragma = (db: DatabaseSync, name: string): number => Number(Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0]);

describe('a full disk', () => {
  it('turns /readyz to 503 full, webhooks to 503, validate to the fail mode, syncs to the store code; freed, all is back', { timeout: 120_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-store-full-'));
    const connections: DatabaseSync[] = [];
    world = await startWorld(demo, dir, { configure: (db) => connections.push(db) });
    await world.settled();
    expect((await world.get('/readyz')).status).toBe(200);

    // Ports and the health probe alike: the file cannot grow by a page.
    for (const db of connections) db.exec(`PRAGMA max_page_count = ${pragma(db, 'page_count')}`);
    await world.readyzBecomes(503, { ok: false, reason: 'full' }, 5_000);

    const webhook = await world.webhook();
    expect(webhook.status).toBe(503);
    expect(webhook.headers.get('retry-after')).toBe('5');
    expect(webhook.body).toMatchObject({ error: { code: 'CG_STORE_UNAVAILABLE', details: { reason: 'full' } } });
    expect((await world.validate('sn-demo')).body).toMatchObject({ allow: false, failMode: 'closed', reasons: [expect.stringContaining('disk holding the store is full')] });
    expect((await world.validate('jsm-demo')).body).toMatchObject({ allow: true, failMode: 'open', reasons: [expect.stringContaining('disk holding the store is full')] });

    // New changes need new pages: the sync fails with the store's code and readiness shows it.
    for (let i = 0; i < 40; i++) demo.simulators.servicenow.createChange({ short_description: `Added while the disk is full ${i} ${'x'.repeat(2_000)}`, type: 'normal' });
    await expect(world.app.engine.sync('sn-demo')).rejects.toMatchObject({ code: 'CG_STORE_UNAVAILABLE', details: { reason: 'full' } });
    const instances = (await world.get('/readyz')).body['instances'] as { id: string; lastError: { code: string } | null }[];
    expect(instances.find((i) => i.id === 'sn-demo')?.lastError).toMatchObject({ code: 'CG_STORE_UNAVAILABLE' });

    for (const db of connections) db.exec('PRAGMA max_page_count = 1073741823');
    await world.readyzBecomes(200, { ok: true }, 30_000);
    expect((await world.webhook()).status).toBe(202);
    await world.app.engine.sync('sn-demo');
    expect(await world.app.store.countChanges('sn-demo')).toBe(demo.simulators.servicenow.listChanges().length);
  });
});

describe('a corrupt page', () => {
  it('turns /readyz to 503 corrupt, reads and webhooks to 503 (not 500), and stays so', { timeout: 120_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-store-corrupt-'));
    world = await startWorld(demo, dir, { quickCheckEveryMs: 500 });
    await world.settled();
    expect((await world.get('/v1/changes?limit=5')).status).toBe(200);

    // The mirror's pages into the main file, then garbage over the root page of the changes table.
    const side = new DatabaseSync(world.path);
    side.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const root = Number((side.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'changes'`).get() as { rootpage: number }).rootpage);
    const pageSize = pragma(side, 'page_size');
    side.close();
    const fd = openSync(world.path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (root - 1) * pageSize);
    closeSync(fd);

    await world.readyzBecomes(503, { ok: false, reason: 'corrupt' }, 5_000);
    const list = await world.get('/v1/changes?limit=5');
    expect(list.status).toBe(503);
    expect(list.body).toMatchObject({ error: { code: 'CG_STORE_UNAVAILABLE', details: { reason: 'corrupt' } } });
    const webhook = await world.webhook();
    expect(webhook.status).toBe(503);
    expect(webhook.body).toMatchObject({ error: { code: 'CG_STORE_UNAVAILABLE', details: { reason: 'corrupt' } } });
    expect((await world.validate('sn-demo')).body).toMatchObject({ allow: false, failMode: 'closed', reasons: [expect.stringContaining('corrupt')] });

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await world.get('/readyz')).body).toMatchObject({ status: 'unready', store: { reason: 'corrupt' } });
  });
});
