// Event ingress and processing as a CI system or Alertmanager meets them:
// signed deliveries stored before the 202, replays stored once, bad signatures,
// unknown sources, oversized and unusable bodies refused with nothing stored;
// then the processor normalises what was stored (after a "crash" too), links
// events to the change their keys name and re-assesses it once.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerChangeRoutes } from '../../src/server/routes/changes.ts';
import { registerEventRoutes, type EventRouteDeps } from '../../src/server/routes/events.ts';
import { IngestedEvents } from '../../src/events/ingested-events.ts';
import type { EventSourceKind } from '../../src/events/event-source-kit.ts';
import type { ClaimOwner } from '../../src/store/claim-owner.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';

const GH_SECRETS = ['old-secret', 'new-secret'];
const run = readFileSync(new URL('../fixtures/events/github_workflow_run_completed.json', import.meta.url));
const sign = (body: Buffer, secret = 'new-secret'): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

let stores: StoreBundle;
let app: FastifyInstance;
afterEach(async () => {
  await app.close();
  await stores.close();
});

async function world(extra: Partial<EventRouteDeps> = {}): Promise<void> {
  stores = openSqliteStores(':memory:');
  app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  registerEventRoutes(app, {
    sources: [
      { id: 'github', kind: 'github', secrets: GH_SECRETS },
      { id: 'am', kind: 'alertmanager', secrets: ['am-token'] },
      { id: 'pipe', kind: 'generic', secrets: ['pipe-secret'] },
      { id: 'jk', kind: 'jenkins', secrets: ['jk-token'] },
    ],
    kindOf: eventSourceKind,
    events: stores.events,
    maxBodyBytes: 64 * 1024,
    ...extra,
  });
  await app.ready();
}

const post = (source: string, body: Buffer, headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: `/v1/events/${source}`, payload: body, headers: { 'content-type': 'application/json', ...headers } });
const gh = (body: Buffer, extra: Record<string, string> = {}) => post('github', body, { 'x-github-event': 'workflow_run', 'x-github-delivery': 'guid-1', 'x-hub-signature-256': sign(body), ...extra });

describe('POST /v1/events/:source', () => {
  it('stores a signed delivery (raw body kept, no credential) before 202, and a replay once', async () => {
    await world();
    const first = await gh(run);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ accepted: true, duplicate: false, deliveryId: 'guid-1' });
    const stored = await stores.events.getDelivery('github:guid-1');
    expect(stored?.rawBody.equals(run)).toBe(true);
    expect(stored?.headers).not.toHaveProperty('x-hub-signature-256');
    expect(stored?.status).toBe('pending');
    const again = await gh(run, { 'x-hub-signature-256': sign(run, 'old-secret') });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ duplicate: true });
    expect(await stores.events.pendingCount()).toBe(1);
  });

  it('de-duplicates a source that names no delivery by a hash of the body', async () => {
    await world();
    const body = Buffer.from(JSON.stringify({ version: '4', alerts: [] }));
    const a = await post('am', body, { authorization: 'Bearer am-token' });
    const b = await post('am', body, { authorization: 'Bearer am-token' });
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.json().deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.json()).toMatchObject({ duplicate: true, deliveryId: a.json().deliveryId });
  });

  it('refuses bad, missing and retired signatures 401, an unknown source 404, an unusable body 422 and an oversized one 413, storing nothing', async () => {
    await world();
    const cases = [
      [await gh(run, { 'x-hub-signature-256': sign(run, 'retired') }), 401, 'CG_WEBHOOK_SIGNATURE_INVALID'],
      [await post('github', run, { 'x-github-event': 'workflow_run' }), 401, 'CG_WEBHOOK_SIGNATURE_MISSING'],
      [await post('am', Buffer.from('{"alerts":[]}'), { authorization: 'Bearer wrong' }), 401, 'CG_WEBHOOK_SIGNATURE_INVALID'],
      [await post('jenkins-x', run, {}), 404, 'CG_EVENT_SOURCE_UNKNOWN'],
      [await gh(Buffer.from('{"action":"completed"}')), 422, 'CG_EVENT_INVALID'],
      [await gh(Buffer.from('{not json')), 422, 'CG_EVENT_INVALID'],
      [await gh(Buffer.alloc(70 * 1024, 0x20)), 413, 'CG_INPUT_INVALID'],
    ] as const;
    expect(cases.map(([r]) => [r.statusCode, r.json().error.code])).toEqual(cases.map(([, status, code]) => [status, code]));
    expect(await stores.events.pendingCount()).toBe(0);
  });
});

describe('POST /v1/events/:source over events.maxBodyBytes', () => {
  it('answers 413 naming the limit, so the operator knows what to raise, and stores nothing', async () => {
    await world();
    const big = Buffer.from(JSON.stringify({ ci: [{ id: 'r1', status: 'success', name: 'x'.repeat(70 * 1024) }] }));
    const answer = await post('pipe', big, { 'x-changegate-signature': sign(big, 'pipe-secret') });
    expect(answer.statusCode).toBe(413);
    expect(answer.json().error).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field: 'body', limit: 65536 } });
    expect(answer.json().error.message).toContain('65536 bytes');
    expect(await stores.events.pendingCount()).toBe(0);
  });
});

const generic = (body: unknown) => {
  const raw = Buffer.from(JSON.stringify(body));
  return post('pipe', raw, { 'x-changegate-signature': sign(raw, 'pipe-secret') });
};
const build = (finishedAt: unknown) => ({ ci: [{ id: 'r1', status: 'success', commit: '9fceb02d0a', finishedAt }] });

describe('POST /v1/events/:source from a generic source: times', () => {
  it('refuses a time without a zone, or that is not a date-time, 422 naming the field, storing nothing', async () => {
    await world();
    const refused = [
      [build('2026-03-12T10:00:00'), 'ci[0].finishedAt'],
      [build('2026-03-12 10:00:00'), 'ci[0].finishedAt'],
      [build('12'), 'ci[0].finishedAt'],
      [build(12), 'ci[0].finishedAt'],
      [build('2026-03-12'), 'ci[0].finishedAt'],
      [build('2026-02-30T10:00:00Z'), 'ci[0].finishedAt'],
      [build('Thu, 12 Mar 2026 10:00:00 GMT'), 'ci[0].finishedAt'],
      [{ ci: [{ id: 'r1', status: 'success', startedAt: '2026-03-12T10:00:00+0100' }] }, 'ci[0].startedAt'],
      [{ monitor: [{ id: 'a1', status: 'firing', startsAt: '2026-03-12T10:00:00' }] }, 'monitor[0].startsAt'],
      [{ monitor: [{ id: 'a1', status: 'resolved', startsAt: '2026-03-12T10:00:00Z', endsAt: '2026-03-12T11:00' }] }, 'monitor[0].endsAt'],
    ] as const;
    const answers = [];
    for (const [body] of refused) answers.push(await generic(body));
    expect(answers.map((r) => [r.statusCode, r.json().error.code, r.json().error.details.field])).toEqual(refused.map(([, field]) => [422, 'CG_EVENT_INVALID', field]));
    for (const [i, r] of answers.entries()) expect(r.json().error.message).toMatch(new RegExp(`^body ${refused[i]?.[1].replace(/[[\]]/g, '\\$&')}: expected an RFC 3339 date-time with a zone`));
    expect(await stores.events.pendingCount()).toBe(0);
  });

  it('takes a date-time with Z or an offset, as the instant it names', async () => {
    await world();
    expect((await generic({ ci: [{ id: 'r1', status: 'success', startedAt: '2026-03-12T11:00:00.5+01:00', finishedAt: '2026-03-12t10:05:00z' }] })).statusCode).toBe(202);
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger: pino({ level: 'silent' }) });
    expect(await processor.drain()).toBe(1);
    expect((await stores.events.getEvent('pipe:r1'))?.event).toMatchObject({ startedAt: '2026-03-12T10:00:00.500Z', finishedAt: '2026-03-12T10:05:00.000Z' });
  });
});

describe('POST /v1/events/:source from a generic source: the event lists', () => {
  it('refuses "ci" or "monitor" that is not a list 422 naming it, storing nothing, rather than accepting a delivery that says nothing', async () => {
    await world();
    const refused = [
      [{ ci: { id: 'r1', status: 'success' } }, 'ci'],
      [{ ci: 'r1' }, 'ci'],
      [{ ci: [], monitor: { id: 'a1', status: 'firing', startsAt: '2026-03-12T10:00:00Z' } }, 'monitor'],
    ] as const;
    const answers = [];
    for (const [body] of refused) answers.push(await generic(body));
    expect(answers.map((r) => [r.statusCode, r.json().error?.code, r.json().error?.details.field])).toEqual(refused.map(([, field]) => [422, 'CG_EVENT_INVALID', field]));
    expect(await stores.events.pendingCount()).toBe(0);
    // A list left null (how Go writes an empty slice) is an empty one.
    expect((await generic({ ci: [{ id: 'r1', status: 'success' }], monitor: null })).statusCode).toBe(202);
  });
});

describe('POST /v1/events/:source with a UTF-8 byte order mark', () => {
  it('takes the JSON after the mark (Windows PowerShell writes one), verified over the bytes as sent, and processes it', async () => {
    await world();
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(build('2026-03-12T10:05:00Z')))]);
    const answer = await post('pipe', body, { 'x-changegate-signature': sign(body, 'pipe-secret') });
    expect([answer.statusCode, answer.json().accepted]).toEqual([202, true]);
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger: pino({ level: 'silent' }) });
    expect(await processor.drain()).toBe(1);
    expect((await stores.events.getEvent('pipe:r1'))?.event).toMatchObject({ status: 'success', finishedAt: '2026-03-12T10:05:00.000Z' });
  });
});

/** GitHub's default for a webhook made through its API: the JSON in the form field `payload`, the signature over the form body. */
const form = (json: Buffer): Buffer => Buffer.from(new URLSearchParams({ payload: json.toString('utf8') }).toString());

describe('POST /v1/events/:source from a GitHub webhook whose content type is application/x-www-form-urlencoded', () => {
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'workflow_run', 'x-github-delivery': 'guid-form' };

  it('takes the JSON from the payload field once the signature over the form body is verified, and processes it as the JSON delivery', async () => {
    await world();
    const body = form(run);
    const accepted = await post('github', body, { ...formHeaders, 'x-hub-signature-256': sign(body) });
    expect([accepted.statusCode, accepted.json()]).toEqual([202, { accepted: true, duplicate: false, deliveryId: 'guid-form' }]);
    expect((await stores.events.getDelivery('github:guid-form'))?.rawBody.equals(body)).toBe(true);
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger: pino({ level: 'silent' }) });
    expect(await processor.drain()).toBe(1);
    expect(await stores.events.getDelivery('github:guid-form')).toMatchObject({ status: 'done' });
    const asJson = eventSourceKind('github')?.normalise('github', { headers: { 'x-github-event': 'workflow_run' }, rawBody: run }, JSON.parse(run.toString('utf8')));
    expect(asJson?.ci).toHaveLength(1);
    expect((await stores.events.findEvents({ source: 'github' })).map((e) => e.event)).toEqual(asJson?.ci);
  });

  it('refuses a signature over the JSON rather than the form body 401, a form without payload or with payload not JSON 422 naming it, storing nothing', async () => {
    await world();
    const body = form(run);
    const noPayload = Buffer.from(`event=${encodeURIComponent(run.toString('utf8'))}`);
    const notJson = Buffer.from('payload=%7Bnot+json');
    const cases = [
      [await post('github', body, { ...formHeaders, 'x-hub-signature-256': sign(run) }), 401, 'CG_WEBHOOK_SIGNATURE_INVALID', 'x-hub-signature-256'],
      [await post('github', noPayload, { ...formHeaders, 'x-hub-signature-256': sign(noPayload) }), 422, 'CG_EVENT_INVALID', 'payload'],
      [await post('github', notJson, { ...formHeaders, 'x-hub-signature-256': sign(notJson) }), 422, 'CG_EVENT_INVALID', 'payload'],
    ] as const;
    expect(cases.map(([r]) => [r.statusCode, r.json().error.code, r.json().error.details.field])).toEqual(cases.map(([, status, code, field]) => [status, code, field]));
    expect(await stores.events.pendingCount()).toBe(0);
  });
});

describe('EventProcessor', () => {
  it('processes what was stored (even by a process that died), links the named change with its rule and re-assesses it once', async () => {
    await world();
    const change = buildChange({ key: 'CHG0030001' });
    await stores.changes.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
    const body = JSON.parse(run.toString('utf8'));
    body.workflow_run.head_branch = 'chg0030001-retries';
    const raw = Buffer.from(JSON.stringify(body));
    expect((await gh(raw)).statusCode).toBe(202);
    // A heartbeat from Alertmanager, and an alert on nobody's change.
    const alerts = { version: '4', alerts: [{ status: 'firing', labels: { alertname: 'Watchdog' }, startsAt: '2026-03-12T10:00:00Z' }] };
    expect((await post('am', Buffer.from(JSON.stringify(alerts)), { authorization: 'Bearer am-token' })).statusCode).toBe(202);

    const reassessed: string[] = [];
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [{ id: 'am' }], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async (id) => reassessed.push(id), logger: pino({ level: 'silent' }) });
    expect(await processor.drain()).toBe(2);
    expect(await processor.drain()).toBe(0);
    expect(reassessed).toEqual([change.id]);
    expect(await stores.events.getDelivery('github:guid-1')).toMatchObject({ status: 'done' });
    const linked = await stores.events.linkedEvents(change);
    expect(linked.map((l) => [l.event.id, l.rule])).toEqual([['github:run:289782451:1', 'change-key']]);
    expect(Object.keys(await stores.events.heartbeats())).toEqual(['am']);

    const seen = await correlator.eventsFor(change, new Date(Date.parse((await stores.events.heartbeats())['am']!) + 60_000));
    expect(seen.ci.map((e) => e.status)).toEqual(['success']);
    expect(seen.events.map((e) => e.rule)).toEqual(['linked:change-key']);
    expect(seen.watch).toMatchObject({ covered: true, sources: ['am'] });

    // GET /v1/changes/:key lists them, each with its rule.
    const api = Fastify();
    registerChangeRoutes(api, stores.changes, ['servicenow'], async (c) =>
      (await correlator.eventsFor(c, new Date())).events.map(({ event, rule }) => ({ id: event.id, type: event.type, source: event.source, receivedAt: event.receivedAt, rule, event: { ...event.event } })),
    );
    const detail = (await api.inject('/v1/changes/CHG0030001')).json();
    expect(detail.events.map((e: { id: string; rule: string }) => [e.id, e.rule])).toEqual([['github:run:289782451:1', 'linked:change-key']]);
    await api.close();
  });
});

describe('EventProcessor claims', () => {
  it('holds what it works under its process, so a start-up after a kill can release it, and holds nothing once done', async () => {
    await world();
    expect((await gh(run)).statusCode).toBe(202);
    const owner: ClaimOwner = { id: 'this-process', host: 'host-a', pid: 4242, startedAt: '2026-03-12T09:00:00.000Z' };
    const enriching = Promise.withResolvers<void>();
    const held = Promise.withResolvers<void>();
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({
      events: stores.events,
      kindOf: eventSourceKind,
      correlator,
      // Stops in the middle of the delivery, where a SIGKILL could find it.
      enrich: async (_source, events) => {
        enriching.resolve();
        await held.promise;
        return events;
      },
      reassess: async () => undefined,
      logger: pino({ level: 'silent' }),
      owner,
    });
    const drained = processor.drain();
    await enriching.promise;
    expect(await stores.events.claimOwners()).toEqual([owner]);
    held.resolve();
    expect(await drained).toBe(1);
    expect(await stores.events.getDelivery('github:guid-1')).toMatchObject({ status: 'done', attempts: 1 });
    expect(await stores.events.claimOwners()).toEqual([]);
  });
});

describe('every registered source, through the route and the processor', () => {
  it('takes a GitLab pipeline hook and a PagerDuty incident by their own credentials and stores their events', async () => {
    stores = openSqliteStores(':memory:');
    app = Fastify();
    installErrorHandler(app, createMetrics({ defaultMetrics: false }));
    registerEventRoutes(app, {
      sources: [
        { id: 'gitlab', kind: 'gitlab', secrets: ['gl-token'] },
        { id: 'pd', kind: 'pagerduty', secrets: ['pd-key'] },
      ],
      kindOf: eventSourceKind,
      events: stores.events,
      maxBodyBytes: 64 * 1024,
    });
    await app.ready();
    const pipeline = readFileSync(new URL('../fixtures/events/gitlab_pipeline_hook.json', import.meta.url));
    const incident = readFileSync(new URL('../fixtures/events/pagerduty_v3_incident_triggered.json', import.meta.url));
    const pdSignature = `v1=${createHmac('sha256', 'pd-key').update(incident).digest('hex')}`;
    expect((await post('gitlab', pipeline, { 'x-gitlab-token': 'wrong', 'x-gitlab-event': 'Pipeline Hook' })).statusCode).toBe(401);
    expect((await post('gitlab', pipeline, { 'x-gitlab-token': 'gl-token', 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-event-uuid': 'gl-1' })).statusCode).toBe(202);
    expect((await post('pd', incident, { 'x-pagerduty-signature': pdSignature, 'x-webhook-id': 'pd-1' })).statusCode).toBe(202);
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [{ id: 'pd' }], heartbeatMaxAgeMs: 900_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger: pino({ level: 'silent' }) });
    expect(await processor.drain()).toBe(2);
    expect((await stores.events.findEvents({ source: 'gitlab' })).map((e) => e.type)).toEqual(['ci']);
    expect((await stores.events.findEvents({ source: 'pd' })).map((e) => e.type)).toEqual(['monitor']);
  });
});

describe('the route and the processor of one process', () => {
  it('normalise a delivery once, and to the events its stored bytes give any other process', async () => {
    let normalised = 0;
    const counting = (kind: string): EventSourceKind | undefined => {
      const k = eventSourceKind(kind);
      return k === undefined ? undefined : { ...k, normalise: (...args: Parameters<EventSourceKind['normalise']>) => ((normalised += 1), k.normalise(...args)) };
    };
    const ingested = new IngestedEvents();
    await world({ kindOf: counting, ingested });
    expect((await gh(run)).statusCode).toBe(202);
    expect([normalised, ingested.size]).toEqual([1, 1]);

    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 600_000 });
    const processor = new EventProcessor({ events: stores.events, kindOf: counting, ingested, correlator, reassess: async () => undefined, logger: pino({ level: 'silent' }) });
    expect(await processor.drain()).toBe(1);
    // Not normalised again from the stored bytes.
    expect([normalised, ingested.size]).toEqual([1, 0]);

    const stored = await stores.events.getDelivery('github:guid-1');
    const fromBytes = eventSourceKind('github')?.normalise('github', { headers: stored?.headers ?? {}, rawBody: stored?.rawBody ?? Buffer.alloc(0) }, JSON.parse(run.toString('utf8')));
    expect((await stores.events.findEvents({ source: 'github' })).map((e) => e.event)).toEqual(fromBytes?.ci);
  });

  it('holds a bounded number of deliveries, the oldest given up first', () => {
    const ingested = new IngestedEvents(2);
    for (const id of ['a', 'b', 'c']) ingested.put(id, { ci: [], monitor: [] });
    expect([ingested.take('a'), ingested.size]).toEqual([undefined, 2]);
    expect(ingested.take('c')).toEqual({ ci: [], monitor: [] });
  });
});

describe('POST /v1/events/:source from Jenkins: epoch times', () => {
  it('takes a build whose timestamp or duration no date can hold, without its times (was 500), and stores it', async () => {
    const said: unknown[] = [];
    await world({ ingested: { put: (_id, events) => void said.push(events) } });
    const finalized = JSON.parse(readFileSync(new URL('../fixtures/events/CONSTRUCTED-jenkins_notification_finalized.json', import.meta.url), 'utf8')) as { build: Record<string, unknown> };
    const answers = [];
    for (const [number, time] of [[1, { timestamp: 1e16 }], [2, { timestamp: 1e300 }], [3, { duration: 8.64e15 }]] as const) {
      answers.push(await post('jk', Buffer.from(JSON.stringify({ ...finalized, build: { ...finalized.build, number, ...time } })), { 'x-changegate-token': 'jk-token' }));
    }
    expect(answers.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    expect(said.map((s) => (s as { ci: { startedAt: string | null; finishedAt: string | null }[] }).ci.map((e) => [e.startedAt, e.finishedAt]))).toEqual([
      [[null, null]],
      [[null, null]],
      [['2026-03-14T08:51:03.000Z', null]],
    ]);
    expect(await stores.events.pendingCount()).toBe(3);
  });
});

describe('POST /v1/events/:source, form-encoded, from a source other than GitHub', () => {
  const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

  it('refuses it 422 CG_EVENT_INVALID saying to set the webhook\'s content type to application/json, storing nothing', async () => {
    await world();
    const alerts = Buffer.from(new URLSearchParams({ payload: JSON.stringify({ version: '4', alerts: [] }) }).toString());
    const pipeline = Buffer.from(new URLSearchParams({ ci: JSON.stringify([{ id: 'r1', status: 'success' }]) }).toString());
    const answers = [
      [await post('am', alerts, { ...FORM, authorization: 'Bearer am-token' }), 'am', 'alertmanager'],
      [await post('pipe', pipeline, { ...FORM, 'x-changegate-signature': sign(pipeline, 'pipe-secret') }), 'pipe', 'generic'],
    ] as const;
    for (const [answer, id, kind] of answers) {
      expect([answer.statusCode, answer.json().error.code, answer.json().error.details]).toEqual([422, 'CG_EVENT_INVALID', expect.objectContaining({ field: 'body', where: 'body', source: id })]);
      expect(answer.json().error.message).toBe(`body: form-encoded (application/x-www-form-urlencoded), but source "${id}" (${kind}) takes JSON: set the webhook's content type to application/json`);
    }
    expect(await stores.events.pendingCount()).toBe(0);
  });

  it('still takes JSON sent under that content type (curl -d labels every body so)', async () => {
    await world();
    const raw = Buffer.from(JSON.stringify({ ci: [{ id: 'r1', status: 'success' }] }));
    const answer = await post('pipe', raw, { ...FORM, 'x-changegate-signature': sign(raw, 'pipe-secret') });
    expect([answer.statusCode, answer.json()]).toEqual([202, expect.objectContaining({ accepted: true, duplicate: false })]);
  });
});
