// POST /v1/events/:source/results as a CI meets it: a JUnit report or a SARIF
// log for one commit, signed like the source's webhooks, stored before the
// 202 (which carries the summary), re-posts stored once, every refusal (type,
// names, unreadable file, signature, size) with nothing stored; then the
// processor turns the stored file into the test or scan event the implement
// gates judge the change's commit on.

import { createHmac } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
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

const SECRET = 'gh-secret';
const COMMIT = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const junit = fixtureBytes('CONSTRUCTED-junit-surefire-merged.xml');
const sarif = fixtureBytes('CONSTRUCTED-sarif-codeql-trivy.sarif.json');
const green = Buffer.from('<testsuite name="unit"><testcase classname="Pay" name="charges"/><testcase classname="Pay" name="refunds"/></testsuite>');
const sign = (body: Buffer, secret = SECRET): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

let stores: StoreBundle;
let app: FastifyInstance;
afterEach(async () => {
  await app.close();
  await stores.close();
});

async function world(): Promise<void> {
  stores = openSqliteStores(':memory:');
  app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  registerEventRoutes(app, { sources: [{ id: 'github', kind: 'github', secrets: ['retired', SECRET] }], kindOf: eventSourceKind, events: stores.events, maxResultsBytes: 16 * 1024 });
  await app.ready();
}

const post = (body: Buffer, type: string, query: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: `/v1/events/github/results?${query}`, payload: body, headers: { 'content-type': type, 'x-hub-signature-256': sign(body), ...headers } });

describe('POST /v1/events/:source/results', () => {
  it('stores a signed JUnit report before the 202, answers its recomputed counts, and stores a re-post once', async () => {
    await world();
    const first = await post(junit, 'application/xml', `commit=${COMMIT}&change=CHG0030001&run=42&name=unit%20tests`);
    expect(first.statusCode).toBe(202);
    // The report declares 4 tests and no failure; its test cases say 7, one failed and one errored.
    expect(first.json()).toEqual({ accepted: true, duplicate: false, deliveryId: expect.stringMatching(/^results:[0-9a-f]{64}$/), format: 'junit', tests: { passed: 4, failed: 2, skipped: 1 }, findings: null });
    const stored = await stores.events.getDelivery(`github:${first.json().deliveryId}`);
    expect(stored).toMatchObject({ kind: 'results', status: 'pending', headers: { 'x-changegate-commit': COMMIT, 'x-changegate-change': 'CHG0030001', 'x-changegate-format': 'junit' } });
    expect(stored?.rawBody.equals(junit)).toBe(true);
    expect(stored?.headers).not.toHaveProperty('x-hub-signature-256');

    const again = await post(junit, 'text/xml; charset=utf-8', `commit=${COMMIT}&change=CHG0030001&run=42&name=unit%20tests`);
    expect(again.json()).toMatchObject({ duplicate: true, deliveryId: first.json().deliveryId });
    // The same bytes for another commit are other evidence, named by headers this time.
    const other = await post(junit, 'application/xml', '', { 'x-changegate-commit': 'abcdef0123456', 'x-changegate-run': '43' });
    expect(other.json()).toMatchObject({ duplicate: false });
    expect(await stores.events.pendingCount()).toBe(2);
  });

  it('answers a SARIF log with its open findings by severity', async () => {
    await world();
    const response = await post(sarif, 'application/sarif+json', `commit=${COMMIT}`);
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ format: 'sarif', tests: null, findings: { critical: 1, high: 3, medium: 1, low: 1, info: 0 } });
  });

  it('refuses a wrong type 415, missing or malformed names 400, an unreadable file 422, a bad signature 401 and a large file 413, storing nothing', async () => {
    await world();
    const cases = [
      [await post(junit, 'text/plain', `commit=${COMMIT}`), 415, 'CG_RESULTS_TYPE_UNSUPPORTED', /content-type: "text\/plain" is not a results type/],
      [await post(junit, 'application/xml', 'change=CHG0030001'), 400, 'CG_INPUT_INVALID', /^query commit: required/],
      [await post(junit, 'application/xml', 'commit=main'), 400, 'CG_INPUT_INVALID', /^query commit: expected a commit sha/],
      [await post(junit, 'application/xml', `commit=${COMMIT}&change=release-7`), 400, 'CG_INPUT_INVALID', /names no change key/],
      [await post(Buffer.from('<testsuite><testcase name="a"></testsuite>'), 'application/xml', `commit=${COMMIT}`), 422, 'CG_RESULTS_INVALID', /^JUnit report: xml is not well-formed/],
      [await post(Buffer.from('<coverage line-rate="0.9"/>'), 'application/xml', `commit=${COMMIT}`), 422, 'CG_RESULTS_INVALID', /^JUnit report: testsuites is missing/],
      [await post(Buffer.from('{"version":"2.0.0","runs":[]}'), 'application/json', `commit=${COMMIT}`), 422, 'CG_RESULTS_INVALID', /^SARIF log: version must be "2.1.0"/],
      [await post(junit, 'application/xml', `commit=${COMMIT}`, { 'x-hub-signature-256': sign(junit, 'stranger') }), 401, 'CG_WEBHOOK_SIGNATURE_INVALID', /x-hub-signature-256/],
      [await post(Buffer.alloc(20 * 1024, 0x20), 'application/xml', `commit=${COMMIT}`), 413, 'CG_INPUT_INVALID', /./],
      [await app.inject({ method: 'POST', url: `/v1/events/gitlab/results?commit=${COMMIT}`, payload: junit, headers: { 'content-type': 'application/xml' } }), 404, 'CG_EVENT_SOURCE_UNKNOWN', /gitlab/],
    ] as const;
    expect(cases.map(([r]) => [r.statusCode, r.json().error.code])).toEqual(cases.map(([, status, code]) => [status, code]));
    for (const [r, , , message] of cases) expect(r.json().error.message).toMatch(message);
    expect(await stores.events.pendingCount()).toBe(0);
  });

  it('becomes the test and scan events the implement gates judge the change by, linked by its change key', async () => {
    await world();
    const change = buildChange({ key: 'CHG0030001', links: { repos: [], commits: [], artifacts: [], pipelines: [] } });
    await stores.changes.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
    const reassessed: string[] = [];
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async (id) => reassessed.push(id), logger: pino({ level: 'silent' }) });
    const judge = async (id: string) => {
      const seen = await correlator.eventsFor(change, new Date());
      return gate(id, mirrored(change), context(new Date().toISOString(), { events: { ci: seen.ci, monitor: [] } }));
    };

    expect((await post(junit, 'application/xml', `commit=${COMMIT}&change=CHG0030001&name=unit%20tests`)).statusCode).toBe(202);
    expect((await post(sarif, 'application/json', `commit=${COMMIT}&change=CHG0030001`)).statusCode).toBe(202);
    expect(await processor.drain()).toBe(2);
    // Both results land in one batch, and the change they name is re-assessed once for it.
    expect(reassessed).toEqual([change.id]);
    const linked = await stores.events.linkedEvents(change);
    expect(linked.map((l) => [l.event.type === 'ci' && l.event.event.kind, l.event.type === 'ci' && l.event.event.name, l.rule])).toEqual([
      ['test', 'unit tests', 'change-key'],
      ['scan', 'CodeQL, Trivy', 'change-key'],
    ]);
    expect(await judge('implement.tests')).toMatchObject({ result: 'fail', reason: '2 tests failed in the latest run for 9fceb02 (4 passed, 2 failed, 1 skipped)' });
    expect(await judge('implement.scan')).toMatchObject({ result: 'fail', reason: 'security scan for 9fceb02 reports 1 critical and 3 high findings open' });

    // The fixed build's report, posted later, is the latest word on the commit.
    expect((await post(green, 'application/xml', `commit=${COMMIT}&change=CHG0030001&name=unit%20tests&run=44`)).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);
    expect(await judge('implement.tests')).toMatchObject({ result: 'pass', reason: 'latest test run for 9fceb02: 2 passed, 0 failed, 0 skipped' });
  });
});
