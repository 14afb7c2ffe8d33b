// The times GitLab, PagerDuty, Grafana, Azure DevOps and Argo CD send, as
// their webhooks reach POST /v1/events/:source: every real sample (and the
// constructed payloads of the sources no sample was saved for) is taken, each
// time read as the instant it names; a time without a zone, or no time at all,
// is refused 422 naming the field, and nothing is stored.

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
import { fixtureBytes, fixtureJson } from '../support/source-delivery.ts';

const SECRET = 'source-secret';
const hmac = (body: Buffer): string => createHmac('sha256', SECRET).update(body).digest('hex');

/** How each source's sender authenticates a body. */
const AUTH: Record<string, (body: Buffer) => Record<string, string>> = {
  gitlab: () => ({ 'x-gitlab-token': SECRET }),
  pagerduty: (body) => ({ 'x-pagerduty-signature': `v1=${hmac(body)}` }),
  grafana: (body) => ({ 'x-grafana-alerting-signature': hmac(body) }),
  'azure-devops': () => ({ 'x-changegate-token': SECRET }),
  argocd: () => ({ 'x-changegate-token': SECRET }),
};

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
  registerEventRoutes(app, {
    sources: Object.keys(AUTH).map((kind) => ({ id: kind, kind, secrets: [SECRET] })),
    kindOf: eventSourceKind,
    events: stores.events,
    maxBodyBytes: 256 * 1024,
  });
  await app.ready();
}

const post = (source: string, body: Buffer) =>
  app.inject({ method: 'POST', url: `/v1/events/${source}`, payload: body, headers: { 'content-type': 'application/json', ...AUTH[source]?.(body) } });

/** A copy of a fixture with the value at a dotted path (array indexes as numbers) replaced. */
function withValue(name: string, path: string, value: unknown): Buffer {
  const body = fixtureJson(name);
  const parts = path.split('.');
  let node: unknown = body;
  for (const part of parts.slice(0, -1)) node = (node as Record<string, unknown>)[part];
  (node as Record<string, unknown>)[parts.at(-1) ?? ''] = value;
  return Buffer.from(JSON.stringify(body));
}

async function storedTimes(): Promise<[string, string | null, string | null][]> {
  const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
  const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger: pino({ level: 'silent' }) });
  await processor.drain();
  const events = await stores.events.findEvents({});
  return events
    .map((e): [string, string | null, string | null] => (e.type === 'ci' ? [e.id, e.event.startedAt, e.event.finishedAt] : [e.id, e.event.startsAt, e.event.endsAt]))
    .toSorted(([a], [b]) => (a < b ? -1 : 1));
}

describe('POST /v1/events/:source: the times each source sends', () => {
  it('takes every real sample and constructed payload, reading each time (UTC, +0200, fractions) as the instant it names', async () => {
    await world();
    const payloads = [
      ['gitlab', 'gitlab_pipeline_hook.json'],
      ['gitlab', 'gitlab_job_hook.json'],
      ['gitlab', 'gitlab_deployment_hook.json'],
      ['pagerduty', 'pagerduty_v3_incident_triggered.json'],
      ['grafana', 'CONSTRUCTED-grafana_webhook_firing.json'],
      ['azure-devops', 'CONSTRUCTED-azure_devops_build_complete.json'],
      ['azure-devops', 'CONSTRUCTED-azure_devops_release_deployment_completed.json'],
      ['argocd', 'CONSTRUCTED-argocd_changegate_v1_deployed.json'],
    ] as const;
    const answers = [];
    for (const [source, name] of payloads) answers.push((await post(source, fixtureBytes(name))).statusCode);
    expect(answers).toEqual(payloads.map(() => 202));
    const times = await storedTimes();
    expect(times.map(([, ...at]) => at)).toEqual(
      expect.arrayContaining([
        ['2016-08-12T15:23:28.000Z', '2016-08-12T15:26:29.000Z'],
        ['2023-01-10T13:50:05.000Z', '2023-01-10T13:50:54.000Z'],
        // `2021-04-28 21:50:00 +0200`, a final status: when it finished.
        [null, '2021-04-28T19:50:00.000Z'],
        ['2025-08-02T15:45:53.000Z', null],
        // Grafana's `+01:00` with microseconds; its firing alert's `0001-01-01T00:00:00Z` is no end.
        ['2026-03-14T08:51:03.157Z', null],
        ['2026-03-14T08:40:00.000Z', '2026-03-14T09:05:00.000Z'],
        ['2026-03-14T08:45:20.123Z', '2026-03-14T08:52:03.900Z'],
        ['2026-03-14T09:10:00.500Z', '2026-03-14T09:14:42.250Z'],
        ['2026-03-14T09:20:01.000Z', '2026-03-14T09:20:44.000Z'],
      ]),
    );
    expect(times).toHaveLength(9);
  });

  it('refuses a time without a zone, or one that is no time, 422 naming the field, storing nothing', async () => {
    await world();
    const refused = [
      ['gitlab', withValue('gitlab_pipeline_hook.json', 'object_attributes.finished_at', '2016-08-12 15:26:29'), 'object_attributes.finished_at'],
      ['gitlab', withValue('gitlab_pipeline_hook.json', 'object_attributes.created_at', '2016-08-12 15:23:28 CEST'), 'object_attributes.created_at'],
      ['gitlab', withValue('gitlab_job_hook.json', 'build_started_at', '2023-01-10T13:50:05'), 'build_started_at'],
      ['gitlab', withValue('gitlab_job_hook.json', 'build_finished_at', '2023-02-30 13:50:54 UTC'), 'build_finished_at'],
      ['gitlab', withValue('gitlab_deployment_hook.json', 'status_changed_at', '2021-04-28 21:50:00'), 'status_changed_at'],
      ['pagerduty', withValue('pagerduty_v3_incident_triggered.json', 'event.occurred_at', '2025-08-02T15:45:53.839'), 'event.occurred_at'],
      ['pagerduty', withValue('pagerduty_v3_incident_triggered.json', 'event.data.created_at', 1754149553), 'event.data.created_at'],
      ['grafana', withValue('CONSTRUCTED-grafana_webhook_firing.json', 'alerts.0.startsAt', '2026-03-14 09:51:03'), 'alerts[0].startsAt'],
      ['grafana', withValue('CONSTRUCTED-grafana_webhook_firing.json', 'alerts.1.endsAt', '2026-03-14T09:05:00'), 'alerts[1].endsAt'],
      ['azure-devops', withValue('CONSTRUCTED-azure_devops_build_complete.json', 'resource.finishTime', '2026-03-14T08:52:03.9'), 'resource.finishTime'],
      ['azure-devops', withValue('CONSTRUCTED-azure_devops_release_deployment_completed.json', 'resource.deployment.completedOn', '3/14/2026 9:14:42 AM'), 'resource.deployment.completedOn'],
      ['argocd', withValue('CONSTRUCTED-argocd_changegate_v1_deployed.json', 'startedAt', '2026-03-14T09:20:01'), 'startedAt'],
    ] as const;
    const answers = [];
    for (const [source, body] of refused) answers.push(await post(source, body));
    expect(answers.map((r) => [r.statusCode, r.json().error.code, r.json().error.details.field])).toEqual(refused.map(([, , field]) => [422, 'CG_EVENT_INVALID', field]));
    for (const r of answers) expect(r.json().error.message).toMatch(/is not a time with a zone: expected .*RFC 3339 date-time with a zone/);
    expect(await stores.events.pendingCount()).toBe(0);
  });

  it(".NET's least date from Azure DevOps, with or without its Z, is no time rather than a time without a zone", async () => {
    await world();
    const unset = withValue('CONSTRUCTED-azure_devops_build_complete.json', 'resource.finishTime', '0001-01-01T00:00:00');
    expect((await post('azure-devops', unset)).statusCode).toBe(202);
    expect((await storedTimes()).map(([, ...at]) => at)).toEqual([['2026-03-14T08:45:20.123Z', null]]);
  });
});
