// The scheduled Alertmanager pull against msw playing GET /api/v2/alerts:
// firing alerts become the same events as their webhooks (one per fingerprint
// and startsAt), an alert gone from the list is recorded resolved, and a
// successful pull is the heartbeat that lets an alert check trust a quiet feed
// for the services its filter covers.

import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { AlertmanagerPuller } from '../../src/events/pull/alertmanager-pull.ts';
import { createPullHttp } from '../../src/events/pull/pull-http.ts';
import { servicesMatching, type ServicesMapping } from '../../src/events/services-mapping.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { isChangegateError } from '../../src/errors.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { FakeAlertmanager, type FakeAlert } from '../support/alertmanager-fake-api.ts';
import { buildChange } from '../support/change-builder.ts';
import { fixtureBytes } from '../support/source-delivery.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const AM = 'http://alertmanager.test:9093';
const NOW = new Date('2026-03-12T12:00:00Z');
const logger = pino({ level: 'silent' });
const MAPPING: ServicesMapping = {
  'Payments API': { repositories: [], pipelines: [], environments: [], alertLabels: { service: 'payments' } },
  Checkout: { repositories: [], pipelines: [], environments: [], alertLabels: { service: 'checkout' } },
};

let stores: StoreBundle;
let am: FakeAlertmanager;
let clock: Date;
beforeEach(() => {
  stores = openSqliteStores(':memory:');
  am = new FakeAlertmanager(AM);
  clock = NOW;
  server.use(am.handler());
});
afterEach(async () => stores.close());

function puller(filters: string[] = []): AlertmanagerPuller {
  const http = createPullHttp({ source: 'am', baseUrl: AM, timeoutMs: 5_000, logger, retry: { baseMs: 1, maxMs: 2 } });
  return new AlertmanagerPuller({ sourceId: 'am', pull: { urls: [AM], filters }, httpFor: () => http, events: stores.events, logger, clock: () => clock });
}

function correlator(filters: string[] = []): Correlator {
  return new Correlator({ events: stores.events, changes: stores.changes, services: MAPPING, monitors: [{ id: 'am', services: servicesMatching(filters, MAPPING) }], heartbeatMaxAgeMs: 900_000 });
}

async function processAll(): Promise<void> {
  await new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator: correlator(), reassess: async () => undefined, logger }).drain();
}

const critical = (fingerprint: string, service: string, fields: Partial<FakeAlert> = {}): FakeAlert => ({
  labels: { alertname: 'HighErrorRate', service, severity: 'critical' },
  annotations: { summary: `5xx above 5% on ${service}` },
  fingerprint,
  startsAt: '2026-03-12T11:50:00.000Z',
  ...fields,
});

describe('Alertmanager pull', () => {
  it('asks for active, unsilenced, uninhibited alerts and stores each firing one as its webhook would', async () => {
    am.alerts = [critical('a1', 'payments'), critical('a2', 'checkout', { silenced: true }), critical('a3', 'payments', { inhibited: true })];

    const [report] = await puller().pullAll();
    await processAll();

    expect(am.queries[0]?.toString()).toBe('active=true&silenced=false&inhibited=false');
    expect(report).toMatchObject({ firing: 1, recorded: 1 });
    const stored = await stores.events.findEvents({ source: 'am' });
    expect(stored.map((e) => (e.type === 'monitor' ? [e.id, e.event.status, e.event.severity, e.event.service, e.event.title, e.event.endsAt] : []))).toEqual([
      ['am:a1:2026-03-12T11:50:00.000Z', 'firing', 'critical', 'payments', '5xx above 5% on payments', null],
    ]);
  });

  it('records an alert that left the list as resolved at the pull that missed it, once', async () => {
    am.alerts = [critical('a1', 'payments')];
    const p = puller();
    await p.pullAll();
    am.alerts = [];
    clock = new Date(NOW.getTime() + 60_000);
    const [gone] = await p.pullAll();
    clock = new Date(NOW.getTime() + 120_000);
    const [after] = await p.pullAll();
    await processAll();

    expect(gone).toMatchObject({ firing: 0, resolved: 1 });
    expect(after).toMatchObject({ firing: 0, resolved: 0 });
    expect(await stores.events.getEvent('am:a1:2026-03-12T11:50:00.000Z')).toMatchObject({ event: { status: 'resolved', endsAt: '2026-03-12T12:01:00.000Z' } });
  });

  it('stores an alert once when its webhook came first (same fingerprint and startsAt)', async () => {
    // The real Alertmanager 0.22.2 webhook sample: fingerprint c32443c5c37325c8, startsAt 2021-08-22T06:47:54.913Z.
    await stores.events.record({ source: 'am', kind: 'alertmanager', deliveryId: 'sha256:hook', receivedAt: NOW.toISOString(), headers: {}, rawBody: fixtureBytes('alertmanager_webhook_v4_firing.json') });
    await processAll();
    am.alerts = [{ labels: { alertname: 'check2', instance: 'localhost:9980', job: 'myjob', output: 'warningout', severity: 'warning' }, fingerprint: 'c32443c5c37325c8', startsAt: '2021-08-22T06:47:54.913Z' }];

    const [report] = await puller().pullAll();

    expect(report).toMatchObject({ firing: 1, recorded: 0, known: 1 });
    expect((await stores.events.findEvents({ source: 'am' })).map((e) => e.id)).toEqual(['am:c32443c5c37325c8:2021-08-22T06:47:54.913Z']);
  });

  it('counts a successful pull as the heartbeat of the services its filter covers, and a failed one as none', async () => {
    const payments = buildChange({ services: [{ id: 'svc-1', name: 'Payments API' }], cis: [] });
    const checkout = buildChange({ key: 'CHG0040002', nativeId: 'n2', services: [{ id: 'svc-2', name: 'Checkout' }], cis: [] });
    const filters = ['service="payments"'];
    const p = puller(filters);
    expect(await correlator(filters).watchOf(payments, NOW)).toMatchObject({ covered: false, sources: ['am'], lastHeartbeat: null });

    // A restarting Alertmanager (503) is retried through the classifier; the pull then succeeds.
    am.failNext = 503;
    await p.pullAll();

    expect(am.queries.at(-1)?.getAll('filter')).toEqual(['service="payments"']);
    expect(await correlator(filters).watchOf(payments, NOW)).toEqual({ covered: true, sources: ['am'], lastHeartbeat: NOW.toISOString() });
    expect(await correlator(filters).watchOf(checkout, NOW)).toEqual({ covered: false, sources: [], lastHeartbeat: null });
    // Past the heartbeat age with no pull since, a quiet feed is no longer trusted.
    expect(await correlator(filters).watchOf(payments, new Date(NOW.getTime() + 900_001))).toMatchObject({ covered: false });
  });

  it('notes no heartbeat when Alertmanager does not answer, and keeps its firing alerts', async () => {
    am.alerts = [critical('a1', 'payments')];
    const p = puller();
    await p.pullAll();
    const beat = (await stores.events.heartbeats())['am'];
    am.failNext = 400;
    clock = new Date(NOW.getTime() + 60_000);
    const err = await p.pullAll().then(() => null, (e: unknown) => e);

    expect(isChangegateError(err, 'CG_EVENT_PULL_REJECTED')).toBe(true);
    expect((await stores.events.heartbeats())['am']).toBe(beat);
    await processAll();
    expect(await stores.events.getEvent('am:a1:2026-03-12T11:50:00.000Z')).toMatchObject({ event: { status: 'firing' } });
  });

  it('takes the Watchdog alert as proof of life, not as an alert on a service', async () => {
    am.alerts = [{ labels: { alertname: 'Watchdog', severity: 'none' }, fingerprint: 'w1', startsAt: '2026-03-12T00:00:00.000Z' }];
    const [report] = await puller().pullAll();
    expect(report).toMatchObject({ firing: 0, recorded: 0 });
    expect(await stores.events.pendingCount()).toBe(0);
    expect((await stores.events.heartbeats())['am']).toBe(NOW.toISOString());
  });
});
