// What an auditor sees of one change through GET /v1/changes/:key/history: the
// demo's tickets, mirrored, assessed and written back to (as `serve` does),
// then changed by a person. Every revision names its author, changegate's own
// write-backs are marked as changegate's, and approvals, assessments,
// write-backs and enforcement come in one time-ordered list.

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

async function syncAll(): Promise<void> {
  for (const id of app.engine.instanceIds()) await app.engine.sync(id);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-history-'));
  const base = demoConfig(registry, {}).config;
  app = await createApp({ config: { ...base, store: { kind: 'sqlite', path: join(dir, 'changegate.db') } }, file: null, registry }, { logger: createLogger({ level: 'silent' }), demoCount: 40 });
  await syncAll();
  await app.outboxWorker.drain();
  // The write-backs come back as revisions by the integration user.
  await syncAll();
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (url: string) => app.server().inject({ method: 'GET', url });

interface Entry {
  id: string;
  at: string;
  firstAt: string;
  kind: string;
  by: { id: string; name: string | null } | 'changegate' | null;
  byUnknown?: string;
  [field: string]: unknown;
}

async function history(key: string, query = ''): Promise<Entry[]> {
  const response = await get(`/v1/changes/${key}/history${query}`);
  expect(response.statusCode).toBe(200);
  return (response.json() as { items: Entry[] }).items;
}

/** A change of `instance` changegate wrote a note to. */
async function writtenTo(instance: string): Promise<{ key: string; id: string; nativeId: string }> {
  const done = await app.outbox.list({ status: 'done', limit: 1000 });
  const item = done.find((i) => i.instance === instance && i.action === 'comment');
  if (item === undefined) throw new Error(`no note was written to ${instance}`);
  const change = (await app.store.getChange(item.changeId))?.change;
  if (change === undefined) throw new Error('unmirrored');
  return { key: change.key, id: change.id, nativeId: change.nativeId };
}

describe('GET /v1/changes/:key/history', () => {
  it('lists a ServiceNow change\'s revisions with their authors, its assessments and write-backs, oldest first, and marks changegate\'s own write-back revision', async () => {
    const { key } = await writtenTo('sn-demo');
    const entries = await history(key, '?order=asc');
    // In the order each entry first appeared; a settled write-back shows when it settled, in its queued place.
    expect(entries.map((e) => Date.parse(e.firstAt))).toEqual(entries.map((e) => Date.parse(e.firstAt)).toSorted((a, b) => a - b));
    for (const e of entries) expect(e.firstAt).toBe(e.kind === 'write-back' ? e['createdAt'] : e.at);
    const revisions = entries.filter((e) => e.kind === 'revision');
    const first = revisions[0];
    // The demo's records are last updated by people (sys_updated_by): none is anonymous.
    expect(first).toMatchObject({ seq: 1, by: { id: expect.stringMatching(/^[a-z]+\.[a-z]+$/) }, summary: [expect.stringMatching(/^first seen in state /)] });
    // The verdict fields and the work note came back as a revision by the integration user: changegate's own.
    expect(revisions[1]).toMatchObject({ seq: 2, by: 'changegate', author: { id: 'admin', name: null } });
    const writes = entries.filter((e) => e.kind === 'write-back');
    expect(writes.map((w) => w['action']).toSorted()).toEqual(['comment', 'set-verdict']);
    for (const w of writes) {
      expect(w).toMatchObject({ by: 'changegate', ticket: key, status: 'done', attempts: 1, result: 'written', postedAt: expect.any(String), error: null });
    }
    expect(writes.find((w) => w['action'] === 'comment')?.['what']).toMatch(new RegExp(`^note "${key} [^"]+"$`));
    const assessment = entries.find((e) => e.kind === 'assessment');
    expect(assessment).toMatchObject({ by: 'changegate', revision: 1, policyVersion: app.policy.version, recommendation: expect.stringMatching(/^(Go|No-Go|Conditional Go)$/) });
    // The verdict written back says what the assessment blocked.
    const blocked = assessment?.['blocked'] as { to: string; reasons: string[] }[];
    expect(blocked.length).toBeGreaterThan(0);
    expect(blocked.every((b) => b.reasons.length > 0)).toBe(true);
  });

  it('names the person behind a later edit, newest first, with what they changed', async () => {
    const { key, nativeId } = await writtenTo('sn-demo');
    app.demo?.simulators.servicenow.updateChange(nativeId, { short_description: 'Rollback rehearsed on staging' }, { user: 'beth.anglin' });
    await app.engine.sync('sn-demo');
    const [newest] = (await history(key)).filter((e) => e.kind === 'revision');
    expect(newest).toMatchObject({ by: { id: 'beth.anglin', name: null }, author: { id: 'beth.anglin', name: null } });
    expect(newest?.['summary']).toContainEqual(expect.stringMatching(/^title: .* → Rollback rehearsed on staging$/));
  });

  it('shows the enforcement a forbidden move caused, and the explanation it queued, beside the person who made the move', async () => {
    const target = (await app.store.listChanges({ instance: 'sn-demo', state: 'new', limit: 100 })).items[0];
    expect(target).toBeDefined();
    const { key, nativeId } = target as { key: string; nativeId: string };
    // Straight from New to Implement, where no plugin stopped it.
    app.demo?.simulators.servicenow.updateChange(nativeId, { state: '-1' }, { user: 'dana.whitfield', enforceRules: false });
    await app.engine.sync('sn-demo');
    const entries = await history(key);
    const move = entries.find((e) => e.kind === 'revision');
    expect(move).toMatchObject({ by: { id: 'dana.whitfield' }, summary: expect.arrayContaining(['state: new → implement']) });
    const enforcement = entries.find((e) => e.kind === 'enforcement');
    expect(enforcement).toMatchObject({ by: 'changegate', from: 'new', to: 'implement', fromNative: '-5', toNative: '-1', mode: 'advisory', action: 'comment', reasons: expect.arrayContaining([expect.any(String)]) });
    expect(entries.some((e) => e.kind === 'write-back' && e['source'] === 'enforcement' && e['action'] === 'comment')).toBe(true);
  });

  it('lists ServiceNow approvals with approver, decision and decision time', async () => {
    const withApprovals = (await app.store.listChanges({ instance: 'sn-demo', limit: 100 })).items.find((c) => c.type === 'normal' && c.state === 'closed');
    const mirrored = await app.store.getChange(withApprovals?.id ?? '');
    const decided = mirrored?.approvals.find((a) => a.state === 'approved');
    expect(decided).toBeDefined();
    const entry = (await history(mirrored?.change.key ?? '')).find((e) => e.id === `approval:${decided?.id}`);
    expect(entry).toMatchObject({ kind: 'approval', at: decided?.decidedAt, by: decided?.approver, approver: decided?.approver, decision: 'approved', decidedAt: decided?.decidedAt });
  });

  it('marks the Jira comment changegate posted (a version by the integration account) as changegate\'s, with the account behind it', async () => {
    const { key } = await writtenTo('jsm-demo');
    const revisions = (await history(key, '?order=asc')).filter((e) => e.kind === 'revision');
    const own = revisions.filter((r) => r.by === 'changegate');
    expect(own.length).toBeGreaterThan(0);
    expect(own[0]?.['author']).toMatchObject({ id: expect.any(String), name: 'changegate' });
  });

  it('pages by cursor in either order without losing or repeating an entry', async () => {
    const { key } = await writtenTo('sn-demo');
    const all = await history(key, '?order=asc');
    expect(all.length).toBeGreaterThan(3);
    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const response = await get(`/v1/changes/${key}/history?order=${order}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
        const page = response.json() as { items: Entry[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(order === 'asc' ? all.map((e) => e.id) : all.map((e) => e.id).toReversed());
    }
    expect((await history(key)).map((e) => e.id)).toEqual(all.map((e) => e.id).toReversed());
  });

  it('refuses a history cursor given back with the other order or to the change list, 400 naming cursor, instead of answering a page from it', async () => {
    const { key } = await writtenTo('sn-demo');
    const first = async (url: string) => ((await get(url)).json() as { nextCursor: string | null }).nextCursor;
    const [desc, asc, list] = [await first(`/v1/changes/${key}/history?limit=1`), await first(`/v1/changes/${key}/history?order=asc&limit=1`), await first('/v1/changes?limit=1')];
    for (const [url, issuedFor] of [
      [`/v1/changes/${key}/history?order=asc&cursor=${desc}`, /a change history read newest first/],
      [`/v1/changes/${key}/history?cursor=${asc}`, /a change history read oldest first/],
      [`/v1/changes?cursor=${desc}`, /a change history read newest first/],
    ] as const) {
      const response = await get(url);
      expect({ url, status: response.statusCode }).toEqual({ url, status: 400 });
      expect(response.json()).toMatchObject({ error: { code: 'CG_INPUT_INVALID', message: expect.stringMatching(issuedFor), details: { field: 'cursor' } } });
    }
    // Each still continues where it was issued.
    expect((await get(`/v1/changes/${key}/history?order=asc&cursor=${asc}`)).statusCode).toBe(200);
    expect((await get(`/v1/changes?cursor=${list}`)).statusCode).toBe(200);
  });

  it('answers 400 naming the field for a bad parameter, and 404 for an unknown change', async () => {
    const { key } = await writtenTo('sn-demo');
    for (const [query, field] of [['limit=0', 'limit'], ['limit=ten', 'limit'], ['order=sideways', 'order'], ['cursor=%21%21', 'cursor'], ['since=yesterday', 'since']] as const) {
      const response = await get(`/v1/changes/${key}/history?${query}`);
      expect({ query, status: response.statusCode }).toEqual({ query, status: 400 });
      expect(response.json()).toMatchObject({ error: { code: 'CG_INPUT_INVALID', message: expect.stringContaining(field), details: { field } } });
    }
    const missing = await get('/v1/changes/CHG9999999/history');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'CG_NOT_FOUND' } });
  });
});
