// The Jira mirror records each version an issue really had, in order. A search
// answer can be older than what a webhook re-fetch already stored (a lagging
// index, a page served by nextPageToken, a changelog read after a capped
// search); its changelog must then be as old as its fields, or the store (which
// orders versions by native revision first) takes it for a newer version and
// rolls the mirror back to the older fields.

import { http } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraSimulator, type JiraSimulatorOptions } from '../../connectors/jira/simulator/jira-simulator.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { Revision } from '../../src/store/change-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const BASE = 'https://acme.atlassian.net';
const AUTH = `Basic ${Buffer.from('ops@acme.example:t-ops').toString('base64')}`;
const INSTANCE = 'jsm-versions';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const open: SqliteChangeStore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

function world(simOptions: Partial<JiraSimulatorOptions> = {}) {
  let now = Date.parse('2026-03-12T10:00:00.000Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const sim = new JiraSimulator({ baseUrl: BASE, clock: clock.now, auth: { basic: [{ email: 'ops@acme.example', apiToken: 't-ops' }] }, ...simOptions });
  server.resetHandlers(...sim.handlers());
  const instance = JiraInstance.parse({
    id: INSTANCE,
    system: 'jira',
    baseUrl: BASE,
    auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' },
    projects: ['ITSM'],
    overlap: '2m',
  });
  const connector = createJiraConnector(instance, { mapping: loadJiraMapping(), logger: pino({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 } });
  const store = SqliteChangeStore.open(':memory:');
  open.push(store);
  const engine = new SyncEngine({ store, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date(now) });
  engine.register({ connector, pageSize: 50, overlapMs: instance.overlap });
  const title = async (nativeId: string): Promise<string | undefined> => (await store.getChange(`jira:${INSTANCE}:${nativeId}`))?.change.title;
  const revisions = (nativeId: string): Promise<Revision[]> => store.listRevisions(`jira:${INSTANCE}:${nativeId}`);
  return { sim, engine, clock, title, revisions };
}

interface SearchAnswer {
  issues: { key: string; fields: { summary: string; comment: { total: number } }; changelog: { total: number } }[];
  nextPageToken?: string;
}

async function search(body: Record<string, unknown>): Promise<SearchAnswer> {
  const res = await fetch(`${BASE}/rest/api/3/search/jql`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as SearchAnswer;
}

/** Titles the revisions recorded, oldest first (each revision's diff says what it changed). */
function titles(history: Revision[]): string[] {
  const out: string[] = [];
  for (const revision of history) {
    const title = revision.diff.find((d) => d.path === 'title');
    if (title !== undefined) out.push(String(title.to));
  }
  return out;
}

describe('Jira mirror versions', () => {
  it('does not take a lagging search answer for a newer version than the one a webhook re-fetch stored', async () => {
    const { sim, engine, clock, title, revisions } = world({ searchLagMs: 30_000 });
    const issue = sim.createIssue({ summary: 'v0', 'Change type': 'Normal' });
    clock.advance(60_000);
    await engine.sync(INSTANCE);

    clock.advance(1_000);
    sim.editIssue(issue.key, { summary: 'v1' });
    clock.advance(1_000);
    await engine.syncOne(INSTANCE, issue.id);
    clock.advance(1_000);
    sim.editIssue(issue.key, { summary: 'v2' });
    clock.advance(1_000);
    // Search still serves v0 (both edits are inside the lag), which is older than the stored v1.
    await engine.sync(INSTANCE);
    expect(await title(issue.id)).toBe('v1');

    clock.advance(60_000);
    await engine.sync(INSTANCE);
    expect(await title(issue.id)).toBe('v2');
    const history = await revisions(issue.id);
    expect(titles(history)).toEqual(['v0', 'v1', 'v2']);
    expect(history.map((r) => r.nativeRevision)).toEqual([0, 1, 2]);
  });

  it('counts only the changelog of the version a capped search returned, though the full changelog is read after edits landed', async () => {
    const { sim, engine, clock, title, revisions } = world();
    const issue = sim.createIssue({ summary: 'v0', 'Change type': 'Normal' });
    for (let i = 1; i <= 25; i++) {
      clock.advance(1_000);
      sim.editIssue(issue.key, { summary: `v${i}` });
    }
    await engine.sync(INSTANCE);
    expect(await title(issue.id)).toBe('v25');

    clock.advance(1_000);
    sim.editIssue(issue.key, { summary: 'v26' });
    // The next search returns v26 with 20 of its 26 histories; before its full
    // changelog is read, a webhook re-fetch stores v27 and v28 lands.
    let raced = false;
    server.use(
      http.get(`${BASE}/rest/api/3/issue/:key/changelog`, async () => {
        if (raced) return undefined;
        raced = true;
        clock.advance(1_000);
        sim.editIssue(issue.key, { summary: 'v27' });
        await engine.syncOne(INSTANCE, issue.id);
        clock.advance(1_000);
        sim.editIssue(issue.key, { summary: 'v28' });
        return undefined;
      }),
    );
    clock.advance(1_000);
    await engine.sync(INSTANCE);
    expect(raced).toBe(true);
    expect(await title(issue.id)).toBe('v27');

    clock.advance(1_000);
    await engine.sync(INSTANCE);
    expect(await title(issue.id)).toBe('v28');
    const history = await revisions(issue.id);
    expect(titles(history)).toEqual(['v25', 'v27', 'v28']);
    expect(history.map((r) => r.nativeRevision)).toEqual([25, 27, 28]);
  });
});

describe('Jira simulator search versions', () => {
  it('serves a nextPageToken page as of the search: fields, changelog and comments of one version', async () => {
    const { sim, clock } = world();
    sim.createIssue({ summary: 'first', 'Change type': 'Normal' });
    clock.advance(1_000);
    const second = sim.createIssue({ summary: 'before', 'Change type': 'Normal' });
    const query = { jql: 'project = ITSM ORDER BY created ASC', fields: ['summary', 'comment'], expand: 'changelog', maxResults: 1 };
    const page1 = await search(query);
    clock.advance(1_000);
    sim.editIssue(second.key, { summary: 'after' });
    sim.addComment(second.key, 'after the search');

    const page2 = await search({ ...query, nextPageToken: page1.nextPageToken });
    const [served] = page2.issues;
    expect(served?.key).toBe(second.key);
    expect([served?.fields.summary, served?.changelog.total, served?.fields.comment.total]).toEqual(['before', 0, 0]);
  });
});
