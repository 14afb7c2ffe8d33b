import { readFileSync } from 'node:fs';
import axios from 'axios';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer } from '../../connectors/simulator-http.ts';

const BASE = 'https://acme.service-now.com';
const BASIC = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
const CHANGES = `${BASE}/api/now/table/change_request`;

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8'));
}

const server = setupServer();
let nowMs: number;
let sim: ServiceNowSimulator;

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  nowMs = Date.parse('2026-03-09T17:30:00Z');
  sim = new ServiceNowSimulator({ baseUrl: BASE, clock: () => new Date(nowMs) });
  sim.createChange({ short_description: 'one' });
  server.resetHandlers(...sim.handlers());
});

function token(form: Record<string, string>): Promise<Response> {
  return fetch(`${BASE}/oauth_token.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
}

const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}`, accept: 'application/json' } });
const client = { client_id: 'changegate-demo', client_secret: 'demo-secret' };

describe('ServiceNowSimulator: authentication', () => {
  it('answers a request without credentials, or with wrong ones, with the 401 sample body', async () => {
    for (const headers of [{}, { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` }, { authorization: 'Bearer nope' }]) {
      const res = await fetch(CHANGES, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(fixture('error_401_not_authenticated.json'));
    }
  });

  it('issues password-grant tokens in the sample’s shape that expire by the simulator clock and refresh', async () => {
    const res = await token({ grant_type: 'password', ...client, username: 'admin', password: 'admin' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string | number>;
    expect(Object.keys(body)).toEqual(Object.keys(fixture('oauth_token_response.json') as object));
    expect(body).toMatchObject({ scope: 'useraccount', token_type: 'Bearer', expires_in: 1799 });
    expect((await fetch(CHANGES, bearer(String(body.access_token)))).status).toBe(200);

    nowMs += 1799 * 1000;
    const expired = await fetch(CHANGES, bearer(String(body.access_token)));
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual(fixture('error_401_not_authenticated.json'));

    const refreshed = (await (await token({ grant_type: 'refresh_token', ...client, refresh_token: String(body.refresh_token) })).json()) as Record<string, string>;
    expect((await fetch(CHANGES, bearer(String(refreshed.access_token)))).status).toBe(200);
  });

  it('revokeTokens() invalidates access tokens; the refresh token still works unless revoked too', async () => {
    const body = (await (await token({ grant_type: 'password', ...client, username: 'admin', password: 'admin' })).json()) as Record<string, string>;
    sim.revokeTokens();
    expect((await fetch(CHANGES, bearer(String(body.access_token)))).status).toBe(401);
    const refreshed = await token({ grant_type: 'refresh_token', ...client, refresh_token: String(body.refresh_token) });
    expect(refreshed.status).toBe(200);
    sim.revokeTokens({ includeRefresh: true });
    expect((await token({ grant_type: 'refresh_token', ...client, refresh_token: String(body.refresh_token) })).status).toBe(401);
  });

  it('client_credentials gives an access token without a refresh token; a bad client gets the 401 OAuth body', async () => {
    const ok = (await (await token({ grant_type: 'client_credentials', ...client })).json()) as Record<string, unknown>;
    expect(ok.refresh_token).toBeUndefined();
    expect((await fetch(CHANGES, bearer(String(ok.access_token)))).status).toBe(200);
    const bad = await token({ grant_type: 'client_credentials', client_id: 'changegate-demo', client_secret: 'wrong' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual(fixture('oauth_token_error_401.json'));
  });
});

describe('ServiceNowSimulator: faults and rate limits', () => {
  const opts = { headers: { authorization: BASIC, accept: 'application/json' } };

  it('serves a queued 429 with Retry-After and the sample body, then answers normally', async () => {
    sim.faults.next({ kind: 'status', status: 429, retryAfterSec: 7 }, { path: '/change_request' });
    const limited = await axios.get(CHANGES, { ...opts, validateStatus: () => true });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(limited.headers['x-ratelimit-limit']).toBeDefined();
    expect(limited.data).toMatchObject({ error: { message: (fixture('error_429_rate_limit.json') as { error: { message: string } }).error.message }, status: 'failure' });
    expect((await axios.get(CHANGES, opts)).status).toBe(200);
    expect(sim.faults.fired).toHaveLength(1);
  });

  it('serves an expired-session login page as 200 text/html', async () => {
    sim.faults.next({ kind: 'html-login' });
    const res = await fetch(CHANGES, opts);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('login.do');
  });

  it('serves HTML error pages, 5xx envelopes and dropped connections', async () => {
    sim.faults.next({ kind: 'non-json', status: 500 }).next({ kind: 'status', status: 503 }).next({ kind: 'status', status: 500 }).next({ kind: 'reset' });
    const html = await fetch(CHANGES, opts);
    expect([html.status, html.headers.get('content-type')?.startsWith('text/html')]).toEqual([500, true]);
    expect((await fetch(CHANGES, opts)).status).toBe(503);
    const envelope = await fetch(CHANGES, opts);
    expect([envelope.status, ((await envelope.json()) as { status: string }).status]).toEqual([500, 'failure']);
    await expect(fetch(CHANGES, opts)).rejects.toThrow('fetch failed');
    expect((await fetch(CHANGES, opts)).status).toBe(200);
  });

  it('faults.every(n) hits every nth matching request until cancelled', async () => {
    const stop = sim.faults.every(3, { kind: 'status', status: 502 }, { method: 'GET' });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await fetch(CHANGES, opts)).status);
    stop();
    statuses.push((await fetch(CHANGES, opts)).status);
    expect(statuses).toEqual([200, 200, 502, 200, 200, 502, 200, 200]);
  });

  it('rate-limits by the simulator clock with X-RateLimit-* headers and Retry-After', async () => {
    sim.setRateLimit({ limit: 2, windowSec: 60 });
    nowMs = Date.parse('2026-03-09T17:30:40Z');
    const first = await fetch(CHANGES, opts);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-reset')).toBe(String(Date.parse('2026-03-09T17:31:00Z') / 1000));
    await fetch(CHANGES, opts);
    const third = await fetch(CHANGES, opts);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('20');
    nowMs += 20_000;
    expect((await fetch(CHANGES, opts)).status).toBe(200);
  });

  it('logs every request for counting API calls', async () => {
    await fetch(`${CHANGES}?sysparm_limit=1`, opts);
    await fetch(`${BASE}/api/now/table/sys_user`, opts);
    expect(sim.requests.map((r) => [r.method, r.path, r.query.sysparm_limit])).toEqual([
      ['GET', '/api/now/table/change_request', '1'],
      ['GET', '/api/now/table/sys_user', undefined],
    ]);
    sim.resetRequests();
    expect(sim.requests).toHaveLength(0);
  });
});

describe('ServiceNowSimulator over real HTTP', () => {
  let http: Awaited<ReturnType<typeof startSimulatorServer>> | undefined;
  afterEach(async () => {
    await http?.close();
    http = undefined;
  });

  it('serves a page to fetch and drops the connection for a reset fault', async () => {
    server.close();
    try {
      http = await startSimulatorServer(sim.handlers());
      sim.setBaseUrl(http.url);
      const res = await fetch(`${http.url}/api/now/table/change_request?sysparm_limit=1&sysparm_exclude_reference_link=true`, { headers: { authorization: BASIC, accept: 'application/json' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-total-count')).toBe('1');
      expect(((await res.json()) as { result: { number: string }[] }).result[0]?.number).toBe('CHG0030001');
      sim.faults.next({ kind: 'reset' });
      await expect(fetch(`${http.url}/api/now/table/change_request`, { headers: { authorization: BASIC } })).rejects.toThrow('fetch failed');
    } finally {
      server.listen({ onUnhandledFrame: 'error' });
    }
  });
});
