import { readFileSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JiraSimulator, type JiraSimulatorOptions } from '../../connectors/jira/simulator/jira-simulator.ts';
import { checkResponse } from '../fixtures/jira/openapi/check-response.ts';

const BASE = 'https://acme.atlassian.net';
const AUTH = `Basic ${Buffer.from('ops@acme.example:token-1').toString('base64')}`;
const errorSamples = JSON.parse(readFileSync(new URL('../fixtures/jira/error-responses.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

let now = Date.UTC(2024, 0, 1, 10, 0, 30);
function simulator(extra: Partial<JiraSimulatorOptions> = {}): JiraSimulator {
  const sim = new JiraSimulator({ baseUrl: BASE, clock: () => now, auth: { basic: [{ email: 'ops@acme.example', apiToken: 'token-1' }] }, ...extra });
  server.resetHandlers(...sim.handlers());
  return sim;
}

async function search(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> & { issues?: Record<string, unknown>[] } }> {
  const res = await fetch(`${BASE}/rest/api/3/search/jql`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const keysOf = (issues: Record<string, unknown>[] | undefined): string[] => (issues ?? []).map((i) => i.key as string);

beforeEach(() => {
  now = Date.UTC(2024, 0, 1, 10, 0, 30);
});

describe('enhanced search /rest/api/3/search/jql', () => {
  it('pages with nextPageToken until isLast, capping pages at 100 when fields are requested', async () => {
    const sim = simulator();
    now = Date.UTC(2024, 2, 1);
    sim.bulkCreateIssues(230, { seed: 7 });
    const seen: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    let updatedSeq: number[] = [];
    const lastFlags: { isLast: unknown; hasToken: boolean }[] = [];
    for (let guard = 0; guard < 10; guard++) {
      const page = await search({ jql: 'project = ITSM ORDER BY updated ASC, key ASC', fields: ['summary', 'updated'], maxResults: 500, ...(token ? { nextPageToken: token } : {}) });
      expect(page.status).toBe(200);
      expect(page.body).not.toHaveProperty('total');
      expect(checkResponse('POST /rest/api/3/search/jql', 200, page.body)).toEqual([]);
      sizes.push(page.body.issues?.length ?? 0);
      seen.push(...keysOf(page.body.issues));
      updatedSeq = updatedSeq.concat((page.body.issues ?? []).map((i) => Date.parse(String((i.fields as { updated: string }).updated).replace(/(\d{2})(\d{2})$/, '$1:$2'))));
      token = page.body.nextPageToken as string | undefined;
      lastFlags.push({ isLast: page.body.isLast, hasToken: typeof token === 'string' });
      if (page.body.isLast === true) break;
    }
    expect(lastFlags).toEqual([
      { isLast: false, hasToken: true },
      { isLast: false, hasToken: true },
      { isLast: true, hasToken: false },
    ]);
    expect(sizes).toEqual([100, 100, 30]);
    expect(new Set(seen).size).toBe(230);
    expect(updatedSeq).toEqual(updatedSeq.toSorted((a, b) => a - b));
  });

  it('returns only ids by default and up to 5000 per page for id-only requests', async () => {
    const sim = simulator();
    now = Date.UTC(2024, 2, 1);
    sim.bulkCreateIssues(1200, { seed: 1 });
    const page = await search({ jql: 'project = ITSM', maxResults: 5000 });
    expect(page.body.isLast).toBe(true);
    expect(page.body.issues).toHaveLength(1200);
    expect(Object.keys(page.body.issues?.[0] ?? {})).toEqual(['id']);
  });

  it('compares updated at minute precision in the site time zone', async () => {
    const sim = simulator({ timeZone: 'Asia/Kolkata' });
    now = Date.UTC(2024, 0, 1, 10, 0, 30, 250);
    const early = sim.createIssue({ summary: 'first' }).key;
    now = Date.UTC(2024, 0, 1, 10, 1, 45, 500);
    const late = sim.createIssue({ summary: 'second' }).key;
    // 10:00:30Z is 15:30:30 IST and 10:01:45Z is 15:31:45 IST.
    const run = async (clause: string): Promise<string[]> => keysOf((await search({ jql: `project = ITSM AND ${clause} ORDER BY key ASC`, fields: ['updated'] })).body.issues);
    expect(await run('updated >= "2024-01-01 15:30"')).toEqual([early, late]);
    expect(await run('updated > "2024-01-01 15:30"')).toEqual([late]);
    expect(await run('updated >= "2024-01-01 15:31"')).toEqual([late]);
    expect(await run('updated <= "2024-01-01 15:30"')).toEqual([early]);
    expect(await run('updated >= "2024/01/01 15:32"')).toEqual([]);
    const rendered = (await search({ jql: `key = ${late}`, fields: ['updated'] })).body.issues?.[0]?.fields as { updated: string };
    expect(rendered.updated).toBe('2024-01-01T15:31:45.500+0530');
    const withSeconds = await search({ jql: 'project = ITSM AND updated >= "2024-01-01 15:30:10"' });
    expect(withSeconds.status).toBe(400);
    expect((withSeconds.body.errorMessages as string[])[0]).toContain("Date value '2024-01-01 15:30:10' for field 'updated' is invalid");
  });

  it('filters by project, issue type and key lists', async () => {
    const sim = simulator({ projects: [{ key: 'ITSM', name: 'IT' }, { key: 'OPS', name: 'Ops' }] });
    const a = sim.createIssue({ summary: 'change' }).key;
    const b = sim.createIssue({ summary: 'incident' }, { issueType: '[System] Incident' }).key;
    const c = sim.createIssue({ summary: 'ops change' }, { project: 'OPS' }).key;
    const q = async (jql: string): Promise<string[]> => keysOf((await search({ jql: `${jql} ORDER BY key ASC`, fields: ['summary'] })).body.issues);
    expect(await q('project in (ITSM, OPS) AND issuetype in ("[System] Change")')).toEqual([a, c]);
    expect(await q('project = ITSM AND issuetype = "[System] Incident"')).toEqual([b]);
    expect(await q(`key in (${c}, ${a})`)).toEqual([a, c]);
    const unknown = await search({ jql: 'project = NOPE' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errorMessages).toEqual(["The value 'NOPE' does not exist for the field 'project'."]);
  });

  it('refuses unbounded JQL with Jira’s 400 body', async () => {
    simulator();
    for (const jql of ['order by key', '']) {
      const res = await search({ jql });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errorMessages: ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.'], errors: {} });
    }
    const count = await fetch(`${BASE}/rest/api/3/search/approximate-count`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ jql: 'order by updated' }) });
    expect(count.status).toBe(400);
  });

  it('answers the removed /search with 410 Gone and the exact Jira body', async () => {
    simulator();
    const get = await fetch(`${BASE}/rest/api/3/search?jql=project%3DITSM`, { headers: { authorization: AUTH } });
    const post = await fetch(`${BASE}/rest/api/2/search`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: '{"jql":"project = ITSM"}' });
    expect(get.status).toBe(410);
    expect(post.status).toBe(410);
    expect(await get.json()).toEqual(errorSamples.legacy_search_410_real_capture);
    expect(await post.json()).toEqual(errorSamples.legacy_search_410_real_capture);
  });

  it('hides a just-created issue and serves the old version of a just-updated one until the lag passes', async () => {
    const sim = simulator({ searchLagMs: 5000 });
    const key = sim.createIssue({ summary: 'before' }).key;
    now += 120_000;
    sim.editIssue(key, { summary: 'after' });
    const fresh = sim.createIssue({ summary: 'brand new' }).key;
    const minute = new Date(now).toISOString().slice(0, 16).replace('T', ' ');
    const all = await search({ jql: 'project = ITSM', fields: ['summary'] });
    expect(keysOf(all.body.issues)).toEqual([key]);
    expect((all.body.issues?.[0]?.fields as { summary: string } | undefined)?.summary).toBe('before');
    expect(keysOf((await search({ jql: `project = ITSM AND updated >= "${minute}"`, fields: ['summary'] })).body.issues)).toEqual([]);
    // Read-your-write holds for GET issue and for reconcileIssues.
    const direct = (await (await fetch(`${BASE}/rest/api/3/issue/${key}?fields=summary`, { headers: { authorization: AUTH } })).json()) as { fields: { summary: string } };
    expect(direct.fields.summary).toBe('after');
    const reconciled = await search({ jql: 'project = ITSM', fields: ['summary'], reconcileIssues: [Number(sim.issue(fresh).id)] });
    expect(keysOf(reconciled.body.issues).toSorted()).toEqual([key, fresh].toSorted());
    now += 5000;
    const later = await search({ jql: `project = ITSM AND updated >= "${minute}" ORDER BY key ASC`, fields: ['summary'] });
    expect(keysOf(later.body.issues)).toEqual([key, fresh]);
    expect((later.body.issues?.[0]?.fields as { summary: string } | undefined)?.summary).toBe('after');
  });

  it('caps expanded changelogs at 20 histories in search results', async () => {
    const sim = simulator();
    const key = sim.createIssue({ summary: 'v0' }).key;
    for (let i = 1; i <= 25; i++) sim.editIssue(key, { summary: `v${i}` });
    const res = await search({ jql: `key = ${key}`, fields: ['summary'], expand: 'changelog' });
    const changelog = res.body.issues?.[0]?.changelog as { histories: { items: { toString: string }[] }[]; total: number; startAt: number };
    expect(changelog.total).toBe(25);
    expect(changelog.histories).toHaveLength(20);
    expect(changelog.startAt).toBe(5);
    expect(changelog.histories.at(-1)?.items[0]?.toString).toBe('v25');
  });
});

describe('Data Center search', () => {
  const PAT = 'pat-dc-1';
  const dc = (): JiraSimulator => simulator({ flavor: 'datacenter', baseUrl: 'https://jira.acme.internal/jira', auth: { bearer: [PAT] } });
  const get = (path: string): Promise<Response> => fetch(`https://jira.acme.internal/jira${path}`, { headers: { authorization: `Bearer ${PAT}` } });
  const send = (method: string, path: string, body: unknown): Promise<Response> =>
    fetch(`https://jira.acme.internal/jira${path}`, { method, headers: { authorization: `Bearer ${PAT}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('pages /rest/api/2/search with startAt, maxResults and total', async () => {
    const sim = dc();
    now = Date.UTC(2024, 2, 1);
    sim.bulkCreateIssues(120, { seed: 5 });
    const keys: string[] = [];
    for (let startAt = 0; startAt < 120; startAt += 50) {
      const res = await get(`/rest/api/2/search?jql=${encodeURIComponent('project = ITSM ORDER BY key ASC')}&startAt=${startAt}&maxResults=50&fields=summary,reporter,description`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { startAt: number; maxResults: number; total: number; issues: { key: string; fields: { reporter: Record<string, unknown> } }[] };
      expect(body.startAt).toBe(startAt);
      expect(body.total).toBe(120);
      expect(body.issues[0]?.fields.reporter).toHaveProperty('name');
      expect(body.issues[0]?.fields.reporter).not.toHaveProperty('accountId');
      keys.push(...body.issues.map((i) => i.key));
    }
    expect(new Set(keys).size).toBe(120);
  });

  it('takes wiki-markup strings and users by name on writes', async () => {
    const sim = dc();
    const key = sim.createIssue({ summary: 'DC change' }).key;
    const plan = sim.fieldId('Backout plan');
    expect((await send('PUT', `/rest/api/2/issue/${key}`, { fields: { assignee: { name: 'bob.implementer' }, [plan]: 'h3. Roll back\n* restore snapshot' } })).status).toBe(204);
    expect((await send('PUT', `/rest/api/2/issue/${key}`, { fields: { assignee: { accountId: sim.user('bob.implementer').accountId } } })).status).toBe(400);
    expect((await send('POST', `/rest/api/2/issue/${key}/comment`, { body: '*bold* evidence' })).status).toBe(201);
    const issue = (await (await get(`/rest/api/2/issue/${key}?expand=changelog`)).json()) as { fields: Record<string, unknown> & { assignee: Record<string, unknown>; comment: { comments: { body: unknown }[] } }; changelog: { histories: { items: { field: string; to: string | null }[] }[] } };
    expect(issue.fields.assignee).toMatchObject({ name: 'bob.implementer', key: expect.stringMatching(/^JIRAUSER/) });
    expect(issue.fields[plan]).toBe('h3. Roll back\n* restore snapshot');
    expect(issue.fields.comment.comments[0]?.body).toBe('*bold* evidence');
    expect(issue.changelog.histories[0]?.items.find((i) => i.field === 'assignee')?.to).toBe('bob.implementer');
  });

  it('has no /search/jql and no /rest/api/3', async () => {
    dc();
    expect((await get('/rest/api/2/search/jql?jql=project%3DITSM')).status).toBe(404);
    expect((await get('/rest/api/3/myself')).status).toBe(404);
    expect((await get('/rest/api/2/myself')).status).toBe(200);
  });
});
