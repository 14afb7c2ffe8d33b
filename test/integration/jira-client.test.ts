import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createJiraClient, type CallContext } from '../../connectors/jira/jira-client.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { isChangegateError, type ChangegateError, type ErrorCode } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { API, BASE, changeIssue, fieldsHandler, myselfHandler, noApprovalsHandler } from '../support/jira-fake-site.ts';

type Obj = Record<string, unknown>;
const errors = JSON.parse(readFileSync(new URL('../fixtures/jira/error-responses.json', import.meta.url), 'utf8')) as Record<string, Obj>;

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: stream }), text: () => lines.join('') };
}

function instance(overrides: Obj = {}) {
  return JiraInstance.parse({ id: 'jsm-prod', system: 'jira', baseUrl: BASE, auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 'tok' }, projects: ['ITSM'], retries: 3, ...overrides });
}

function setup(overrides: Obj = {}) {
  const logs = logSink();
  const client = createJiraClient(instance(overrides), { logger: logs.logger, retry: { baseMs: 1, maxMs: 2 } });
  return { client, logs };
}

const ctx = (): CallContext => ({ calls: 0 });
const QUERY = { jql: 'project in ("ITSM") ORDER BY updated ASC, key ASC', fields: ['summary'], expand: [], maxResults: 10 };
const emptyPage = () => HttpResponse.json({ issues: [], isLast: true });

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<ChangegateError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isChangegateError(err, code)) throw new Error(`expected ${code}, got ${String(err)}`, { cause: err });
  return err;
}

async function settle(logs: { text(): string }, needle: string): Promise<void> {
  for (let i = 0; i < 10_000 && !logs.text().includes(needle); i++) await new Promise((r) => setImmediate(r));
}

describe('Jira client: rate limits and failures', () => {
  it('waits as long as a 429 Retry-After says, logs the RateLimit-Reason, then succeeds', async () => {
    let calls = 0;
    server.use(
      http.post(`${API}/search/jql`, () =>
        ++calls === 1 ? HttpResponse.json({ errorMessages: ['Rate limit exceeded.'], errors: {} }, { status: 429, headers: { 'Retry-After': '3', 'RateLimit-Reason': 'jira-burst-based' } }) : emptyPage(),
      ),
    );
    const { client, logs } = setup();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const c = ctx();
      const pending = client.search(QUERY, null, c);
      await settle(logs, '"msg":"retrying"');
      expect(logs.text()).toContain('"waitMs":3000');
      expect(logs.text()).toContain('jira-burst-based');
      await vi.advanceTimersByTimeAsync(2_999);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      await pending;
      expect(calls).toBe(2);
      expect(c.calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('waits until X-RateLimit-Reset (ISO, to the minute) when a 429 has no Retry-After', async () => {
    let calls = 0;
    const now = Date.parse('2026-03-26T15:59:30Z');
    server.use(http.get(`${API}/field`, () => (++calls === 1 ? HttpResponse.json({}, { status: 429, headers: { 'X-RateLimit-Reset': '2026-03-26T16:00Z' } }) : HttpResponse.json([]))));
    const logs = logSink();
    const client = createJiraClient(instance(), { logger: logs.logger, retry: { baseMs: 1, maxMs: 2, now: () => now } });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const pending = client.fields(ctx());
      await settle(logs, '"msg":"retrying"');
      expect(logs.text()).toContain('"waitMs":30000');
      await vi.advanceTimersByTimeAsync(30_000);
      expect(await pending).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('retries a 503 and gives up on a persistent 500 as transient, naming the instance', async () => {
    let calls = 0;
    server.use(http.get(`${API}/field`, () => (++calls === 1 ? HttpResponse.json({ errorMessages: ['Service unavailable'], errors: {} }, { status: 503 }) : HttpResponse.json([]))));
    expect(await setup().client.fields(ctx())).toEqual([]);
    expect(calls).toBe(2);

    let failing = 0;
    server.use(http.get(`${API}/myself`, () => (failing++, HttpResponse.json({ errorMessages: ['Internal server error'], errors: {} }, { status: 500 }))));
    const err = await failure(setup().client.myself(ctx()), 'CG_UPSTREAM_UNAVAILABLE');
    expect(failing).toBe(4);
    expect(err.kind).toBe('transient');
    expect(err.message).toContain('jsm-prod');
  });

  it('turns 410 Gone into CG_JIRA_ENDPOINT_GONE with Atlassian\'s migration text, without retrying', async () => {
    let calls = 0;
    server.use(http.post(`${API}/search/jql`, () => (calls++, HttpResponse.json(errors['legacy_search_410_real_capture'], { status: 410 }))));
    const err = await failure(setup().client.search(QUERY, null, ctx()), 'CG_JIRA_ENDPOINT_GONE');
    expect(calls).toBe(1);
    expect(err.kind).toBe('config');
    expect(err.message).toContain('The requested API has been removed');
    expect(err.details).toMatchObject({ instance: 'jsm-prod', status: 410 });
  });

  it('names the field Jira rejected in a 400', async () => {
    server.use(http.post(`${API}/search/jql`, () => HttpResponse.json(errors['validateProjectKey_fieldError'], { status: 400 })));
    const err = await failure(setup().client.search(QUERY, null, ctx()), 'CG_JIRA_REQUEST_REJECTED');
    expect(err.message).toContain('projectKey: A project with that project key already exists.');
  });
});

describe('Jira client: rejected and revoked credentials', () => {
  const seraph = { 'X-Seraph-LoginReason': 'AUTHENTICATED_FAILED' };

  it('reports a revoked token that Jira answers with anonymous 200 data, by its header', async () => {
    server.use(http.post(`${API}/search/jql`, () => HttpResponse.json({ issues: [], isLast: true }, { headers: seraph })));
    const err = await failure(setup().client.search(QUERY, null, ctx()), 'CG_JIRA_AUTH_REJECTED');
    expect(err.kind).toBe('config');
    expect(err.message).toContain('jsm-prod');
    expect(err.message).toContain('revoked');
  });

  it('does not read "issue not found" as a gone issue when the caller was made anonymous', async () => {
    server.use(http.get(`${API}/issue/:id`, () => HttpResponse.json({ errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} }, { status: 404, headers: seraph })));
    const err = await failure(setup().client.issue('10021', ['summary'], [], ctx()), 'CG_JIRA_AUTH_REJECTED');
    expect(err.details).toMatchObject({ instance: 'jsm-prod', url: '/rest/api/3/issue/10021?fields=summary' });
  });

  it('reports a /myself that names nobody', async () => {
    server.use(http.get(`${API}/myself`, () => HttpResponse.json({ locale: 'en_US' })));
    const err = await failure(setup().client.myself(ctx()), 'CG_JIRA_AUTH_REJECTED');
    expect(err.message).toContain('no user');
  });

  it('reports a 401 after one retry as CG_JIRA_AUTH_REJECTED', async () => {
    let calls = 0;
    server.use(http.get(`${API}/myself`, () => (calls++, HttpResponse.json({ errorMessages: ['Client must be authenticated to access this resource.'], errors: {} }, { status: 401 }))));
    const err = await failure(setup().client.myself(ctx()), 'CG_JIRA_AUTH_REJECTED');
    expect(calls).toBe(2);
    expect(err.message).toContain('jsm-prod');
  });

  it('stops a sync run before it reads anything when the token was revoked', async () => {
    let searched = false;
    server.use(
      http.get(`${API}/myself`, () => HttpResponse.json({ errorMessages: ['Client must be authenticated to access this resource.'], errors: {} }, { status: 401, headers: seraph })),
      http.post(`${API}/search/jql`, () => ((searched = true), emptyPage())),
    );
    const connector = createJiraConnector(instance(), { mapping: loadJiraMapping(), logger: createLogger({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 } });
    await failure(connector.readPage({ stream: 'changes', after: null, offset: 0, pageSize: 10 }), 'CG_JIRA_AUTH_REJECTED');
    expect(searched).toBe(false);
  });
});

describe('Jira client: OAuth 2.0 (3LO)', () => {
  it('calls the gateway for the cloud id with a bearer token and refreshes once after a 401', async () => {
    const seen: string[] = [];
    let refreshes = 0;
    server.use(
      http.post('https://auth.atlassian.com/oauth/token', async ({ request }) => {
        refreshes++;
        expect(await request.json()).toMatchObject({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'csecret', refresh_token: 'refresh-1' });
        return HttpResponse.json({ access_token: 'access-2', refresh_token: 'refresh-2', expires_in: 3600, scope: 'read:jira-work', token_type: 'Bearer' });
      }),
      http.get('https://api.atlassian.com/ex/jira/c0ffee/rest/api/3/field', ({ request }) => {
        const auth = request.headers.get('authorization') ?? '';
        seen.push(auth);
        return auth === 'Bearer access-2' ? HttpResponse.json([]) : HttpResponse.json({ code: 401, message: 'Unauthorized' }, { status: 401 });
      }),
    );
    const { client, logs } = setup({ auth: { kind: 'oauth2', clientId: 'cid', clientSecret: 'csecret', accessToken: 'access-1', refreshToken: 'refresh-1', cloudId: 'c0ffee' } });
    expect(await client.fields(ctx())).toEqual([]);
    expect(seen).toEqual(['Bearer access-1', 'Bearer access-2']);
    expect(refreshes).toBe(1);
    expect(logs.text()).toContain('refresh token rotated');
    expect(logs.text()).not.toContain('refresh-2');
  });

  it('reports a refused refresh as CG_OAUTH_TOKEN_FAILED naming the instance', async () => {
    server.use(http.post('https://auth.atlassian.com/oauth/token', () => HttpResponse.json({ error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }, { status: 403 })));
    const { client } = setup({ auth: { kind: 'oauth2', clientId: 'cid', clientSecret: 'csecret', refreshToken: 'dead', cloudId: 'c0ffee' } });
    const err = await failure(client.fields(ctx()), 'CG_OAUTH_TOKEN_FAILED');
    expect(err.message).toContain('jsm-prod');
    expect(err.details).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('Jira connector over a flaky site', () => {
  it('completes a page through 429s and a reset connection', async () => {
    let searches = 0;
    server.use(
      myselfHandler(),
      fieldsHandler(),
      noApprovalsHandler(),
      http.post(`${API}/search/jql`, () => {
        searches++;
        if (searches === 1) return HttpResponse.error();
        if (searches === 2) return HttpResponse.json({ errorMessages: ['Rate limit exceeded.'], errors: {} }, { status: 429, headers: { 'Retry-After': '0', 'RateLimit-Reason': 'jira-quota-tenant-based' } });
        return HttpResponse.json({ issues: [changeIssue({ n: 1, updated: '2026-03-12T10:00:00.000+0000' })], isLast: true });
      }),
    );
    const connector = createJiraConnector(instance(), { mapping: loadJiraMapping(), logger: createLogger({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 } });
    const page = await connector.readPage({ stream: 'changes', after: null, offset: 0, pageSize: 10 });
    expect(page.items.map((i) => i.kind)).toEqual(['change']);
    // myself + field + three search attempts + approvals.
    expect(page.apiCalls).toBe(6);
  });
});
