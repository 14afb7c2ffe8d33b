import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { delay, http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServiceNowAuth } from '../../connectors/servicenow/servicenow-auth.ts';
import { createServiceNowClient, type ServiceNowClientDeps } from '../../connectors/servicenow/servicenow-client.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { ChangegateError, isChangegateError, type ErrorCode } from '../../src/errors.ts';
import type { RequestInfo } from '../../src/http/http-client.ts';
import { createLogger } from '../../src/log.ts';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

const BASE = 'https://acme.service-now.com';
const TABLE = `${BASE}/api/now/table/change_request`;
const TOKEN = `${BASE}/oauth_token.do`;
const PASSWORD = 'pw-Sup3r-s3cret!';
const CLIENT_SECRET = 'cs-0b5cure-v@lue';
const tokenBody = fixture('oauth_token_response.json') as { access_token: string; refresh_token: string; expires_in: number };
const CHANGE = (fixture('CONSTRUCTED-change_request_table_api_display_value_all.json')['result'] as unknown[])[0];
const PARAMS = { sysparm_limit: 2, sysparm_offset: 0, sysparm_query: 'ORDERBYsys_updated_on^ORDERBYsys_id' };

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function captureLogs(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'trace', destination }), text: () => lines.join('') };
}

const basic = { kind: 'basic', username: 'svc.changegate', password: PASSWORD } as const;
const oauth = { kind: 'oauth', grant: 'client_credentials', clientId: 'changegate', clientSecret: CLIENT_SECRET } as const;

function setup(options: { auth?: typeof basic | typeof oauth; timeout?: number; retries?: number; now?: () => number } = {}) {
  const instance = ServiceNowInstance.parse({
    id: 'sn-test',
    system: 'servicenow',
    baseUrl: BASE,
    auth: options.auth ?? basic,
    retries: options.retries ?? 3,
    timeout: options.timeout ?? 5_000,
  });
  const logs = captureLogs();
  const requests: RequestInfo[] = [];
  const retry = { baseMs: 1, maxMs: 4, random: () => 0.5 };
  const deps: ServiceNowClientDeps = { logger: logs.logger, onRequest: (info) => requests.push(info), retry };
  if (options.now) deps.auth = createServiceNowAuth(instance, { logger: logs.logger, retry, now: options.now });
  return { client: createServiceNowClient(instance, deps), logs, requests };
}

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<ChangegateError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isChangegateError(err, code)) throw new Error(`expected ${code}, got ${String(err)}`, { cause: err });
  return err;
}

const page = (records: unknown[], headers: Record<string, string> = {}) => HttpResponse.json({ result: records }, { headers: { 'X-Total-Count': String(records.length), ...headers } });

describe('ServiceNow client: retries', () => {
  it('waits as long as a 429 Retry-After says, then succeeds', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, () => (++calls === 1 ? HttpResponse.json(fixture('error_429_rate_limit.json'), { status: 429, headers: { 'Retry-After': '2' } }) : page([CHANGE]))),
    );
    const { client, logs } = setup();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const pending = client.getTable('change_request', PARAMS);
      for (let i = 0; i < 10_000 && !logs.text().includes('"msg":"retrying"'); i++) await new Promise((r) => setImmediate(r));
      expect(logs.text()).toContain('"waitMs":2000');
      await vi.advanceTimersByTimeAsync(1_999);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      const result = await pending;
      expect(calls).toBe(2);
      expect(result.records).toHaveLength(1);
      expect(result.apiCalls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives up at once when Retry-After asks for longer than the cap', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, () => {
        calls++;
        return HttpResponse.json(fixture('error_429_rate_limit.json'), { status: 429, headers: { 'Retry-After': '3600' } });
      }),
    );
    const err = await failure(setup().client.getTable('change_request', PARAMS), 'CG_UPSTREAM_UNAVAILABLE');
    expect(calls).toBe(1);
    expect(err.message).toContain('sn-test');
  });

  it('stops waiting and sends nothing more when the caller aborts during a Retry-After wait', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, () => {
        calls++;
        return HttpResponse.json(fixture('error_429_rate_limit.json'), { status: 429, headers: { 'Retry-After': '30' } });
      }),
    );
    const { client, logs } = setup();
    const controller = new AbortController();
    const pending = client.getTable('change_request', PARAMS, controller.signal);
    for (let i = 0; i < 10_000 && !logs.text().includes('"msg":"retrying"'); i++) await new Promise((r) => setImmediate(r));
    controller.abort(new Error('sync cancelled'));
    await expect(pending).rejects.toThrow('sync cancelled');
    expect(calls).toBe(1);
  });

  it('retries a 503 and returns the next success', async () => {
    let calls = 0;
    server.use(http.get(TABLE, () => (++calls === 1 ? new HttpResponse(null, { status: 503 }) : page([CHANGE]))));
    const { client, requests } = setup();
    const result = await client.getTable('change_request', PARAMS);
    expect(result.records).toEqual([CHANGE]);
    expect(result.apiCalls).toBe(2);
    expect(requests.map((r) => [r.status, r.attempt, r.path])).toEqual([
      [503, 1, '/api/now/table/change_request'],
      [200, 2, '/api/now/table/change_request'],
    ]);
  });

  it('retries a connection reset', async () => {
    let calls = 0;
    server.use(http.get(TABLE, () => (++calls === 1 ? HttpResponse.error() : page([CHANGE]))));
    const { client, requests } = setup();
    expect((await client.getTable('change_request', PARAMS)).records).toHaveLength(1);
    expect(requests[0]).toMatchObject({ status: null, attempt: 1 });
  });

  it('aborts a request that exceeds the timeout and retries it', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, async () => {
        if (++calls === 1) await delay('infinite');
        return page([CHANGE]);
      }),
    );
    // The retry's answer must come within the timeout too: 200 ms left a starved machine little room.
    const { client, requests } = setup({ timeout: 1_000 });
    expect((await client.getTable('change_request', PARAMS)).records).toHaveLength(1);
    expect(calls).toBe(2);
    expect(requests[0]).toMatchObject({ status: null, code: 'ETIMEDOUT' });
  });

  it('retries an HTML 500 page, then reports the instance unavailable with the cause chained', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, () => {
        calls++;
        return HttpResponse.html('<html><body><h1>Internal Server Error</h1></body></html>', { status: 500 });
      }),
    );
    const err = await failure(setup({ retries: 2 }).client.getTable('change_request', PARAMS), 'CG_UPSTREAM_UNAVAILABLE');
    expect(calls).toBe(3);
    expect(err.kind).toBe('transient');
    expect(err.message).toContain('sn-test');
    expect(isChangegateError(err.cause, 'CG_SN_BAD_RESPONSE')).toBe(true);
  });
});

describe('ServiceNow client: failures that need an operator', () => {
  it('fails with CG_SN_AUTH_REJECTED after a second 401', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, () => {
        calls++;
        return HttpResponse.json(fixture('error_401_not_authenticated.json'), { status: 401 });
      }),
    );
    const { client, logs } = setup();
    const err = await failure(client.getTable('change_request', PARAMS), 'CG_SN_AUTH_REJECTED');
    expect(calls).toBe(2);
    expect(err.details).toMatchObject({ instance: 'sn-test', status: 401, error: { message: 'User Not Authenticated' } });
    // Basic credentials have nothing to refresh: neither the log nor the error may say they were refreshed.
    expect(logs.text()).not.toContain('refreshing');
    expect(err.message).not.toContain('after refreshing');
  });

  it('fails with CG_SN_FORBIDDEN naming the instance and path, keeping the ServiceNow detail', async () => {
    server.use(http.get(TABLE, () => HttpResponse.json(fixture('error_business_rule_abort_table_api.json'), { status: 403 })));
    const err = await failure(setup().client.getTable('change_request', PARAMS), 'CG_SN_FORBIDDEN');
    expect(err.message).toContain('sn-test');
    expect(err.message).toContain('/api/now/table/change_request');
    expect(err.details['error']).toMatchObject({ message: 'Operation Failed', detail: expect.stringContaining('aborted by Business Rule') });
  });

  it('fails with CG_SN_REQUEST_REJECTED on another 4xx, without retrying', async () => {
    let calls = 0;
    server.use(
      http.get(TABLE, () => {
        calls++;
        return HttpResponse.json({ error: { message: 'Invalid query', detail: '' }, status: 'failure' }, { status: 400 });
      }),
    );
    await failure(setup().client.getTable('change_request', PARAMS), 'CG_SN_REQUEST_REJECTED');
    expect(calls).toBe(1);
  });

  it('recognises a 200 HTML login page as CG_SN_LOGIN_PAGE', async () => {
    server.use(http.get(TABLE, () => HttpResponse.html('<!DOCTYPE html><html><head><title>Log in | ServiceNow</title></head><body><form id="login"></form></body></html>')));
    const err = await failure(setup().client.getTable('change_request', PARAMS), 'CG_SN_LOGIN_PAGE');
    expect(err.message).toContain('sn-test');
    expect(err.details).toMatchObject({ url: '/api/now/table/change_request' });
  });

  it('rejects JSON without the result envelope as CG_SN_BAD_RESPONSE', async () => {
    server.use(http.get(TABLE, () => HttpResponse.json({ records: [] })));
    const err = await failure(setup().client.getTable('change_request', PARAMS), 'CG_SN_BAD_RESPONSE');
    expect(err.message).toContain('"result" envelope');
    expect(err.kind).toBe('upstream');
  });

  it('returns null for a record ServiceNow answers 404 for', async () => {
    server.use(http.get(`${TABLE}/:id`, () => HttpResponse.json(fixture('error_404_no_record_found.json'), { status: 404 })));
    expect((await setup().client.getRecord('change_request', 'a'.repeat(32), {})).record).toBeNull();
  });
});

function tokenEndpoint(grants: URLSearchParams[]) {
  return http.post(TOKEN, async ({ request }) => {
    const form = new URLSearchParams(await request.text());
    grants.push(form);
    return HttpResponse.json({ ...tokenBody, access_token: `token-${grants.length}` });
  });
}

describe('ServiceNow client: OAuth', () => {
  it('caches the token across calls and renews it with the refresh token at expiry', async () => {
    const grants: URLSearchParams[] = [];
    const seen: string[] = [];
    let clock = Date.parse('2026-03-12T10:00:00Z');
    server.use(
      tokenEndpoint(grants),
      http.get(TABLE, ({ request }) => {
        seen.push(request.headers.get('authorization') ?? '');
        return page([]);
      }),
    );
    const { client } = setup({ auth: oauth, now: () => clock });
    await client.getTable('change_request', PARAMS);
    clock += 60_000;
    await client.getTable('change_request', PARAMS);
    clock += tokenBody.expires_in * 1000;
    await client.getTable('change_request', PARAMS);
    expect(grants.map((g) => g.get('grant_type'))).toEqual(['client_credentials', 'refresh_token']);
    expect(grants[0]?.get('client_secret')).toBe(CLIENT_SECRET);
    expect(grants[1]?.get('refresh_token')).toBe(tokenBody.refresh_token);
    expect(seen).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
  });

  it('refreshes the token once after a 401 and succeeds', async () => {
    const grants: URLSearchParams[] = [];
    server.use(
      tokenEndpoint(grants),
      http.get(TABLE, ({ request }) =>
        request.headers.get('authorization') === 'Bearer token-1' ? HttpResponse.json(fixture('error_401_not_authenticated.json'), { status: 401 }) : page([CHANGE]),
      ),
    );
    const { client } = setup({ auth: oauth });
    expect((await client.getTable('change_request', PARAMS)).records).toHaveLength(1);
    expect(grants.map((g) => g.get('grant_type'))).toEqual(['client_credentials', 'refresh_token']);
  });

  it('reports a refused token request as CG_OAUTH_TOKEN_FAILED naming the instance', async () => {
    let tableCalls = 0;
    server.use(
      http.post(TOKEN, () => HttpResponse.json(fixture('oauth_token_error_401.json'), { status: 401 })),
      http.get(TABLE, () => {
        tableCalls++;
        return page([]);
      }),
    );
    const err = await failure(setup({ auth: oauth }).client.getTable('change_request', PARAMS), 'CG_OAUTH_TOKEN_FAILED');
    expect(err.message).toContain('sn-test');
    expect(err.details).toMatchObject({ status: 401, error: 'server_error', description: 'access_denied' });
    expect(tableCalls).toBe(0);
  });
});

const link = (rels: string[]) => rels.map((rel) => `<${TABLE}?sysparm_offset=2&sysparm_limit=2>;rel="${rel}"`).join(',');

describe('ServiceNow client: paging headers', () => {
  it.each([
    { name: 'Link rel="next" means more', headers: { Link: link(['first', 'next', 'last']), 'X-Total-Count': '5' }, hasNext: true, total: 5 },
    { name: 'a Link without next means the end', headers: { Link: link(['first', 'prev', 'last']), 'X-Total-Count': '5' }, hasNext: false, total: 5 },
    { name: 'no Link: offset + limit < X-Total-Count', headers: { 'X-Total-Count': '3' }, hasNext: true, total: 3 },
    { name: 'no Link: offset + limit reaches X-Total-Count', headers: { 'X-Total-Count': '2' }, hasNext: false, total: 2 },
  ])('$name', async ({ headers, hasNext, total }) => {
    server.use(http.get(TABLE, () => page([CHANGE, CHANGE], headers)));
    const result = await setup().client.getTable('change_request', PARAMS);
    expect(result).toMatchObject({ hasNext, total });
  });

  it('keeps paging past a page that ACLs shortened', async () => {
    server.use(http.get(TABLE, () => page([CHANGE], { 'X-Total-Count': '40', Link: link(['next']) })));
    const result = await setup().client.getTable('change_request', PARAMS);
    expect(result).toMatchObject({ total: 40, hasNext: true });
    expect(result.records).toHaveLength(1);
  });
});

describe('ServiceNow client: logs', () => {
  it('never writes a password, client secret or token to the log', async () => {
    const grants: URLSearchParams[] = [];
    let calls = 0;
    server.use(
      tokenEndpoint(grants),
      http.get(TABLE, () => {
        calls++;
        if (calls === 1) return HttpResponse.json(fixture('error_401_not_authenticated.json'), { status: 401 });
        if (calls === 2) return new HttpResponse(null, { status: 502 });
        return HttpResponse.json(fixture('error_401_not_authenticated.json'), { status: 401 });
      }),
    );
    const oauthRun = setup({ auth: oauth });
    await failure(oauthRun.client.getTable('change_request', PARAMS), 'CG_SN_AUTH_REJECTED');

    server.use(http.get(TABLE, () => HttpResponse.json(fixture('error_401_not_authenticated.json'), { status: 401 })));
    const basicRun = setup();
    await failure(basicRun.client.getTable('change_request', PARAMS), 'CG_SN_AUTH_REJECTED');

    // The error a caller logs must not carry the request's Authorization header in its cause chain.
    server.use(http.get(TABLE, () => delay('infinite')));
    const resetRun = setup({ retries: 0, timeout: 100 });
    const err = await failure(resetRun.client.getTable('change_request', PARAMS), 'CG_UPSTREAM_UNAVAILABLE');
    resetRun.logs.logger.error({ err, cause: err.cause }, 'sync failed');

    const logged = oauthRun.logs.text() + basicRun.logs.text() + resetRun.logs.text();
    expect(logged).toContain('sync failed');
    expect(logged).toContain('retrying');
    for (const secret of [PASSWORD, CLIENT_SECRET, 'token-1', 'token-2', tokenBody.refresh_token, Buffer.from(`svc.changegate:${PASSWORD}`).toString('base64')]) {
      expect(logged).not.toContain(secret);
    }
  });
});
