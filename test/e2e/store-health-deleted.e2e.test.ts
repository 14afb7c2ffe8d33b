// The store directory deleted under a running `serve` with write-back on:
// /readyz says `missing` within 5 s, webhooks get 503 (the sender retries; a
// 202 would be a delivery kept nowhere), a sync fails with the store's code.
// Restarted on a fresh store against the same sites, changegate re-assesses
// every change and finds its verdicts on the tickets: no ticket gets a second
// verdict note.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoInstances } from '../../src/app/demo-instances.ts';
import { startSimulators, startWorld, type StoreWorld } from './store-health-world.ts';

let dir: string;
let demo: DemoInstances;
let world: StoreWorld | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-store-deleted-'));
  demo = await startSimulators();
});

afterAll(async () => {
  await world?.close();
  await demo?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** changegate's notes on every ticket of both sites: ServiceNow work notes carrying its marker, Jira comments carrying its property. */
function notesPerTicket(): Map<string, number> {
  const notes = new Map<string, number>();
  const sn = demo.simulators.servicenow;
  for (const change of sn.listChanges()) {
    const id = String(change.sys_id);
    notes.set(`sn:${id}`, sn.journalFor(id).filter((r) => r.element === 'work_notes' && String(r.value).includes('[changegate:')).length);
  }
  const jira = demo.simulators.jira;
  for (const issue of jira.store.all) {
    notes.set(`jira:${issue.key}`, jira.issue(issue.key).comments.filter((c) => (c.properties ?? []).length > 0).length);
  }
  return notes;
}

describe('the store deleted under a running serve', () => {
  it('is seen within 5 s, refuses work it cannot keep, and after a restart on a fresh store no ticket gets a second verdict note', { timeout: 120_000 }, async () => {
    world = await startWorld(demo, dir);
    await world.settled();
    const before = notesPerTicket();
    const noted = [...before.values()].filter((n) => n > 0).length;
    // Verdicts were written back on both sites: the restart has something to double.
    expect(noted).toBeGreaterThanOrEqual(10);

    rmSync(join(dir, 'store'), { recursive: true, force: true });
    const unready = await world.readyzBecomes(503, { ok: false, reason: 'missing' }, 5_000);
    expect(unready.body).toMatchObject({ status: 'unready', store: { since: expect.any(String) } });

    const webhook = await world.webhook();
    expect(webhook.status).toBe(503);
    expect(webhook.headers.get('retry-after')).toBe('5');
    expect(webhook.body).toMatchObject({ error: { code: 'CG_STORE_UNAVAILABLE', details: { reason: 'missing' } } });

    const [first] = demo.simulators.servicenow.listChanges();
    demo.simulators.servicenow.updateChange(String(first?.sys_id), { short_description: 'Edited after the store was deleted' });
    await expect(world.app.engine.sync('sn-demo')).rejects.toMatchObject({ code: 'CG_STORE_UNAVAILABLE', details: { reason: 'missing' } });
    const instances = (await world.get('/readyz')).body['instances'] as { id: string; lastError: { code: string } | null }[];
    expect(instances.find((i) => i.id === 'sn-demo')?.lastError).toMatchObject({ code: 'CG_STORE_UNAVAILABLE' });

    // A missing store does not come back by itself, even when the path names a file again (another one).
    mkdirSync(dirname(world.path), { recursive: true });
    writeFileSync(world.path, '');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await world.get('/readyz')).status).toBe(503);

    await world.close();
    world = await startWorld(demo, dir);
    await world.settled();
    await world.readyzBecomes(200, { ok: true }, 30_000);
    expect((await world.app.store.getChange(`servicenow:sn-demo:${String(first?.sys_id)}`))?.change.title).toBe('Edited after the store was deleted');
    expect(notesPerTicket()).toEqual(before);
    expect((await world.webhook()).status).toBe(202);
  });
});
