// An auditor paging GET /v1/changes/:key/history while the change is live:
// a write-back settles, or an approval is decided, between two page reads.
// Its `at` moves (queued → settled, last update → decision), yet every entry
// must come exactly once, in either order: the list is ordered by when each
// entry first appeared, which never moves.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { registry } from '../../src/app/registry.ts';
import { demoConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log.ts';

let dir: string;
let app: ChangegateApp;
/** Two changes, each with an approval requested an hour before the first sync (older than its assessments). */
const requested: { change: { key: string }; approvalId: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-history-paging-'));
  const base = demoConfig(registry, {}).config;
  app = await createApp({ config: { ...base, store: { kind: 'sqlite', path: join(dir, 'changegate.db') } }, file: null, registry }, { logger: createLogger({ level: 'silent' }), demoCount: 12 });
  const sim = app.demo?.simulators.servicenow;
  if (sim === undefined) throw new Error('no demo');
  for (const row of sim.listChanges().slice(0, 2)) {
    const approval = sim.addApproval(String(row.sys_id), { approver: 'admin', state: 'requested' }, { at: new Date(Date.now() - 3_600_000), touchParent: false });
    requested.push({ change: { key: String(row.number) }, approvalId: String(approval.sys_id) });
  }
  for (const id of app.engine.instanceIds()) await app.engine.sync(id);
  await app.outboxWorker.drain();
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Entry {
  id: string;
  at: string;
  kind: string;
  [field: string]: unknown;
}

interface Page {
  items: Entry[];
  nextCursor: string | null;
}

async function page(key: string, order: 'asc' | 'desc', cursor: string | null): Promise<Page> {
  const response = await app.server().inject({ method: 'GET', url: `/v1/changes/${key}/history?order=${order}&limit=1${cursor === null ? '' : `&cursor=${cursor}`}` });
  expect(response.statusCode).toBe(200);
  return response.json() as Page;
}

/**
 * Pages through the whole history one entry a page, calling `meanwhile` once, right after the
 * page on which `trigger` says yes. Returns the ids read, in order.
 */
async function pageThrough(key: string, order: 'asc' | 'desc', trigger: (seen: Entry[]) => boolean, meanwhile: () => Promise<void>): Promise<string[]> {
  const seen: Entry[] = [];
  let cursor: string | null = null;
  let done = false;
  do {
    const p = await page(key, order, cursor);
    seen.push(...p.items);
    cursor = p.nextCursor;
    if (!done && trigger(seen)) {
      done = true;
      // A later clock than anything read so far, whatever the timer's resolution.
      await new Promise((r) => setTimeout(r, 5));
      await meanwhile();
    }
  } while (cursor !== null && seen.length < 500);
  expect(done).toBe(true);
  return seen.map((e) => e.id);
}

async function fullHistory(key: string): Promise<Entry[]> {
  const response = await app.server().inject({ method: 'GET', url: `/v1/changes/${key}/history?order=asc&limit=1000` });
  expect(response.statusCode).toBe(200);
  return (response.json() as Page).items;
}

/** A mirrored ServiceNow change with no approval of the test's: a different one for each test. */
async function nthChange(n: number): Promise<{ key: string; id: string; nativeId: string }> {
  const change = (await app.store.listChanges({ instance: 'sn-demo', limit: 100 })).items.filter((c) => !requested.some((r) => r.change.key === c.key))[n];
  if (change === undefined) throw new Error(`fewer than ${n + 1} changes mirrored`);
  return change;
}

/** Queues a note for the change, as of an hour ago: older than its assessments, so it sits inside the history. */
async function queueNote(change: { id: string; nativeId: string }, name: string): Promise<string> {
  await app.outbox.enqueue(
    [{ instance: 'sn-demo', changeId: change.id, nativeId: change.nativeId, source: 'evidence', idempotencyKey: `${change.id}:paging-test:${name}`, payload: { action: 'comment', note: { title: name, tone: 'info', lines: ['queued by the paging test'] } } }],
    new Date(Date.now() - 3_600_000),
  );
  const item = await app.outbox.get(`${change.id}:paging-test:${name}`);
  return `write-back:${String(item?.id).padStart(12, '0')}`;
}

describe('paging the history while entries settle', () => {
  for (const order of ['desc', 'asc'] as const) {
    it(`${order === 'desc' ? 'newest' : 'oldest'} first: a write-back settling between two pages is listed once`, async () => {
      const change = await nthChange(order === 'desc' ? 0 : 1);
      const id = await queueNote(change, order);
      const before = await fullHistory(change.key);
      expect(before.find((e) => e.id === id)).toMatchObject({ status: 'pending', postedAt: null });
      // Newest first: it settles once the first page is read (it is further down). Oldest first: right after its own page.
      const ids = await pageThrough(change.key, order, (seen) => (order === 'desc' ? seen.length === 1 : seen.some((e) => e.id === id)), async () => {
        await app.outboxWorker.drain();
      });
      expect(ids.filter((x) => x === id)).toEqual([id]);
      expect(ids.filter((x, i) => ids.indexOf(x) !== i)).toEqual([]);
      expect(before.map((e) => e.id).filter((x) => !ids.includes(x))).toEqual([]);
      // Shown as it stands now, in the place it first had.
      const queued = before.find((e) => e.id === id);
      const settled = (await fullHistory(change.key)).find((e) => e.id === id);
      expect(settled).toMatchObject({ status: 'done', postedAt: expect.any(String), firstAt: queued?.['createdAt'], createdAt: queued?.['createdAt'] });
      expect(Date.parse(settled?.at ?? '')).toBeGreaterThan(Date.parse(queued?.at ?? ''));
    });
  }

  for (const order of ['desc', 'asc'] as const) {
    it(`${order === 'desc' ? 'newest' : 'oldest'} first: an approval decided between two pages is listed once, with its decision`, async () => {
      const sim = app.demo?.simulators.servicenow;
      if (sim === undefined) throw new Error('no demo');
      const { change, approvalId } = requested[order === 'desc' ? 0 : 1] ?? { change: { key: '' }, approvalId: '' };
      const id = `approval:${approvalId}`;
      const before = await fullHistory(change.key);
      expect(before.find((e) => e.id === id)).toMatchObject({ decision: 'requested', decidedAt: null });
      // Newest first: decided once the first page is read (the approval is further down). Oldest first: right after its own page.
      const ids = await pageThrough(change.key, order, (seen) => (order === 'desc' ? seen.length === 1 : seen.some((e) => e.id === id)), async () => {
        sim.updateApproval(approvalId, { state: 'approved' }, { touchParent: false });
        await app.engine.sync('sn-demo');
      });
      expect(ids.filter((x) => x === id)).toEqual([id]);
      expect(ids.filter((x, i) => ids.indexOf(x) !== i)).toEqual([]);
      expect(before.map((e) => e.id).filter((x) => !ids.includes(x))).toEqual([]);
      const decided = (await fullHistory(change.key)).find((e) => e.id === id);
      expect(decided).toMatchObject({ decision: 'approved', decidedAt: expect.any(String), firstAt: before.find((e) => e.id === id)?.['firstAt'] });
      expect(Date.parse(decided?.at ?? '')).toBeGreaterThan(Date.parse(String(decided?.['firstAt'])));
    });
  }
});
