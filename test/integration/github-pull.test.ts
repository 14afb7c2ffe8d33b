// The scheduled GitHub Actions pull against msw playing GitHub's REST API:
// runs and deployments reach the event store as the github source normalises
// its webhooks, a run seen by webhook and by pull is stored once, a quiet
// repository is answered 304 (no quota spent), pages are followed by the Link
// header, a rate limit is waited out or paused on, and the saved bound moves.

import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { GITHUB_HEADERS, GithubPuller } from '../../src/events/pull/github-pull.ts';
import { createPullHttp } from '../../src/events/pull/pull-http.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { isChangegateError } from '../../src/errors.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { deployment, deploymentStatus, FakeGithub, GITHUB_API, run } from '../support/github-fake-api.ts';
import { fixtureJson } from '../support/source-delivery.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const REPO = 'acme/shop';
const NOW = new Date('2026-03-12T12:00:00Z');
const logger = pino({ level: 'silent' });

let stores: StoreBundle;
let gh: FakeGithub;
let clock: Date;
beforeEach(() => {
  stores = openSqliteStores(':memory:');
  gh = new FakeGithub();
  gh.resetAt = Math.floor(NOW.getTime() / 1000) + 3600;
  clock = NOW;
  server.use(...gh.handlers());
});
afterEach(async () => stores.close());

function puller(overrides: { token?: string; retry?: { baseMs: number; maxMs: number; maxWaitMs?: number } } = {}): GithubPuller {
  const client = createPullHttp({ source: 'github', baseUrl: GITHUB_API, timeoutMs: 5_000, token: overrides.token ?? 'ghp_test', logger, headers: GITHUB_HEADERS, retry: overrides.retry ?? { baseMs: 1, maxMs: 2 } });
  return new GithubPuller({ sourceId: 'github', pull: { repos: [REPO], since: 86_400_000 }, http: client, events: stores.events, logger, clock: () => clock }, GITHUB_API);
}

async function processAll(): Promise<void> {
  const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
  await new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger }).drain();
}

const runAt = (id: number, createdAt: string, fields: Record<string, unknown> = {}) =>
  run({ id, run_attempt: 1, name: 'build-and-test', head_branch: 'CHG0030001-fix', created_at: createdAt, run_started_at: createdAt, updated_at: createdAt, ...fields });

describe('GitHub Actions pull', () => {
  it('stores pulled runs and deployments as the github source normalises its webhooks', async () => {
    gh.runs.set(REPO, [runAt(11, '2026-03-12T10:00:00Z'), runAt(12, '2026-03-12T11:00:00Z', { status: 'in_progress', conclusion: null })]);
    gh.deployments.set(REPO, [deployment({ id: 501, sha: 'abc123', ref: 'CHG0030001-fix', environment: 'production', created_at: '2026-03-12T11:10:00Z' })]);
    gh.statuses.set('501', [deploymentStatus({ id: 9001, state: 'in_progress', created_at: '2026-03-12T11:10:05Z' }), deploymentStatus({ id: 9002, state: 'success', created_at: '2026-03-12T11:12:00Z' })]);

    const [report] = await puller().pullAll();
    await processAll();

    expect(report).toMatchObject({ repo: REPO, recorded: 3, known: 0 });
    const stored = await stores.events.findEvents({ source: 'github' });
    expect(stored.map((e) => (e.type === 'ci' ? [e.id, e.event.kind, e.event.status, e.event.environment, e.event.changeKeys] : []))).toEqual([
      ['github:run:11:1', 'test', 'success', null, ['CHG0030001']],
      ['github:run:12:1', 'test', 'running', null, ['CHG0030001']],
      ['github:deployment:501', 'deploy', 'success', 'production', ['CHG0030001']],
    ]);
    // The runs query asked only for runs created in the first window (a day back), 100 a page, with GitHub's headers.
    const first = gh.requests.find((r) => r.path === `/repos/${REPO}/actions/runs`);
    expect(first?.query.get('created')).toBe('>=2026-03-11T12:00:00Z');
    expect(first?.query.get('per_page')).toBe('100');
  });

  it('stores a run once when its webhook came first, and records only the state the webhook did not carry', async () => {
    // The webhook sample's run (289782451, completed/success) delivered by GitHub before the pull.
    const hook = Buffer.from(JSON.stringify(fixtureJson('github_workflow_run_completed.json')));
    await stores.events.record({ source: 'github', kind: 'github', deliveryId: 'guid-hook', receivedAt: NOW.toISOString(), headers: { 'x-github-event': 'workflow_run' }, rawBody: hook });
    await processAll();
    const sample = fixtureJson('github_workflow_run_completed.json')['workflow_run'] as Record<string, unknown>;
    gh.runs.set(REPO, [{ ...sample, created_at: '2026-03-12T10:00:00Z' }, runAt(12, '2026-03-12T11:00:00Z')]);

    const [report] = await puller().pullAll();
    await processAll();

    expect(report).toMatchObject({ recorded: 1, known: 1 });
    expect((await stores.events.findEvents({ source: 'github' })).map((e) => e.id)).toEqual(['github:run:289782451:1', 'github:run:12:1']);
    expect(await stores.events.getDelivery('github:pull:run:289782451:1:completed:success')).toBeNull();
    expect(await stores.events.getDelivery('github:pull:run:12:1:completed:success')).toMatchObject({ status: 'done' });
  });

  it('stores a run once when the pull came first and its webhook follows', async () => {
    const sample = fixtureJson('github_workflow_run_completed.json')['workflow_run'] as Record<string, unknown>;
    gh.runs.set(REPO, [{ ...sample, created_at: '2026-03-12T10:00:00Z' }]);
    gh.deployments.set(REPO, []);
    await puller().pullAll();
    await processAll();
    const hook = Buffer.from(JSON.stringify(fixtureJson('github_workflow_run_completed.json')));
    await stores.events.record({ source: 'github', kind: 'github', deliveryId: 'guid-late', receivedAt: NOW.toISOString(), headers: { 'x-github-event': 'workflow_run' }, rawBody: hook });
    await processAll();

    const stored = await stores.events.findEvents({ source: 'github' });
    expect(stored.map((e) => [e.id, e.deliveryId, e.type === 'ci' ? e.event.status : null])).toEqual([['github:run:289782451:1', 'guid-late', 'success']]);
  });

  it('asks again with If-None-Match and spends no quota on a quiet repository (304)', async () => {
    gh.runs.set(REPO, [runAt(11, '2026-03-12T10:00:00Z')]);
    gh.deployments.set(REPO, []);
    const p = puller();
    await p.pullAll();
    const spent = 5000 - gh.remaining;
    gh.requests.length = 0;

    clock = new Date(NOW.getTime() + 300_000);
    await p.pullAll();
    // The bound moved to the newest run, so this list differs once; the pull after it is all 304.
    gh.requests.length = 0;
    const before = gh.remaining;
    clock = new Date(NOW.getTime() + 600_000);
    const [report] = await p.pullAll();

    expect(spent).toBe(2);
    expect(gh.requests.map((r) => [r.path, r.status, r.ifNoneMatch !== null])).toEqual([
      [`/repos/${REPO}/actions/runs`, 304, true],
      [`/repos/${REPO}/deployments`, 304, true],
    ]);
    expect(gh.remaining).toBe(before);
    expect(report).toMatchObject({ requests: 2, notModified: 2, recorded: 0 });
  });

  it('follows the Link header through every page of runs', async () => {
    const many = Array.from({ length: 230 }, (_, i) => runAt(1000 + i, new Date(Date.parse('2026-03-12T00:00:00Z') + i * 60_000).toISOString()));
    gh.runs.set(REPO, many);
    gh.deployments.set(REPO, []);

    const [report] = await puller().pullAll();
    await processAll();

    // GitHub's next links name the repository by id; they are followed as given.
    expect(gh.requests.filter((r) => r.path.endsWith('/actions/runs')).map((r) => [r.path, r.query.get('page')])).toEqual([
      [`/repos/${REPO}/actions/runs`, null],
      ['/repositories/1296269/actions/runs', '2'],
      ['/repositories/1296269/actions/runs', '3'],
    ]);
    expect(report?.recorded).toBe(230);
    expect(await stores.events.findEvents({ source: 'github', limit: 1000 })).toHaveLength(230);
  });

  it('refuses a Link header that points to another host, sending the token nowhere else', async () => {
    server.use(
      http.get(`${GITHUB_API}/repos/${REPO}/actions/runs`, () =>
        HttpResponse.json({ total_count: 2, workflow_runs: [runAt(11, '2026-03-12T10:00:00Z')] }, { headers: { link: '<https://elsewhere.test/repositories/1/actions/runs?page=2>; rel="next"' } }),
      ),
    );
    const err = await puller().pullRepo(REPO).then(() => null, (e: unknown) => e);
    expect(isChangegateError(err, 'CG_EVENT_PULL_BAD_RESPONSE')).toBe(true);
    expect((err as Error).message).toContain(`a Link header points outside ${GITHUB_API}`);
  });

  it('keeps the bound at the oldest run still open, so its completion is pulled later', async () => {
    gh.runs.set(REPO, [runAt(11, '2026-03-12T09:00:00Z', { status: 'in_progress', conclusion: null }), runAt(12, '2026-03-12T11:00:00Z')]);
    gh.deployments.set(REPO, []);
    const p = puller();
    await p.pullAll();
    gh.runs.set(REPO, [runAt(11, '2026-03-12T09:00:00Z', { status: 'completed', conclusion: 'failure', updated_at: '2026-03-12T12:03:00Z' }), runAt(12, '2026-03-12T11:00:00Z')]);
    clock = new Date(NOW.getTime() + 300_000);
    await p.pullAll();
    await processAll();

    const runsQueries = gh.requests.filter((r) => r.path.endsWith('/actions/runs')).map((r) => r.query.get('created'));
    expect(runsQueries).toEqual(['>=2026-03-11T12:00:00Z', '>=2026-03-12T09:00:00Z']);
    expect(await stores.events.getEvent('github:run:11:1')).toMatchObject({ event: { status: 'failure' } });
  });

  it('waits out a secondary rate limit (403 with Retry-After) through the retry classifier', async () => {
    gh.runs.set(REPO, [runAt(11, '2026-03-12T10:00:00Z')]);
    gh.deployments.set(REPO, []);
    gh.throttles.push({ status: 403, headers: { 'retry-after': '0' } }, { status: 429, headers: { 'retry-after': '0' } });

    const [report] = await puller().pullAll();

    expect(gh.requests.slice(0, 3).map((r) => r.status)).toEqual([403, 429, 200]);
    expect(report?.recorded).toBe(1);
  });

  it('pauses the source until the reset once the quota is spent, and leaves a long wait to a later run', async () => {
    gh.runs.set(REPO, [runAt(11, '2026-03-12T10:00:00Z')]);
    gh.deployments.set(REPO, []);
    gh.remaining = 1;
    const p = puller();
    await p.pullAll();
    expect(p.pausedUntil()).toBe(new Date(gh.resetAt * 1000).toISOString());
    const asked = gh.requests.length;
    expect(await p.pullAll()).toEqual([]);
    expect(gh.requests.length).toBe(asked);

    // A primary limit met mid-call (403, remaining 0, reset an hour away) fails the call as transient, not as a rejection.
    const fresh = puller({ retry: { baseMs: 1, maxMs: 2, maxWaitMs: 60_000 } });
    // The classifier reads the wall clock.
    gh.resetAt = Math.floor(Date.now() / 1000) + 3600;
    gh.throttles.push({ status: 403, headers: { 'x-ratelimit-remaining': '0' } });
    const err = await fresh.pullRepo(REPO).then(() => null, (e: unknown) => e);
    expect(isChangegateError(err, 'CG_UPSTREAM_UNAVAILABLE')).toBe(true);
  });

  it('names a revoked token as a refused pull, never echoing it', async () => {
    gh.deployments.set(REPO, []);
    const err = await puller({ token: 'ghp_revoked' }).pullAll().then(() => null, (e: unknown) => e);
    expect(isChangegateError(err, 'CG_EVENT_PULL_REJECTED')).toBe(true);
    expect((err as Error).message).toContain('401: Bad credentials');
    expect(JSON.stringify(err)).not.toContain('ghp_revoked');
  });

  it('re-reads an open deployment conditionally until its status is final, then stops', async () => {
    gh.runs.set(REPO, []);
    gh.deployments.set(REPO, [deployment({ id: 501, environment: 'production', created_at: '2026-03-12T11:10:00Z' })]);
    gh.statuses.set('501', [deploymentStatus({ id: 9001, state: 'in_progress', created_at: '2026-03-12T11:10:05Z' })]);
    const p = puller();
    await p.pullAll();
    clock = new Date(NOW.getTime() + 300_000);
    gh.requests.length = 0;
    await p.pullAll();
    expect(gh.requests.filter((r) => r.path.endsWith('/statuses')).map((r) => r.status)).toEqual([304]);

    gh.statuses.set('501', [...(gh.statuses.get('501') ?? []), deploymentStatus({ id: 9002, state: 'failure', created_at: '2026-03-12T12:01:00Z' })]);
    await p.pullAll();
    await processAll();
    gh.requests.length = 0;
    await p.pullAll();

    expect(await stores.events.getEvent('github:deployment:501')).toMatchObject({ event: { status: 'failure' } });
    expect(gh.requests.filter((r) => r.path.endsWith('/statuses'))).toEqual([]);
  });
});
