import { readFileSync } from 'node:fs';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamItem } from '../../src/kit/connector.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { isChangegateError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { API, BASE, changeIssue, comment, fieldsHandler, myselfHandler, noApprovalsHandler, siteFields, SITE_IDS, statusHistory } from '../support/jira-fake-site.ts';

type Obj = Record<string, unknown>;
const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../fixtures/jira/${name}`, import.meta.url), 'utf8')) as T;

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const mapping = loadJiraMapping();

function connectorFor(overrides: Obj = {}) {
  const instance = JiraInstance.parse({
    id: 'jsm-test',
    system: 'jira',
    baseUrl: BASE,
    auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 'tok' },
    projects: ['ITSM', 'OPS'],
    pageSize: 50,
    ...overrides,
  });
  return createJiraConnector(instance, { mapping, logger: createLogger({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 } });
}

interface SearchBody {
  jql: string;
  maxResults: number;
  fields: string[];
  expand?: string;
  nextPageToken?: string;
}

/** Serves search pages in order and records each request body. */
function serveSearch(pages: { issues: Obj[]; nextPageToken?: string }[]): SearchBody[] {
  const bodies: SearchBody[] = [];
  server.use(
    http.post(`${API}/search/jql`, async ({ request }) => {
      const body = (await request.json()) as SearchBody;
      bodies.push(body);
      const page = pages[bodies.length - 1] ?? { issues: [] };
      return HttpResponse.json({ issues: page.issues, isLast: page.nextPageToken === undefined, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
    }),
  );
  return bodies;
}

const site = () => server.use(myselfHandler(), fieldsHandler(), noApprovalsHandler());
const changes = (items: StreamItem[]) => items.flatMap((i) => (i.kind === 'change' ? [i.change] : []));

describe('Jira connector: reading changes', () => {
  it('searches with bounded JQL and field ids resolved by name on a site whose ids differ from the samples', async () => {
    site();
    const bodies = serveSearch([{ issues: [changeIssue({ n: 1, updated: '2026-03-12T10:00:07.250+0000' }), changeIssue({ n: 2, updated: '2026-03-12T10:02:00.000+0000' })], nextPageToken: 'tok-2' }]);
    const page = await connectorFor().readPage({ stream: 'changes', after: null, offset: 0, pageSize: 2 });

    expect(bodies[0]).toMatchObject({ jql: 'project in ("ITSM", "OPS") AND issuetype in ("[System] Change") ORDER BY updated ASC, key ASC', maxResults: 2, expand: 'changelog' });
    expect(bodies[0]?.nextPageToken).toBeUndefined();
    expect(bodies[0]?.fields).toEqual(expect.arrayContaining(['summary', 'status', 'updated', 'comment', SITE_IDS['Change type'], SITE_IDS['Change risk'], SITE_IDS['Implementation plan']]));
    expect(bodies[0]?.fields.some((f) => f === 'customfield_10005' || f === 'customfield_10006')).toBe(false);
    expect(changes(page.items).map((c) => [c.key, c.type, c.risk.level, c.state])).toEqual([
      ['ITSM-1', 'normal', 'high', 'assess'],
      ['ITSM-2', 'normal', 'high', 'assess'],
    ]);
    // myself + field + search + one approvals read per issue.
    expect(page).toMatchObject({ last: { updatedAt: '2026-03-12T10:02:00Z', id: '10002' }, hasMore: true, total: null, apiCalls: 5 });
  });

  it('starts at the cursor minute in the site zone and skips only rows provably stored', async () => {
    site();
    const bodies = serveSearch([
      {
        issues: [
          changeIssue({ n: 7, updated: '2026-03-12T10:00:02.000+0000' }), // before the cursor: stored
          changeIssue({ n: 8, updated: '2026-03-12T10:00:07.250+0000' }), // the cursor row: stored
          changeIssue({ n: 3, updated: '2026-03-12T10:00:07.250+0000' }), // same instant, order unknown to this connector: kept
          changeIssue({ n: 9, updated: '2026-03-12T10:00:40.000+0000' }),
        ],
      },
    ]);
    const page = await connectorFor({ siteTimeZone: 'Europe/Berlin' }).readPage({ stream: 'changes', after: { updatedAt: '2026-03-12T10:00:07.250Z', id: '10008' }, offset: 0, pageSize: 50 });

    expect(bodies[0]?.jql).toBe('project in ("ITSM", "OPS") AND issuetype in ("[System] Change") AND updated >= "2026-03-12 11:00" ORDER BY updated ASC, key ASC');
    expect(changes(page.items).map((c) => c.key)).toEqual(['ITSM-3', 'ITSM-9']);
    expect(page).toMatchObject({ last: { updatedAt: '2026-03-12T10:00:40Z', id: '10009' }, hasMore: false });
  });

  it('re-reads everything from the minute when a run starts from the saved cursor minus the overlap', async () => {
    site();
    const bodies = serveSearch([{ issues: [changeIssue({ n: 7, updated: '2026-03-12T09:58:02.000+0000' }), changeIssue({ n: 8, updated: '2026-03-12T10:00:07.000+0000' })] }]);
    const page = await connectorFor().readPage({ stream: 'changes', after: { updatedAt: '2026-03-12T09:58:07Z', id: '' }, offset: 0, pageSize: 50 });
    expect(bodies[0]?.jql).toContain('updated >= "2026-03-12 09:58"');
    expect(changes(page.items).map((c) => c.key)).toEqual(['ITSM-7', 'ITSM-8']);
  });

  it('orders rows of one instant by key after a page it returned itself, and looks past a page of stored rows', async () => {
    site();
    const same = '2026-03-12T10:00:07.250+0000';
    serveSearch([{ issues: [changeIssue({ n: 9, updated: same }), changeIssue({ n: 10, updated: same })], nextPageToken: 'more' }]);
    const connector = connectorFor();
    const first = await connector.readPage({ stream: 'changes', after: null, offset: 0, pageSize: 2 });
    expect(first.last).toEqual({ updatedAt: '2026-03-12T10:00:07.250Z', id: '10010' });

    server.resetHandlers();
    site();
    // The fresh search from the cursor minute returns the stored ITSM-9 and ITSM-10 first, then the rest behind a token.
    const bodies = serveSearch([{ issues: [changeIssue({ n: 9, updated: same }), changeIssue({ n: 10, updated: same })], nextPageToken: 'page-2' }, { issues: [changeIssue({ n: 11, updated: same })] }]);
    const second = await connector.readPage({ stream: 'changes', after: first.last, offset: 0, pageSize: 2 });
    expect(bodies.map((b) => b.nextPageToken)).toEqual([undefined, 'page-2']);
    expect(changes(second.items).map((c) => c.key)).toEqual(['ITSM-11']);
    expect(second).toMatchObject({ last: { id: '10011' }, hasMore: false });
  });

  it('searches from the earlier literal when the API user\'s profile zone differs from siteTimeZone', async () => {
    server.use(myselfHandler('America/New_York'), fieldsHandler(), noApprovalsHandler());
    const bodies = serveSearch([{ issues: [] }]);
    const page = await connectorFor().readPage({ stream: 'changes', after: { updatedAt: '2026-03-12T10:00:07Z', id: '' }, offset: 0, pageSize: 50 });
    expect(bodies[0]?.jql).toContain('updated >= "2026-03-12 06:00"');
    expect(page).toMatchObject({ items: [], last: null, hasMore: false });
  });

  it('reads the whole changelog and all comments when the search capped them, and the JSM approvals', async () => {
    site();
    const histories = Array.from({ length: 30 }, (_, i) => statusHistory(String(500 + i), `2026-03-0${1 + Math.floor(i / 10)}T${String(10 + (i % 10)).padStart(2, '0')}:00:00.000+0000`, i === 29 ? 'Implementing' : 'Planning'));
    const comments = Array.from({ length: 25 }, (_, i) => comment(String(900 + i), `2026-03-02T10:${String(i).padStart(2, '0')}:00.000+0000`, `note ${i}`, i === 0 ? { jsdPublic: false } : {}));
    const approvals = fixture<Obj>('jsm-approvals-get-response.spec-example.json');
    const requested: string[] = [];
    server.use(
      http.get(`${API}/issue/:key/changelog`, ({ request }) => {
        const startAt = Number(new URL(request.url).searchParams.get('startAt'));
        requested.push(`changelog@${startAt}`);
        const values = histories.slice(startAt, startAt + 20);
        return HttpResponse.json({ startAt, maxResults: 20, total: 30, isLast: startAt + values.length >= 30, values });
      }),
      http.get(`${API}/issue/:key/comment`, ({ request }) => {
        const startAt = Number(new URL(request.url).searchParams.get('startAt'));
        requested.push(`comments@${startAt}`);
        const slice = comments.slice(startAt, startAt + 20);
        return HttpResponse.json({ startAt, maxResults: 20, total: 25, comments: slice });
      }),
      http.get(`${BASE}/rest/servicedeskapi/request/10001/approval`, () => HttpResponse.json({ ...approvals, start: 0, isLastPage: true })),
    );
    serveSearch([{ issues: [changeIssue({ n: 1, updated: '2026-03-12T10:00:00.000+0000', status: 'Implementing', histories: histories.slice(10), historyTotal: 30, comments: comments.slice(5), commentTotal: 25 })] }]);
    const page = await connectorFor().readPage({ stream: 'changes', after: null, offset: 0, pageSize: 50 });

    expect(requested.toSorted()).toEqual(['changelog@0', 'changelog@20', 'comments@0', 'comments@20']);
    const [change] = changes(page.items);
    expect(change).toMatchObject({ nativeRevision: 30, state: 'implement', actualStart: '2026-03-03T19:00:00Z' });
    expect((change?.raw as { changelog?: { histories: unknown[] } } | undefined)?.changelog?.histories).toHaveLength(30);
    const journal = page.items.flatMap((i) => (i.kind === 'journal' ? [i.entry] : []));
    expect(journal).toHaveLength(25);
    expect(journal[0]).toMatchObject({ id: '900', kind: 'work_note', text: 'note 0' });
    expect(page.items.filter((i) => i.kind === 'approval').map((i) => i.kind === 'approval' && [i.changeNativeId, i.approval.group?.name])).toEqual([
      ['10001', 'Please approve this request'],
      ['10001', 'Waiting for approval'],
    ]);
  });

  it('reports a change in an unmapped status as invalid, without its children, and carries on', async () => {
    site();
    serveSearch([{ issues: [changeIssue({ n: 1, updated: '2026-03-12T10:00:00.000+0000', status: 'Waiting for vendor' }), changeIssue({ n: 2, updated: '2026-03-12T10:01:00.000+0000' })] }]);
    const page = await connectorFor().readPage({ stream: 'changes', after: null, offset: 0, pageSize: 50 });
    expect(page.items.map((i) => i.kind)).toEqual(['invalid', 'change']);
    const [bad] = page.items;
    expect(bad?.kind === 'invalid' && [bad.ref, bad.error.code, bad.error.details['value']]).toEqual(['ITSM-1', 'CG_MAPPING_UNKNOWN_VALUE', 'Waiting for vendor']);
    expect(page.last).toEqual({ updatedAt: '2026-03-12T10:01:00Z', id: '10002' });
  });

  it('honours the engine\'s offset after a page whose rows carried no cursor key', async () => {
    site();
    const broken = changeIssue({ n: 1, updated: '2026-03-12T10:00:00.000+0000' });
    (broken['fields'] as Obj)['updated'] = null;
    server.use(
      http.post(`${API}/search/jql`, async ({ request }) => {
        const { nextPageToken } = (await request.json()) as SearchBody;
        return nextPageToken === 'p2'
          ? HttpResponse.json({ issues: [changeIssue({ n: 2, updated: '2026-03-12T10:05:00.000+0000' })], isLast: true })
          : HttpResponse.json({ issues: [broken], isLast: false, nextPageToken: 'p2' });
      }),
    );
    const connector = connectorFor();
    const first = await connector.readPage({ stream: 'changes', after: null, offset: 0, pageSize: 1 });
    expect(first).toMatchObject({ last: null, hasMore: true });
    expect(first.items.map((i) => i.kind)).toEqual(['invalid']);
    const second = await connector.readPage({ stream: 'changes', after: null, offset: 1, pageSize: 1 });
    expect(changes(second.items).map((c) => c.key)).toEqual(['ITSM-2']);
    expect(second).toMatchObject({ last: { id: '10002' }, hasMore: false });
  });

  it('leaves a field the site lacks empty, and stops on a name several fields share', async () => {
    const withoutTestPlan = siteFields(Object.fromEntries(Object.entries(SITE_IDS).filter(([name]) => name !== 'Test plan')));
    server.use(myselfHandler(), fieldsHandler(withoutTestPlan), noApprovalsHandler());
    serveSearch([{ issues: [changeIssue({ n: 1, updated: '2026-03-12T10:00:00.000+0000', fields: { [SITE_IDS['Test plan']]: 'stale value under a deleted field' } })] }]);
    const page = await connectorFor().readPage({ stream: 'changes', after: null, offset: 0, pageSize: 50 });
    expect(changes(page.items)[0]?.plans.test).toBeNull();

    server.resetHandlers();
    const risk = siteFields().find((f) => f['name'] === 'Change risk') ?? {};
    const twice = [...siteFields(), { ...risk, id: 'customfield_99999', key: 'customfield_99999' }];
    server.use(myselfHandler(), fieldsHandler(twice));
    const err = await connectorFor()
      .readPage({ stream: 'changes', after: null, offset: 0, pageSize: 50 })
      .catch((e: unknown) => e);
    expect(isChangegateError(err, 'CG_JIRA_FIELD_AMBIGUOUS')).toBe(true);
    expect((err as Error).message).toContain('customfield_99999');
  });
});

describe('Jira connector: fetchOne', () => {
  it('re-fetches one issue with its children, and answers null for a gone issue or one outside the instance', async () => {
    server.use(
      fieldsHandler(),
      noApprovalsHandler(),
      http.get(`${API}/issue/:id`, ({ params }) => {
        if (params['id'] === '10404') return HttpResponse.json({ errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} }, { status: 404 });
        if (params['id'] === '10077') return HttpResponse.json(changeIssue({ n: 77, updated: '2026-03-12T10:00:00.000+0000', project: 'HR' }));
        return HttpResponse.json(changeIssue({ n: 21, updated: '2026-03-12T10:00:00.000+0000', comments: [comment('1', '2026-03-12T09:00:00.000+0000', 'hello')] }));
      }),
    );
    const connector = connectorFor();
    const items = await connector.fetchOne('10021');
    expect(items?.map((i) => i.kind)).toEqual(['change', 'journal']);
    expect(await connector.fetchOne('10404')).toBeNull();
    expect(await connector.fetchOne('10077')).toBeNull();
    await expect(connector.fetchOne('../myself')).rejects.toMatchObject({ code: 'CG_INPUT_INVALID' });
  });
});
