// A completed GitHub workflow run's artifacts as evidence: the signed
// workflow_run delivery goes through the route and the processor, which lists
// the run's artifacts, downloads the matching ones (GitHub answers 302 to blob
// storage, where the token must not follow), unzips them and reads the JUnit
// and SARIF files inside; the implement gates then judge the commit on them.
// GitHub and the blob store are msw handlers shaped as GitHub's REST API
// answers (List workflow run artifacts, Download an artifact).

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { zipSync } from 'fflate';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventSourceConfig } from '../../src/config/schema.ts';
import { githubArtifacts } from '../../src/events/artifacts/github-artifacts.ts';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerEventRoutes } from '../../src/server/routes/events.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { fixtureBytes } from '../support/source-delivery.ts';
import { context, gate, mirrored } from '../unit/policy/policy-fixtures.ts';

const API = 'https://api.github.com';
const BLOB = 'https://productionresultssa3.blob.core.windows.net';
const TOKEN = 'ghp_artifact_reader';
const SECRET = 'hook-secret';
const run = JSON.parse(readFileSync(new URL('../fixtures/events/github_workflow_run_completed.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
const RUN_ID = 289782451;
const COMMIT = '3484a3fb816e0859fd6e1cea078d76385ff50625';

const zips: Record<string, Uint8Array> = {
  '101': zipSync({ 'surefire-reports/TEST-PaymentsIT.xml': new Uint8Array(fixtureBytes('CONSTRUCTED-junit-surefire-merged.xml')), 'surefire-reports/notes.txt': new TextEncoder().encode('not a report'), 'surefire-reports/coverage.xml': new TextEncoder().encode('<coverage line-rate="0.8"/>') }),
  '102': zipSync({ 'javascript.sarif': new Uint8Array(fixtureBytes('CONSTRUCTED-sarif-codeql-trivy.sarif.json')) }),
};

function artifact(id: number, name: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    node_id: Buffer.from(`08:Artifact${id}`).toString('base64'),
    name,
    size_in_bytes: zips[String(id)]?.length ?? 4096,
    url: `${API}/repos/octo-org/octo-repo/actions/artifacts/${id}`,
    archive_download_url: `${API}/repos/octo-org/octo-repo/actions/artifacts/${id}/zip`,
    expired: false,
    created_at: '2020-10-05T16:35:01Z',
    updated_at: '2020-10-05T16:35:02Z',
    expires_at: '2021-01-03T16:33:49Z',
    workflow_run: { id: RUN_ID, repository_id: 1296269, head_repository_id: 1296269, head_branch: 'CHG0030001-fix', head_sha: COMMIT },
    ...extra,
  };
}

const seen: { path: string; authorization: string | null }[] = [];
const github = [
  http.get(`${API}/repos/:owner/:repo/actions/runs/:runId/artifacts`, ({ request, params }) => {
    seen.push({ path: new URL(request.url).pathname, authorization: request.headers.get('authorization') });
    if (request.headers.get('authorization') !== `Bearer ${TOKEN}`) return HttpResponse.json({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }, { status: 401 });
    if (params['runId'] !== String(RUN_ID)) return HttpResponse.json({ message: 'Not Found' }, { status: 404 });
    const artifacts = [artifact(101, 'junit-unit'), artifact(102, 'codeql-sarif'), artifact(103, 'coverage-html'), artifact(104, 'junit-nightly', { expired: true })];
    return HttpResponse.json({ total_count: artifacts.length, artifacts });
  }),
  http.get(`${API}/repos/:owner/:repo/actions/artifacts/:id/zip`, ({ request, params }) => {
    seen.push({ path: new URL(request.url).pathname, authorization: request.headers.get('authorization') });
    if (request.headers.get('authorization') !== `Bearer ${TOKEN}`) return HttpResponse.json({ message: 'Requires authentication' }, { status: 401 });
    const id = String(params['id']);
    return new HttpResponse(null, { status: 302, headers: { location: `${BLOB}/actions-results/7f1c/workflow-job-run-1/artifacts/${id}.zip?rscd=attachment&se=2026-12-06T02%3A00%3A00Z&sig=c2lnbmF0dXJl&sp=r&sr=b&sv=2021-12-02` } });
  }),
  http.get(`${BLOB}/actions-results/:a/:b/artifacts/:file`, ({ request, params }) => {
    seen.push({ path: new URL(request.url).pathname, authorization: request.headers.get('authorization') });
    // Blob storage refuses a request that carries both a SAS signature and an Authorization header.
    if (request.headers.get('authorization') !== null) return new HttpResponse('<Error><Code>InvalidAuthenticationInfo</Code></Error>', { status: 400, headers: { 'content-type': 'application/xml' } });
    const zip = zips[String(params['file']).replace('.zip', '')];
    return zip === undefined ? new HttpResponse(null, { status: 404 }) : new HttpResponse(zip, { headers: { 'content-type': 'application/zip' } });
  }),
];

const server = setupServer(...github);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  server.resetHandlers(...github);
  seen.length = 0;
});
afterAll(() => server.close());

let stores: StoreBundle;
let app: FastifyInstance;
afterEach(async () => {
  await app.close();
  await stores.close();
});

const source = EventSourceConfig.parse({ id: 'github', kind: 'github', secrets: [SECRET], artifacts: { token: TOKEN, names: ['junit-*', '*-sarif'] } });

async function deliver(): Promise<void> {
  stores = openSqliteStores(':memory:');
  app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  registerEventRoutes(app, { sources: [source], kindOf: eventSourceKind, events: stores.events });
  const body = Buffer.from(JSON.stringify({ ...run, workflow_run: { ...run['workflow_run'], head_branch: 'CHG0030001-fix' } }));
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const answer = await app.inject({ method: 'POST', url: '/v1/events/github', payload: body, headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': 'run-1', 'x-hub-signature-256': signature } });
  expect(answer.statusCode).toBe(202);
}

function processor(maxAttempts?: number, clock?: () => Date): EventProcessor {
  const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
  const logger = pino({ level: 'silent' });
  return new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, enrich: githubArtifacts([source], logger), reassess: async () => undefined, logger, ...(maxAttempts === undefined ? {} : { maxAttempts }), ...(clock === undefined ? {} : { clock }) });
}

describe('GitHub run artifacts', () => {
  it('reads the JUnit and SARIF files of the matching artifacts of a completed run, and the gates judge its commit on them', async () => {
    await deliver();
    const change = buildChange({ key: 'CHG0030001', links: { repos: [], commits: [], artifacts: [], pipelines: [] } });
    await stores.changes.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
    expect(await processor().drain()).toBe(1);

    // Listed and downloaded with the token; the blob store got the archive request without it.
    expect(seen.map((s) => [s.path.replace(/\/7f1c\/.*\//, '/…/'), s.authorization === null ? 'no token' : 'token'])).toEqual([
      ['/repos/octo-org/octo-repo/actions/runs/289782451/artifacts', 'token'],
      ['/repos/octo-org/octo-repo/actions/artifacts/101/zip', 'token'],
      ['/actions-results/…/101.zip', 'no token'],
      ['/repos/octo-org/octo-repo/actions/artifacts/102/zip', 'token'],
      ['/actions-results/…/102.zip', 'no token'],
    ]);
    const linked = (await stores.events.linkedEvents(change)).map((l) => l.event);
    expect(linked.map((e) => (e.type === 'ci' ? [e.id, e.event.kind, e.event.tests, e.event.findings] : null))).toEqual([
      ['github:run:289782451:1', 'test', { passed: 4, failed: 2, skipped: 1 }, null],
      ['github:run:289782451:1:sarif', 'scan', null, { critical: 1, high: 3, medium: 1, low: 1, info: 0 }],
    ]);
    const ci = linked.flatMap((e) => (e.type === 'ci' ? [e.event] : []));
    const ctx = context('2026-03-09T20:00:00Z', { events: { ci, monitor: [] } });
    expect(gate('implement.tests', mirrored(change), ctx)).toMatchObject({ result: 'fail', reason: '2 tests failed in the latest run for 3484a3f (4 passed, 2 failed, 1 skipped)' });
    expect(gate('implement.scan', mirrored(change), ctx)).toMatchObject({ result: 'fail', reason: 'security scan for 3484a3f reports 1 critical and 3 high findings open' });
  });

  it('does not unpack an archive past maxBytes: a report that would is skipped, the others read', async () => {
    await deliver();
    const padded = `<testsuite name="huge">${'<!-- padding -->'.repeat(8192)}<testcase name="x"><failure/></testcase></testsuite>`;
    zips['105'] = zipSync({ 'huge.xml': new TextEncoder().encode(padded), 'small.xml': new TextEncoder().encode('<testsuite name="s"><testcase name="ok"/></testsuite>') });
    server.use(http.get(`${API}/repos/:owner/:repo/actions/runs/:runId/artifacts`, () => HttpResponse.json({ total_count: 1, artifacts: [artifact(105, 'junit-bundle')] })));
    const small = EventSourceConfig.parse({ ...source, artifacts: { token: TOKEN, names: ['junit-*'], maxBytes: 64 * 1024 } });
    expect(zips['105'].length).toBeLessThan(64 * 1024);
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    const logger = pino({ level: 'silent' });
    await new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, enrich: githubArtifacts([small], logger), reassess: async () => undefined, logger }).drain();
    expect(await stores.events.getEvent('github:run:289782451:1')).toMatchObject({ event: { tests: { passed: 1, failed: 0, skipped: 0 } } });
  });

  it('retries the delivery while GitHub fails, and on its last attempt stores the run without its artifacts', async () => {
    await deliver();
    server.use(http.get(`${API}/repos/:owner/:repo/actions/runs/:runId/artifacts`, () => HttpResponse.json({ message: 'Server Error' }, { status: 502 })));
    expect(await processor(2).drain()).toBe(1);
    expect(await stores.events.getDelivery('github:run-1')).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringMatching(/^CG_UPSTREAM_UNAVAILABLE: github: GET \/repos\/octo-org\/octo-repo\/actions\/runs\/289782451\/artifacts failed/) });
    expect(await stores.events.getEvent('github:run:289782451:1')).toBeNull();

    // The retry is due later; then, its last attempt, the run is stored with what is known.
    expect(await processor(2, () => new Date(Date.now() + 60_000)).drain()).toBe(1);
    expect(await stores.events.getDelivery('github:run-1')).toMatchObject({ status: 'done' });
    expect(await stores.events.getEvent('github:run:289782451:1')).toMatchObject({ event: { status: 'success', tests: null } });
  });

  it('is only for github sources, and a token the API refuses stops with CG_GITHUB_REQUEST_REJECTED', async () => {
    const { configSchemaFor } = await import('../../src/config/schema.ts');
    const { registry } = await import('../../src/app/registry.ts');
    const refused = configSchemaFor(registry).safeParse({ events: { sources: [{ id: 'gl', kind: 'gitlab', secrets: ['x'], artifacts: { token: 't', names: ['*'] } }] } });
    expect(refused.success ? [] : refused.error.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['events.sources.0.artifacts', 'artifacts are fetched for kind github only (this source is gitlab)']]);

    await deliver();
    const wrong = EventSourceConfig.parse({ ...source, artifacts: { token: 'revoked', names: ['junit-*'] } });
    const logger = pino({ level: 'silent' });
    const enrich = githubArtifacts([wrong], logger);
    const runEvent = { type: 'ci' as const, id: 'github:run:289782451:1', source: 'github', deliveryId: 'run-1', receivedAt: '2020-10-05T16:40:00Z', event: { ...buildRun() } };
    await expect(enrich?.('github', [runEvent], { final: false })).rejects.toMatchObject({ code: 'CG_GITHUB_REQUEST_REJECTED', message: 'github: GitHub answered 401 for /repos/octo-org/octo-repo/actions/runs/289782451/artifacts: Bad credentials' });
  });
});

function buildRun() {
  return {
    id: 'github:run:289782451:1',
    source: 'github',
    kind: 'build' as const,
    repo: 'octo-org/octo-repo',
    commit: COMMIT,
    branch: 'CHG0030001-fix',
    runId: String(RUN_ID),
    name: null,
    status: 'success' as const,
    environment: null,
    startedAt: '2020-10-05T16:33:49Z',
    finishedAt: '2020-10-05T16:33:49Z',
    url: null,
    changeKeys: ['CHG0030001'],
    tests: null,
    findings: null,
    verified: null,
  };
}
