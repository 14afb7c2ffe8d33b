// A CI names a commit by its full sha or an abbreviation of it (a results
// upload with `--commit $(git rev-parse --short HEAD)`, GitLab's deployment
// hook, a change whose implementer pasted `9fceb02d0a` into the commit field).
// The gates accept either form for the same commit; the correlation must too:
// what arrives through POST /v1/events/:source(/results) reaches the change that
// links the other form, is re-assessed at once and judged on the ticket, in
// any case, but never through an abbreviation under 7 characters.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AssessmentRunner } from '../../src/assess/assessment-runner.ts';
import { eventSourceOf } from '../../src/app/event-correlator-for.ts';
import type { Change } from '../../src/domain/change.ts';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerEventRoutes } from '../../src/server/routes/events.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const SECRET = 'gh-secret';
const run = readFileSync(new URL('../fixtures/events/github_workflow_run_completed.json', import.meta.url));
/** The fixture's run: at this commit, finished 2020-10-05 16:33:49 UTC. */
const SHA = '3484a3fb816e0859fd6e1cea078d76385ff50625';
const NOW = new Date('2020-10-05T17:00:00Z');
const I = 'sn-prod';
const sign = (body: Buffer): string => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
const failing = Buffer.from('<testsuite name="unit"><testcase classname="Pay" name="charges"><failure message="boom"/></testcase><testcase classname="Pay" name="refunds"/></testsuite>');

function change(n: number, commits: string[]): Change {
  return buildChange({
    nativeId: sysId(n),
    key: changeNumber(n),
    state: 'scheduled',
    services: [{ id: 'billing-svc', name: 'Billing' }],
    cis: [],
    links: { repos: [], commits, artifacts: [], pipelines: [] },
    createdAt: '2020-10-01T09:00:00Z',
    plannedStart: '2020-10-05T16:00:00Z',
    plannedEnd: '2020-10-05T18:00:00Z',
    updatedAt: `2020-10-02T09:${String(n % 60).padStart(2, '0')}:00Z`,
  });
}

let stores: StoreBundle;
let app: FastifyInstance;
afterEach(async () => {
  await app.close();
  await stores.close();
});

interface World {
  processor: EventProcessor;
  correlator: Correlator;
  reassessed: string[];
}

async function world(changes: readonly Change[]): Promise<World> {
  stores = openSqliteStores(':memory:');
  await stores.changes.applyPage(I, 'changes', changes.map((c) => ({ kind: 'change', change: c })), null);
  app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  registerEventRoutes(app, { sources: [{ id: 'github', kind: 'github', secrets: [SECRET] }], kindOf: eventSourceKind, events: stores.events, clock: () => NOW });
  await app.ready();
  const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
  const logger = pino({ level: 'silent' });
  const runner = new AssessmentRunner({
    store: stores.changes,
    assessments: stores.assessments,
    outbox: stores.outbox,
    policy: loadPolicy(),
    events: eventSourceOf(correlator),
    modeOf: () => 'advisory',
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => NOW,
  });
  await runner.onChangesWritten(I, changes.map((c) => c.id));
  const reassessed: string[] = [];
  const processor = new EventProcessor({
    events: stores.events,
    kindOf: eventSourceKind,
    correlator,
    // As the app wires it (src/app/changegate-app.ts).
    reassess: async (id) => {
      reassessed.push(id);
      await runner.assessChange(id, { clockTick: true });
    },
    instances: [I],
    logger,
    clock: () => NOW,
  });
  return { processor, correlator, reassessed };
}

const postRun = (body: Buffer) =>
  app.inject({ method: 'POST', url: '/v1/events/github', payload: body, headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': 'run-1', 'x-hub-signature-256': sign(body) } });
const postResults = (commit: string) =>
  app.inject({ method: 'POST', url: `/v1/events/github/results?commit=${commit}&name=unit%20tests`, payload: failing, headers: { 'content-type': 'application/xml', 'x-hub-signature-256': sign(failing) } });

const gate = async (changeId: string, id: string) => (await stores.assessments.latestAssessment(changeId))?.assessment.gates.find((g) => g.id === id);

describe('a commit named in full by one side and abbreviated by the other', () => {
  it('a results upload for an abbreviated commit reaches the change linking the full sha: re-assessed at once, its tests judged', async () => {
    const full = change(1, [SHA]);
    const other = change(2, ['0123456789abcdef0123456789abcdef01234567']);
    const { processor, correlator, reassessed } = await world([full, other]);
    expect((await gate(full.id, 'implement.tests'))?.result).toBe('pending');

    expect((await postResults(SHA.slice(0, 10).toUpperCase())).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);

    expect(reassessed).toEqual([full.id]);
    expect(await gate(full.id, 'implement.tests')).toMatchObject({ result: 'fail', reason: expect.stringMatching(/^1 test failed in the latest run for 3484a3f /) });
    expect((await correlator.eventsFor(full, NOW)).events.map((e) => [e.event.type === 'ci' && e.event.event.kind, e.rule])).toEqual([['test', 'commit']]);
    expect((await correlator.eventsFor(other, NOW)).events).toEqual([]);
  });

  it('a run on the full sha reaches the change that links an abbreviation of it in another case, and not one linking 6 characters', async () => {
    const short = change(1, ['3484A3FB81']);
    const tooShort = change(2, ['3484a3']);
    const { processor, correlator, reassessed } = await world([short, tooShort]);
    expect((await gate(short.id, 'implement.ci-green'))?.result).not.toBe('pass');

    expect((await postRun(run)).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);

    expect(reassessed).toEqual([short.id]);
    expect((await gate(short.id, 'implement.ci-green'))?.result).toBe('pass');
    expect((await correlator.eventsFor(short, NOW)).events.map((e) => [e.event.id, e.rule])).toEqual([['github:run:289782451:1', 'commit']]);
    expect((await correlator.eventsFor(tooShort, NOW)).events).toEqual([]);
  });
});
