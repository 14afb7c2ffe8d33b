// Prometheus during hypercare against msw playing /api/v1/query: a change
// deployed to production is watched for its policy's hypercare; its service's
// error rate is compared with the value before the deploy; a degraded result
// is a firing alert closed.no-alerts holds closure on, a recovery resolves it,
// and a healthy round is the source's heartbeat.

import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { HypercareWatch, judge } from '../../src/events/pull/prometheus-hypercare.ts';
import { createPullHttp } from '../../src/events/pull/pull-http.ts';
import type { ServicesMapping } from '../../src/events/services-mapping.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { isChangegateError } from '../../src/errors.ts';
import { firingOn } from '../../src/policy/evidence.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { FakePrometheus } from '../support/prometheus-fake-api.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const PROM = 'http://prometheus.test:9090';
const ERRORS = 'sum(rate(http_requests_total{job="payments",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="payments"}[5m]))';
const DEPLOYED = Date.parse('2026-03-12T10:00:00Z');
const NOW = new Date('2026-03-12T11:00:00Z');
const logger = pino({ level: 'silent' });
const policy = loadPolicy();
const MAPPING: ServicesMapping = {
  'Payments API': { repositories: [], pipelines: [], environments: [], alertLabels: { service: 'payments' }, prometheus: { errorRate: { query: ERRORS, floor: 0.01 }, severity: 'high' } },
};
const change = buildChange({ key: 'CHG0030001', state: 'review', services: [{ id: 'svc-1', name: 'Payments API' }], cis: [] });

let stores: StoreBundle;
let prom: FakePrometheus;
let clock: Date;
beforeEach(async () => {
  stores = openSqliteStores(':memory:');
  prom = new FakePrometheus(PROM);
  clock = NOW;
  server.use(prom.handler());
  await stores.changes.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
});
afterEach(async () => stores.close());

function correlator(): Correlator {
  return new Correlator({ events: stores.events, changes: stores.changes, services: MAPPING, monitors: [{ id: 'prometheus', services: ['Payments API'] }], heartbeatMaxAgeMs: 900_000 });
}

async function processAll(): Promise<void> {
  await new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator: correlator(), reassess: async () => undefined, logger }).drain();
}

/** The production deploy of the change's commit, as a GitHub deployment_status webhook would have recorded it. */
async function deployed(at: number): Promise<void> {
  const body = {
    ci: [{ id: 'deploy-1', kind: 'deploy', status: 'success', commit: '9fceb02d0ae598e95dc970b74767f19372d61af8', environment: 'production', startedAt: new Date(at - 60_000).toISOString(), finishedAt: new Date(at).toISOString(), changeKeys: ['CHG0030001'] }],
  };
  await stores.events.record({ source: 'pipeline', kind: 'generic', deliveryId: 'd1', receivedAt: new Date(at).toISOString(), headers: {}, rawBody: Buffer.from(JSON.stringify(body)) });
  await processAll();
}

function watch(changed: string[][] = []): HypercareWatch {
  const http = createPullHttp({ source: 'prometheus', baseUrl: PROM, timeoutMs: 5_000, logger, retry: { baseMs: 1, maxMs: 2 } });
  const c = correlator();
  return new HypercareWatch({
    sourceId: 'prometheus',
    config: { baselineOffset: 600_000, maxRatio: 2, url: PROM },
    http,
    events: stores.events,
    changes: stores.changes,
    instances: [change.instance],
    ciOf: async (ch, now) => (await c.eventsFor(ch, now)).ci,
    services: MAPPING,
    policy,
    logger,
    clock: () => clock,
    onRecorded: async (ids) => void changed.push([...ids]),
  });
}

async function firing(): Promise<string[]> {
  const { monitor } = await correlator().eventsFor(change, clock);
  return firingOn(change, monitor, ['critical', 'high'], clock.getTime()).map((e) => `${e.title}`);
}

describe('Prometheus during hypercare', () => {
  it('queries now and before the deploy, and records a degraded error rate as a firing alert the no-alerts gate holds on', async () => {
    await deployed(DEPLOYED);
    prom.series.set(ERRORS, (atMs) => (atMs < DEPLOYED ? 0.01 : 0.05));
    const changed: string[][] = [];

    const report = await watch(changed).round();
    await processAll();

    expect(prom.queries).toEqual([
      { query: ERRORS, atMs: NOW.getTime() },
      { query: ERRORS, atMs: DEPLOYED - 600_000 },
    ]);
    expect(report).toEqual({ changes: 1, queries: 2, degraded: 1, recorded: 1 });
    expect(changed).toEqual([[change.id]]);
    expect(await firing()).toEqual(['error rate of Payments API degraded after the production deploy: 0.05 (baseline 0.01, 5×; limit 2× above 0.01)']);
    const [event] = (await correlator().eventsFor(change, clock)).monitor;
    expect(event?.labels).toMatchObject({ metric: 'errorRate', value: '0.05', baseline: '0.01', ratio: '5', maxRatio: '2', change: 'CHG0030001', service: 'payments' });
    expect(await correlator().watchOf(change, clock)).toMatchObject({ covered: true, lastHeartbeat: NOW.toISOString() });
  });

  it('resolves the degradation when the value comes back, and records a first healthy check once', async () => {
    await deployed(DEPLOYED);
    let value = 0.05;
    prom.series.set(ERRORS, (atMs) => (atMs < DEPLOYED ? 0.01 : value));
    const w = watch();
    await w.round();
    value = 0.012;
    clock = new Date(NOW.getTime() + 300_000);
    const back = await w.round();
    clock = new Date(NOW.getTime() + 600_000);
    const quiet = await w.round();
    await processAll();

    expect(back.recorded).toBe(1);
    expect(quiet.recorded).toBe(0);
    expect(await firing()).toEqual([]);
    const stored = (await stores.events.findEvents({ source: 'prometheus' })).map((e) => (e.type === 'monitor' ? [e.event.status, e.event.endsAt] : []));
    expect(stored).toEqual([['resolved', '2026-03-12T11:05:00.000Z']]);
  });

  it('finds a healthy service healthy: a resolved check and a heartbeat, nothing firing', async () => {
    await deployed(DEPLOYED);
    prom.series.set(ERRORS, (atMs) => (atMs < DEPLOYED ? 0.004 : 0.006));
    const report = await watch().round();
    await processAll();

    expect(report).toMatchObject({ degraded: 0, recorded: 1 });
    expect(await firing()).toEqual([]);
    const [check] = await stores.events.findEvents({ source: 'prometheus' });
    expect(check?.event).toMatchObject({ status: 'resolved', title: 'error rate of Payments API healthy after the production deploy: 0.006 (baseline 0.004, 1.5×; limit 2× above 0.01)' });
    expect((await stores.events.heartbeats())['prometheus']).toBe(NOW.toISOString());
  });

  it('resolves a degradation still open when hypercare ends, so it holds no later change on the service', async () => {
    await deployed(DEPLOYED);
    prom.series.set(ERRORS, (atMs) => (atMs < DEPLOYED ? 0.01 : 0.05));
    const changed: string[][] = [];
    const w = watch(changed);
    await w.round();
    await processAll();
    expect(await firing()).toHaveLength(1);

    // Past the longest hypercare (72 h for a major change): no query, and the degradation is closed.
    clock = new Date(DEPLOYED + 100 * 3_600_000);
    prom.queries.length = 0;
    const after = await w.round();
    await processAll();

    expect(prom.queries).toEqual([]);
    expect(after).toMatchObject({ changes: 0, recorded: 1 });
    expect(changed.at(-1)).toEqual([change.id]);
    expect(await firing()).toEqual([]);
    const [event] = await stores.events.findEvents({ source: 'prometheus' });
    expect(event?.event).toMatchObject({ status: 'resolved', endsAt: clock.toISOString() });
    expect(event?.type === 'monitor' ? event.event.title : null).toMatch(/; no longer watched: hypercare ended$/);
  });

  it('keeps a degradation open through a round whose query returns no data', async () => {
    await deployed(DEPLOYED);
    let value: number | null = 0.05;
    prom.series.set(ERRORS, (atMs) => (atMs < DEPLOYED ? 0.01 : value));
    const w = watch();
    await w.round();
    value = null;
    clock = new Date(NOW.getTime() + 300_000);
    await w.round();
    await processAll();
    expect(await firing()).toHaveLength(1);
  });

  it('leaves a change alone before its production deploy and once its hypercare ended', async () => {
    prom.series.set(ERRORS, () => 0.5);
    expect(await watch().round()).toEqual({ changes: 0, queries: 0, degraded: 0, recorded: 0 });
    await deployed(DEPLOYED - 100 * 3_600_000);
    expect(await watch().round()).toEqual({ changes: 0, queries: 0, degraded: 0, recorded: 0 });
    expect(prom.queries).toEqual([]);
  });

  it('names an expression Prometheus cannot run, and notes no heartbeat', async () => {
    await deployed(DEPLOYED);
    const err = await watch().round().then(() => null, (e: unknown) => e);
    expect(isChangegateError(err, 'CG_EVENT_PULL_REJECTED')).toBe(true);
    expect((err as Error).message).toContain('400: invalid parameter "query"');
    expect(await stores.events.heartbeats()).toEqual({});
  });
});

describe('judge', () => {
  it.each([
    { current: 0.05, baseline: 0.01, expected: true, why: 'five times the baseline, above the floor' },
    { current: 0.015, baseline: 0.01, expected: false, why: 'within twice the baseline' },
    { current: 0.009, baseline: 0.001, expected: false, why: 'nine times, but under the floor' },
    { current: 0.02, baseline: 0, expected: true, why: 'errors where there were none, above the floor' },
    { current: 0.02, baseline: null, expected: true, why: 'no baseline: above the floor decides' },
  ])('$why', ({ current, baseline, expected }) => {
    expect(judge(current, baseline, 2, 0.01).degraded).toBe(expected);
  });

  it('with no baseline and no floor cannot say degraded', () => {
    expect(judge(5, null, 2, 0)).toEqual({ degraded: false, ratio: null });
  });
});
