// The hypercare watch as an ops team meets it: a change in Review whose
// commit GitHub deployed to production; Alertmanager then reports a critical
// alert on its service. The alert is queued for the ticket once (a repeated
// notification of the same alert queues nothing), recorded in the ledger,
// linked to the change, and holds closure (closed.no-alerts) until a second
// note says it resolved. An alert before the deploy, or on another service, is
// not the change's. An alert that resolves and fires again (Alertmanager with a
// new startsAt, a generic source under the same id, a reopened PagerDuty
// incident) is posted and recorded again, each firing and each resolution once.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HypercareWatch } from '../../src/assess/hypercare-watch.ts';
import { buildPolicyContext } from '../../src/assess/policy-context.ts';
import type { Change } from '../../src/domain/change.ts';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { assess } from '../../src/policy/assess.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerEventRoutes } from '../../src/server/routes/events.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';

const deployment = readFileSync(new URL('../fixtures/events/github_deployment_status.json', import.meta.url));
const pdTriggered = readFileSync(new URL('../fixtures/events/pagerduty_v3_incident_triggered.json', import.meta.url), 'utf8');
const DEPLOYED_AT = Date.parse('2019-05-15T15:20:55Z');
const SHA = 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e';
const iso = (minutesAfterDeploy: number): string => new Date(DEPLOYED_AT + minutesAfterDeploy * 60_000).toISOString();

let stores: StoreBundle;
let app: FastifyInstance;
let clock: Date;
afterEach(async () => {
  await app.close();
  await stores.close();
});

const policy = loadPolicy();

async function world(change: Change): Promise<{ processor: EventProcessor; correlator: Correlator; reassessed: string[] }> {
  clock = new Date(DEPLOYED_AT + 30 * 60_000);
  stores = openSqliteStores(':memory:');
  app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  registerEventRoutes(app, {
    sources: [
      { id: 'github', kind: 'github', secrets: ['gh-secret'] },
      { id: 'am', kind: 'alertmanager', secrets: ['am-token'] },
      { id: 'pd', kind: 'pagerduty', secrets: ['pd-secret'] },
      { id: 'hooks', kind: 'generic', secrets: ['hooks-secret'] },
    ],
    kindOf: eventSourceKind,
    events: stores.events,
    clock: () => clock,
  });
  await app.ready();
  await stores.changes.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
  const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [{ id: 'am' }], heartbeatMaxAgeMs: 900_000 });
  const watch = new HypercareWatch({
    changes: stores.changes,
    events: stores.events,
    correlator,
    services: {},
    policy,
    outbox: stores.outbox,
    evidence: stores.evidence,
    instances: [change.instance],
    writesBack: () => true,
    logger: pino({ level: 'silent' }),
  });
  const reassessed: string[] = [];
  const processor = new EventProcessor({
    events: stores.events,
    kindOf: eventSourceKind,
    correlator,
    hypercare: watch,
    reassess: async (id) => reassessed.push(id),
    logger: pino({ level: 'silent' }),
    clock: () => clock,
  });
  return { processor, correlator, reassessed };
}

const deploy = () =>
  app.inject({
    method: 'POST',
    url: '/v1/events/github',
    payload: deployment,
    headers: { 'content-type': 'application/json', 'x-github-event': 'deployment_status', 'x-github-delivery': 'd-1', 'x-hub-signature-256': `sha256=${createHmac('sha256', 'gh-secret').update(deployment).digest('hex')}` },
  });

interface Alert {
  status: 'firing' | 'resolved';
  service: string;
  startsAt: string;
  endsAt?: string;
  fingerprint?: string;
  severity?: string;
}

/** One Alertmanager v4 notification: the alerts given, and the always-firing Watchdog. */
function notify(alerts: readonly Alert[], groupKey = 'g1') {
  const body = {
    version: '4',
    groupKey,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'changegate',
    alerts: [
      { status: 'firing', labels: { alertname: 'Watchdog', severity: 'none' }, annotations: {}, startsAt: iso(-600), endsAt: '0001-01-01T00:00:00Z', fingerprint: 'watchdog' },
      ...alerts.map((a) => ({
        status: a.status,
        labels: { alertname: 'HighErrorRate', service: a.service, severity: a.severity ?? 'critical' },
        annotations: { summary: `5xx ratio above 5% on ${a.service}` },
        startsAt: a.startsAt,
        endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example/graph?g0.expr=errors',
        fingerprint: a.fingerprint ?? `fp-${a.service}`,
      })),
    ],
  };
  return app.inject({ method: 'POST', url: '/v1/events/am', payload: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: 'Bearer am-token' } });
}

/**
 * One PagerDuty v3 incident delivery: the real `incident.triggered` capture, its incident on the payments service,
 * as PagerDuty sends the same incident's later events (another event id and type, when it happened, its status).
 */
function pagerduty(eventType: string, eventId: string, occurredAt: string, status: string, webhookId = `wh-${eventId}`) {
  const body = JSON.parse(pdTriggered) as { event: Record<string, unknown> & { data: Record<string, unknown> & { service: Record<string, unknown> } } };
  Object.assign(body.event, { id: eventId, event_type: eventType, occurred_at: occurredAt });
  Object.assign(body.event.data, { status, created_at: iso(20) });
  body.event.data.service.summary = 'payments';
  const raw = JSON.stringify(body);
  const signature = `v1=${createHmac('sha256', 'pd-secret').update(raw).digest('hex')}`;
  return app.inject({ method: 'POST', url: '/v1/events/pd', payload: raw, headers: { 'content-type': 'application/json', 'x-pagerduty-signature': signature, 'x-webhook-id': webhookId } });
}

/** One alert through the generic source, always under the same id: it names each firing by its startsAt only. */
function generic(status: 'firing' | 'resolved', startsAt: string, endsAt?: string) {
  const raw = JSON.stringify({ monitor: [{ id: 'latency', status, startsAt, endsAt, service: 'payments', severity: 'critical', title: 'p99 latency above 2 s' }] });
  const signature = `sha256=${createHmac('sha256', 'hooks-secret').update(raw).digest('hex')}`;
  return app.inject({ method: 'POST', url: '/v1/events/hooks', payload: raw, headers: { 'content-type': 'application/json', 'x-changegate-signature': signature } });
}

const inReview = (): Change =>
  buildChange({ key: 'CHG0030001', state: 'review', services: [{ id: 'svc-payments', name: 'payments' }], cis: [], links: { ...buildChange().links, commits: [SHA] } });

async function notes(changeId: string) {
  const items = await stores.outbox.list({ changeId });
  return items.filter((i) => i.source === 'hypercare').map((i) => ({ key: i.idempotencyKey, title: i.payload.action === 'comment' ? i.payload.note.title : '' }));
}

async function noAlertsGate(change: Change, correlator: Correlator) {
  const events = async (c: Change, now: Date) => correlator.eventsFor(c, now);
  const mirrored = (await stores.changes.getChange(change.id))!;
  const ctx = await buildPolicyContext({ store: stores.changes, policy, events }, mirrored, clock);
  return assess(mirrored, ctx).gates.find((g) => g.id === 'closed.no-alerts');
}

describe('hypercare watch', () => {
  it('posts a critical alert on the change\'s service once, holds closure while it fires, and posts its resolution once', async () => {
    const change = inReview();
    const { processor, correlator, reassessed } = await world(change);
    expect((await deploy()).statusCode).toBe(202);
    await processor.drain();

    clock = new Date(DEPLOYED_AT + 30 * 60_000);
    expect((await notify([{ status: 'firing', service: 'payments', startsAt: iso(20) }])).statusCode).toBe(202);
    await processor.drain();
    // Alertmanager repeats the group (repeat_interval): same alert, new body, nothing new on the ticket.
    clock = new Date(DEPLOYED_AT + 40 * 60_000);
    expect((await notify([{ status: 'firing', service: 'payments', startsAt: iso(20) }], 'g1-repeat')).statusCode).toBe(202);
    await processor.drain();

    const firingKey = `hypercare:${change.id}:am:fp-payments@${iso(20)}:firing`;
    expect(await notes(change.id)).toEqual([{ key: firingKey, title: 'Hypercare: critical alert "5xx ratio above 5% on payments" firing on payments' }]);
    const held = await noAlertsGate(change, correlator);
    expect(held?.result).toBe('fail');
    expect(held?.reason).toContain('5xx ratio above 5% on payments');
    expect(reassessed).toContain(change.id);
    expect((await stores.events.linkedEvents(change)).map((l) => l.rule)).toContain('hypercare:payments');

    clock = new Date(DEPLOYED_AT + 70 * 60_000);
    expect((await notify([{ status: 'resolved', service: 'payments', startsAt: iso(20), endsAt: iso(65) }], 'g1-resolved')).statusCode).toBe(202);
    await processor.drain();
    const posted = await notes(change.id);
    expect(posted.map((n) => n.key)).toEqual([firingKey, `hypercare:${change.id}:am:fp-payments@${iso(20)}:resolved`]);
    expect(posted[1]?.title).toBe('Hypercare: critical alert "5xx ratio above 5% on payments" on payments resolved');
    expect((await noAlertsGate(change, correlator))?.result).toBe('pass');

    const ledger = await stores.evidence.list(change.id);
    expect(ledger.map((e) => e.summary)).toEqual([
      `hypercare of CHG0030001: critical alert "5xx ratio above 5% on payments" on payments firing since ${iso(20).slice(0, 16).replace('T', ' ')} UTC`,
      `hypercare of CHG0030001: critical alert "5xx ratio above 5% on payments" on payments resolved at ${iso(65).slice(0, 16).replace('T', ' ')} UTC`,
    ]);
  });

  it('leaves alerts on other services, alerts before the deploy and a change not yet deployed off the ticket', async () => {
    const change = inReview();
    const { processor } = await world(change);
    // No production deploy yet: hypercare has not started.
    expect((await notify([{ status: 'firing', service: 'payments', startsAt: iso(5), fingerprint: 'early' }])).statusCode).toBe(202);
    await processor.drain();
    expect((await deploy()).statusCode).toBe(202);
    await processor.drain();
    expect((await notify([{ status: 'firing', service: 'checkout', startsAt: iso(20) }], 'g2')).statusCode).toBe(202);
    expect((await notify([{ status: 'resolved', service: 'payments', startsAt: iso(-120), endsAt: iso(-60), fingerprint: 'before' }], 'g3')).statusCode).toBe(202);
    await processor.drain();
    expect(await notes(change.id)).toEqual([]);
    expect(await stores.evidence.list(change.id)).toEqual([]);
  });

  it('counts Alertmanager\'s byte-identical repeat of the Watchdog notification as a heartbeat, so the alert check keeps passing', async () => {
    const change = inReview();
    const { correlator } = await world(change);
    expect((await notify([], 'watchdog')).json()).toMatchObject({ duplicate: false });
    // Twenty minutes of repeats, one every five: each the same bytes, each stored once as a duplicate.
    for (let minutes = 5; minutes <= 20; minutes += 5) {
      clock = new Date(DEPLOYED_AT + (30 + minutes) * 60_000);
      expect((await notify([], 'watchdog')).json()).toMatchObject({ duplicate: true });
    }
    expect(await stores.events.heartbeats()).toEqual({ am: clock.toISOString() });
    const gate = await noAlertsGate(change, correlator);
    expect(gate?.result).toBe('pass');
  });

  it('posts only the resolution when the resolved notification overtakes the firing one', async () => {
    const change = inReview();
    const { processor } = await world(change);
    expect((await deploy()).statusCode).toBe(202);
    await processor.drain();
    expect((await notify([{ status: 'resolved', service: 'payments', startsAt: iso(20), endsAt: iso(25) }], 'late-1')).statusCode).toBe(202);
    await processor.drain();
    expect((await notify([{ status: 'firing', service: 'payments', startsAt: iso(20) }], 'late-2')).statusCode).toBe(202);
    await processor.drain();
    expect((await notes(change.id)).map((n) => n.key)).toEqual([`hypercare:${change.id}:am:fp-payments@${iso(20)}:resolved`]);
  });

  it('posts and records a reopened PagerDuty incident again: each firing and each resolution once, a redelivered reopening once', async () => {
    const change = inReview();
    const { processor, correlator } = await world(change);
    expect((await deploy()).statusCode).toBe(202);
    await processor.drain();
    const title = 'ALARM: CRITICAL | AWS APP | ELB | mm-carrier-updates-worker-stg-al2-r2... in US East (N. Virginia)';
    const steps: [string, string, number, string][] = [
      ['incident.triggered', '01FVSY3TYZRNGRHL3BIQ1RTDG1', 20, 'triggered'],
      ['incident.resolved', '01FVSZ0M3W5Q7KJ2C8X1B4N6RA', 35, 'resolved'],
      ['incident.reopened', '01FVT0K1YF7RNB3MFHLVJZ6TQG', 50, 'triggered'],
      // Acknowledging the reopened incident is no new firing: nothing on the ticket.
      ['incident.acknowledged', '01FVT0PZ4D2H6M8R1TQW3XKV5C', 52, 'acknowledged'],
    ];
    for (const [type, id, minutes, status] of steps) {
      clock = new Date(DEPLOYED_AT + (minutes + 1) * 60_000);
      expect((await pagerduty(type, id, iso(minutes), status)).statusCode).toBe(202);
      await processor.drain();
    }
    // PagerDuty retries the reopening (same X-Webhook-Id), and a proxy replays it under another id: one post still.
    expect((await pagerduty('incident.reopened', '01FVT0K1YF7RNB3MFHLVJZ6TQG', iso(50), 'triggered')).json()).toMatchObject({ duplicate: true });
    expect((await pagerduty('incident.reopened', '01FVT0K1YF7RNB3MFHLVJZ6TQG', iso(50), 'triggered', 'wh-replayed')).json()).toMatchObject({ duplicate: false });
    await processor.drain();
    const held = await noAlertsGate(change, correlator);
    expect(held?.result).toBe('fail');
    expect(held?.reason).toContain(title);

    clock = new Date(DEPLOYED_AT + 66 * 60_000);
    expect((await pagerduty('incident.resolved', '01FVT1R8N0C3V5B7X9Z2L4J6HD', iso(65), 'resolved')).statusCode).toBe(202);
    await processor.drain();

    const key = (startsAt: string, status: string) => `hypercare:${change.id}:pd:Q19Z7CCJDTBD40@${startsAt}:${status}`;
    expect(await notes(change.id)).toEqual([
      { key: key(iso(20), 'firing'), title: `Hypercare: high incident "${title}" firing on payments` },
      { key: key(iso(20), 'resolved'), title: `Hypercare: high incident "${title}" on payments resolved` },
      { key: key(iso(50), 'firing'), title: `Hypercare: high incident "${title}" firing on payments` },
      { key: key(iso(50), 'resolved'), title: `Hypercare: high incident "${title}" on payments resolved` },
    ]);
    const utc = (minutes: number) => `${iso(minutes).slice(0, 16).replace('T', ' ')} UTC`;
    expect((await stores.evidence.list(change.id)).map((e) => e.summary)).toEqual([
      `hypercare of CHG0030001: high incident "${title}" on payments firing since ${utc(20)}`,
      `hypercare of CHG0030001: high incident "${title}" on payments resolved at ${utc(35)}`,
      `hypercare of CHG0030001: high incident "${title}" on payments firing since ${utc(50)}`,
      `hypercare of CHG0030001: high incident "${title}" on payments resolved at ${utc(65)}`,
    ]);
    // Resolved again, it no longer holds closure (Alertmanager's Watchdog says monitoring of payments is up).
    expect((await notify([], 'watchdog')).statusCode).toBe(202);
    await processor.drain();
    expect((await noAlertsGate(change, correlator))?.result).toBe('pass');
  });

  it('posts an alert that fires again after it resolved as a new firing, from Alertmanager (a new startsAt) and from a generic source (the same id)', async () => {
    const change = inReview();
    const { processor } = await world(change);
    expect((await deploy()).statusCode).toBe(202);
    await processor.drain();
    const steps: [number, () => ReturnType<typeof notify>][] = [
      [21, () => notify([{ status: 'firing', service: 'payments', startsAt: iso(20) }], 'r1')],
      [21, () => generic('firing', iso(20))],
      [36, () => notify([{ status: 'resolved', service: 'payments', startsAt: iso(20), endsAt: iso(35) }], 'r2')],
      [36, () => generic('resolved', iso(20), iso(35))],
      [51, () => notify([{ status: 'firing', service: 'payments', startsAt: iso(50) }], 'r3')],
      [51, () => generic('firing', iso(50))],
      [66, () => notify([{ status: 'resolved', service: 'payments', startsAt: iso(50), endsAt: iso(65) }], 'r4')],
      [66, () => generic('resolved', iso(50), iso(65))],
    ];
    for (const [minutes, send] of steps) {
      clock = new Date(DEPLOYED_AT + minutes * 60_000);
      expect((await send()).statusCode).toBe(202);
      await processor.drain();
    }
    const posted = (await notes(change.id)).map((n) => n.key);
    const episodes = [`${iso(20)}:firing`, `${iso(20)}:resolved`, `${iso(50)}:firing`, `${iso(50)}:resolved`];
    expect(posted.filter((k) => k.includes(':am:'))).toEqual(episodes.map((e) => `hypercare:${change.id}:am:fp-payments@${e}`));
    expect(posted.filter((k) => k.includes(':hooks:'))).toEqual(episodes.map((e) => `hypercare:${change.id}:hooks:latency@${e}`));
    expect(await stores.evidence.list(change.id)).toHaveLength(8);
  });
});
