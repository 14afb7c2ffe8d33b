// Working the webhook inbox: every delivery's record is re-fetched from the
// Jira simulator (never taken from the payload), late or reordered deliveries
// never roll the mirror back, failed re-fetches are retried with backoff and
// then given up on loudly (at once when a retry cannot help), a deleted issue
// is no error, and what a crashed process accepted is processed after the
// restart.

import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getResponse, http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BASE, createWorld, INSTANCE, SECRET, type Captured, type World } from './webhooks-world.ts';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledFrame: 'error' }));
afterAll(() => msw.close());

const dir = mkdtempSync(join(tmpdir(), 'cg-webhooks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const worlds: World[] = [];
async function world(...args: Parameters<typeof createWorld> extends [unknown, ...infer R] ? R : never): Promise<World> {
  const w = await createWorld(msw, ...args);
  worlds.push(w);
  return w;
}
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

const idOf = (d: Captured): string => d.headers['x-atlassian-webhook-identifier'] ?? '';
const changeId = (nativeId: string): string => `jira:${INSTANCE}:${nativeId}`;
/** A ceiling for waits on the processor, which polls on its own: far above what a loaded machine takes, reached only on failure. */
const SETTLED = { timeout: 15_000, interval: 20 };

async function post(w: World, d: Captured): Promise<void> {
  const response = await w.post(d.raw, d.headers);
  expect(response.statusCode).toBe(202);
}

describe('delivery processor', () => {
  it('costs one re-fetch for a burst of deliveries about one issue, in any order, and ends at the latest version', async () => {
    const w = await world();
    const issue = w.sim.createIssue({ summary: 'Patch kernel on hosts behind the API gateway' });
    for (const n of [1, 2, 3]) w.sim.editIssue(issue.key, { summary: `Patch kernel, take ${n}` });
    const made = await w.deliveriesMade();
    expect(made).toHaveLength(4);
    for (const d of made.toReversed()) await post(w, d);

    expect(await w.processor.drain()).toBe(4);
    expect(w.fetched).toEqual([issue.id]);
    expect((await w.changes.getChange(changeId(issue.id)))?.change.title).toBe('Patch kernel, take 3');
    for (const d of made) expect((await w.deliveries.get(`jira:${INSTANCE}:${idOf(d)}`))?.status).toBe('done');
  });

  it('costs one re-fetch per issue for a burst larger than a batch (500 deliveries naming 50 issues)', async () => {
    const w = await world();
    const issues = Array.from({ length: 50 }, (_, i) => w.sim.createIssue({ summary: `Rotate certificates of edge node ${i}` }));
    for (let round = 1; round <= 9; round++) issues.forEach((issue, i) => w.sim.editIssue(issue.key, { summary: `Rotate certificates of edge node ${i}, round ${round}` }));
    const made = await w.deliveriesMade();
    expect(made).toHaveLength(500);
    for (const d of made) await post(w, d);
    // The processor works after the burst was recorded.
    w.clock.advance(1_000);
    let claimed = 0;
    // A stopped processor drains one batch per call.
    for (let n = await w.processor.drain(); n > 0; n = await w.processor.drain()) claimed += n;
    expect(claimed).toBe(500);
    expect(w.fetched.toSorted()).toEqual(issues.map((i) => i.id).toSorted());
    for (const issue of issues) expect((await w.changes.getChange(changeId(issue.id)))?.change.title).toMatch(/, round 9$/);
  });

  it('fetches again for a delivery recorded after the last re-fetch of its issue started', async () => {
    const w = await world();
    const issue = w.sim.createIssue({ summary: 'Resize the search cluster' });
    for (const d of await w.deliveriesMade()) await post(w, d);
    w.clock.advance(1_000);
    await w.processor.drain();
    w.sim.editIssue(issue.key, { summary: 'Resize the search cluster to 9 nodes' });
    for (const d of await w.deliveriesMade()) await post(w, d);
    w.clock.advance(1_000);
    await w.processor.drain();
    expect(w.fetched).toEqual([issue.id, issue.id]);
    expect((await w.changes.getChange(changeId(issue.id)))?.change.title).toBe('Resize the search cluster to 9 nodes');
  });

  it('keeps the newer version when an older revision\'s delivery arrives after a newer one and its read is stale', async () => {
    const w = await world();
    // Serves the simulator's issue reads, or a stale copy of one when told to (a lagging replica).
    let stale: unknown = null;
    let lastRead: unknown = null;
    msw.use(
      http.get(`${BASE}/rest/api/3/issue/:id`, async ({ request }) => {
        if (stale !== null) return Response.json(stale);
        const response = (await getResponse(w.sim.handlers(), request)) as Response;
        lastRead = await response.clone().json();
        return response;
      }),
    );
    const issue = w.sim.createIssue({ summary: 'Migrate DNS records for billing' });
    await w.jira.fetchOne(issue.id);
    w.sim.editIssue(issue.key, { summary: 'Migrate DNS records for billing (first edit)' });
    const [, older] = await w.deliveriesMade();
    await w.jira.fetchOne(issue.id);
    const olderRead = lastRead;
    w.sim.editIssue(issue.key, { summary: 'Migrate DNS records for billing (second edit)' });
    const [newer] = await w.deliveriesMade();
    if (!older || !newer) throw new Error('the simulator made too few deliveries');

    await post(w, newer);
    await w.processor.drain();
    expect((await w.changes.getChange(changeId(issue.id)))?.change.title).toBe('Migrate DNS records for billing (second edit)');

    stale = olderRead;
    await post(w, older);
    await w.processor.drain();
    const mirrored = await w.changes.getChange(changeId(issue.id));
    expect(mirrored?.change.title).toBe('Migrate DNS records for billing (second edit)');
    expect(mirrored?.change.nativeRevision).toBe(issue.histories.length);
    expect((await w.changes.listRevisions(changeId(issue.id))).map((r) => r.nativeRevision)).toEqual([issue.histories.length]);
    const staleCount = (await w.metrics.syncRecords.get()).values.find((v) => v.labels['outcome'] === 'stale')?.value;
    expect(staleCount).toBe(1);
    expect((await w.deliveries.get(`jira:${INSTANCE}:${idOf(older)}`))?.status).toBe('done');
  });

  it('retries a failed re-fetch with backoff and mirrors the issue once the site recovers', async () => {
    const w = await world();
    const issue = w.sim.createIssue({ summary: 'Enable WAF rules on checkout' });
    const [d] = await w.deliveriesMade();
    if (!d) throw new Error('no delivery');
    w.sim.faults.every(1, { kind: 'server-error', status: 503 }, { path: `/issue/${issue.id}` });
    await post(w, d);

    await w.processor.drain();
    const key = `jira:${INSTANCE}:${idOf(d)}`;
    const failed = await w.deliveries.get(key);
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: new Date(w.clock.now().getTime() + 1_000).toISOString() });
    expect(failed?.lastError).toMatch(/^\[CG_UPSTREAM_UNAVAILABLE\]/);
    // Not due yet: nothing happens before the backoff has passed.
    expect(await w.processor.drain()).toBe(0);

    w.sim.faults.clear();
    w.clock.advance(1_000);
    expect(await w.processor.drain()).toBe(1);
    expect(await w.deliveries.get(key)).toMatchObject({ status: 'done', attempts: 2 });
    expect((await w.changes.getChange(changeId(issue.id)))?.change.title).toBe('Enable WAF rules on checkout');
    expect(await w.metric('retried')).toBe(1);
    expect(await w.metric('processed')).toBe(1);
  });

  it('gives up after the last attempt: the delivery stays failed, is counted and logged with its delivery id', async () => {
    const w = await world();
    const issue = w.sim.createIssue({ summary: 'Scale out the search cluster' });
    const [d] = await w.deliveriesMade();
    if (!d) throw new Error('no delivery');
    w.sim.faults.every(1, { kind: 'server-error', status: 503 }, { path: `/issue/${issue.id}` });
    await post(w, d);

    await w.processor.drain();
    w.clock.advance(1_000);
    await w.processor.drain();
    w.clock.advance(2_000);
    await w.processor.drain();

    const key = `jira:${INSTANCE}:${idOf(d)}`;
    expect(await w.deliveries.get(key)).toMatchObject({ status: 'failed', attempts: 3 });
    expect(await w.deliveries.pendingCount()).toBe(0);
    w.clock.advance(3_600_000);
    expect(await w.processor.drain()).toBe(0);
    expect(await w.metric('retried')).toBe(2);
    expect(await w.metric('failed')).toBe(1);
    const errors = w.lines.filter((l) => l['level'] === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ deliveryId: idOf(d), nativeId: issue.id, attempts: 3, code: 'CG_UPSTREAM_UNAVAILABLE' });
    expect(await w.changes.getChange(changeId(issue.id))).toBeNull();
  });

  it('ends a delivery at once as failed when its re-fetch meets a config error (credentials refused): no retry, no more upstream reads', async () => {
    const w = await world();
    const issue = w.sim.createIssue({ summary: 'Replace the load balancer certificate' });
    const [d] = await w.deliveriesMade();
    if (!d) throw new Error('no delivery');
    // A revoked API token: Jira answers 401 (after the client's own retry too), as its error body says.
    let reads = 0;
    msw.use(
      http.get(`${BASE}/rest/api/3/issue/:id`, () => {
        reads += 1;
        return HttpResponse.json({ errorMessages: ['Client must be authenticated to access this resource.'], errors: {} }, { status: 401, headers: { 'X-Seraph-LoginReason': 'AUTHENTICATED_FAILED' } });
      }),
    );
    await post(w, d);

    expect(await w.processor.drain()).toBe(1);
    const key = `jira:${INSTANCE}:${idOf(d)}`;
    const failed = await w.deliveries.get(key);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed?.lastError).toMatch(/^\[CG_JIRA_AUTH_REJECTED\]/);
    expect(await w.deliveries.pendingCount()).toBe(0);
    const readsOfOneAttempt = reads;
    w.clock.advance(3_600_000);
    expect(await w.processor.drain()).toBe(0);
    expect(reads).toBe(readsOfOneAttempt);
    expect(await w.metric('retried')).toBe(0);
    expect(await w.metric('failed')).toBe(1);
    const errors = w.lines.filter((l) => l['level'] === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ deliveryId: idOf(d), nativeId: issue.id, attempts: 1, code: 'CG_JIRA_AUTH_REJECTED', kind: 'config' });
  });

  it('keeps retrying a delivery whose re-fetch meets a store fault (CG_STORE_UNAVAILABLE, config-kind but healing), not ending it as a config error', async () => {
    mkdirSync(join(dir, 'fault'), { recursive: true });
    const changesPath = join(dir, 'fault', 'mirror.db');
    const w = await world({ changesPath });
    const issue = w.sim.createIssue({ summary: 'Rotate the payments database credentials' });
    const [d] = await w.deliveriesMade();
    if (!d) throw new Error('no delivery');
    await post(w, d);
    // The mirror's file deleted under the process: what the re-fetch writes would be kept nowhere, so it is refused.
    rmSync(changesPath);

    expect(await w.processor.drain()).toBe(1);
    const key = `jira:${INSTANCE}:${idOf(d)}`;
    const held = await w.deliveries.get(key);
    expect(held).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: new Date(w.clock.now().getTime() + 1_000).toISOString() });
    expect(held?.lastError).toMatch(/^\[CG_STORE_UNAVAILABLE\]/);
    // Due again after its backoff, and re-fetched again (the fault persists here, so it is retried again).
    w.clock.advance(1_000);
    expect(await w.processor.drain()).toBe(1);
    expect(await w.deliveries.get(key)).toMatchObject({ status: 'pending', attempts: 2 });
    expect(w.fetched).toEqual([issue.id, issue.id]);
    expect(await w.metric('retried')).toBe(2);
    expect(await w.metric('failed')).toBe(0);
    expect(w.lines.filter((l) => l['level'] === 50)).toEqual([]);
  });

  it('logs an issue deleted upstream and completes its delivery without an error', async () => {
    const w = await world();
    const deleted = JSON.stringify({ timestamp: Date.now(), webhookEvent: 'jira:issue_deleted', issue_event_type_name: 'issue_deleted', issue: { id: '99999', key: 'ITSM-999', fields: {} } });
    const response = await w.post(deleted, {
      'content-type': 'application/json',
      'x-atlassian-webhook-identifier': 'deleted-1',
      'x-hub-signature': `sha256=${createHmac('sha256', SECRET).update(deleted).digest('hex')}`,
    });
    expect(response.statusCode).toBe(202);

    await w.processor.drain();
    expect(w.fetched).toEqual(['99999']);
    expect(await w.deliveries.get(`jira:${INSTANCE}:deleted-1`)).toMatchObject({ status: 'done', attempts: 1 });
    expect(w.lines.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
    expect(w.lines.find((l) => l['nativeId'] === '99999')?.['msg']).toMatch(/no longer exists upstream/);
    expect(await w.metric('processed')).toBe(1);
  });

  it('processes after a restart what a crashed process had accepted, including a delivery it died working on', async () => {
    const files = { changesPath: join(dir, 'crash', 'changegate.db'), deliveriesPath: join(dir, 'crash', 'changegate.db') };
    const before = await world(files);
    const first = before.sim.createIssue({ summary: 'Upgrade PostgreSQL on orders-db' });
    const second = before.sim.createIssue({ summary: 'Roll back feature flag in payments' });
    const [d1, d2] = await before.deliveriesMade();
    if (!d1 || !d2) throw new Error('too few deliveries');
    await post(before, d1);
    await post(before, d2);
    // The process claims one delivery and dies before finishing it; the other was never touched.
    const [claimed] = await before.deliveries.claim(1, before.clock.now());
    expect(claimed?.deliveryId).toBe(idOf(d1));
    worlds.splice(worlds.indexOf(before), 1);
    await before.close();

    const after = await world({ ...files, sim: before.sim });
    after.processor.start();
    await vi.waitFor(async () => expect((await after.changes.getChange(changeId(second.id)))?.change.title).toBe('Roll back feature flag in payments'), SETTLED);
    // The one in hand at the crash comes back once its lease runs out.
    expect(await after.changes.getChange(changeId(first.id))).toBeNull();
    expect(await after.deliveries.pendingCount()).toBe(1);
    after.clock.advance(120_000);
    after.processor.kick();
    await vi.waitFor(async () => expect(await after.deliveries.pendingCount()).toBe(0), SETTLED);
    expect((await after.changes.getChange(changeId(first.id)))?.change.title).toBe('Upgrade PostgreSQL on orders-db');
    expect(await after.deliveries.get(`jira:${INSTANCE}:${idOf(d1)}`)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('forgets processed deliveries after the 7-day retention, after which a replay counts as new', async () => {
    const w = await world();
    w.sim.createIssue({ summary: 'Rotate TLS certificates for the API' });
    const [d] = await w.deliveriesMade();
    if (!d) throw new Error('no delivery');
    const key = `jira:${INSTANCE}:${idOf(d)}`;
    w.processor.start();
    await post(w, d);
    await vi.waitFor(async () => expect((await w.deliveries.get(key))?.status).toBe('done'), SETTLED);
    await w.processor.stop();

    w.clock.advance(6 * 24 * 3_600_000);
    w.processor.start();
    await w.processor.stop();
    expect((await w.post(d.raw, d.headers)).json()).toMatchObject({ duplicate: true });

    w.clock.advance(24 * 3_600_000 + 1);
    w.processor.start();
    await vi.waitFor(async () => expect(await w.deliveries.get(key)).toBeNull(), SETTLED);
    expect((await w.post(d.raw, d.headers)).json()).toMatchObject({ duplicate: false });
  });

  it('wakes up on each accepted delivery once started', async () => {
    const w = await world();
    w.processor.start();
    const issue = w.sim.createIssue({ summary: 'Deploy release 4.2 of the portal' });
    const [d] = await w.deliveriesMade();
    if (!d) throw new Error('no delivery');
    await post(w, d);
    await vi.waitFor(async () => expect((await w.changes.getChange(changeId(issue.id)))?.change.title).toBe('Deploy release 4.2 of the portal'), SETTLED);
    await w.processor.stop();
    expect(await w.deliveries.pendingCount()).toBe(0);
  });
});
