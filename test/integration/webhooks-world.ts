// What the webhook integration tests share: the Jira simulator in-process (msw),
// the real Jira connector and sync engine on a SQLite mirror, the delivery inbox
// and processor, and the fastify app with the webhook routes. Deliveries the
// simulator makes are captured, so a test can replay, alter or reorder them
// through `post` (fastify inject).

import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { http, HttpResponse } from 'msw';
import type { SetupServer } from 'msw/node';
import { pino } from 'pino';
import type { ConnectorInstance } from '../../src/kit/connector.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteDeliveryStore } from '../../src/store/sqlite/sqlite-delivery-store.ts';
import { DeliveryProcessor, type DeliveryProcessorOptions } from '../../src/sync/delivery-processor.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { registry } from '../../src/app/registry.ts';

export const BASE = 'https://acme.atlassian.net';
export const SECRET = 'whsec-integration';
export const INSTANCE = 'jsm-hooks';
export const HOOK = `https://changegate.test/v1/webhooks/jira/${INSTANCE}`;
export const PATH = `/v1/webhooks/jira/${INSTANCE}`;

export interface Captured {
  raw: Buffer;
  headers: Record<string, string>;
}

export interface WorldOptions {
  /** Paths of SQLite files; default in memory. */
  changesPath?: string;
  deliveriesPath?: string;
  processor?: DeliveryProcessorOptions;
  /** Extra instance config (e.g. `allowUnsignedWebhooks`). */
  instance?: Record<string, unknown>;
  /** Reuse a simulator (a restarted process talks to the same site). */
  sim?: JiraSimulator;
}

export type World = Awaited<ReturnType<typeof createWorld>>;

export async function createWorld(msw: SetupServer, options: WorldOptions = {}) {
  let now = Date.parse('2026-03-12T10:00:00.000Z');
  const clock = { now: () => new Date(now), advance: (ms: number) => (now += ms) };
  const captured: Captured[] = [];
  const sim = options.sim ?? new JiraSimulator({ baseUrl: BASE, webhook: { url: HOOK, secret: SECRET } });
  msw.resetHandlers(
    ...sim.handlers(),
    http.post(HOOK, async ({ request }) => {
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      captured.push({ raw: Buffer.from(await request.arrayBuffer()), headers });
      return new HttpResponse(null, { status: 200 });
    }),
  );
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const metrics: Metrics = createMetrics({ defaultMetrics: false });
  const instance = JiraInstance.parse({
    id: INSTANCE,
    system: 'jira',
    baseUrl: BASE,
    auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' },
    projects: ['ITSM'],
    webhookSecret: SECRET,
    retries: 1,
    ...options.instance,
  });
  const jira = createJiraConnector(instance, { mapping: loadJiraMapping(), logger, retry: { baseMs: 1, maxMs: 2 } });
  // A ServiceNow instance that takes no webhooks (its connector declares none).
  const servicenow: ConnectorInstance = {
    system: 'servicenow',
    instanceId: 'sn-prod',
    streams: [],
    readPage: () => Promise.reject(new Error('not used')),
    fetchOne: () => Promise.resolve(null),
  };
  const connectors = new Map<string, ConnectorInstance>([
    [INSTANCE, jira],
    ['sn-prod', servicenow],
  ]);
  const changes = SqliteChangeStore.open(options.changesPath ?? ':memory:');
  const deliveries = SqliteDeliveryStore.open(options.deliveriesPath ?? ':memory:');
  const engine = new SyncEngine({ store: changes, logger, metrics });
  engine.register({ connector: jira, pageSize: 50, overlapMs: 60_000 });
  const fetched: string[] = [];
  const countingEngine = {
    syncOne: (id: string, nativeId: string) => {
      fetched.push(nativeId);
      return engine.syncOne(id, nativeId);
    },
  };
  const processor = new DeliveryProcessor({
    store: deliveries,
    engine: countingEngine,
    webhookOf: (id) => connectors.get(id)?.webhook,
    logger,
    metrics,
    clock: clock.now,
    options: { backoffMs: 1_000, maxAttempts: 3, ...options.processor },
  });
  let accepted = 0;
  const app: FastifyInstance = buildServer({
    systems: registry.systems,
    store: changes,
    engine,
    metrics,
    logger,
    webhooks: {
      deliveries,
      connectorOf: (id) => connectors.get(id),
      onAccepted: () => {
        accepted += 1;
        processor.kick();
      },
      clock: clock.now,
    },
  });
  await app.ready();

  return {
    sim,
    jira,
    app,
    changes,
    deliveries,
    processor,
    metrics,
    clock,
    captured,
    lines,
    fetched,
    accepted: () => accepted,
    /** Deliveries the simulator has made so far (waits for its queue). */
    async deliveriesMade(): Promise<Captured[]> {
      await sim.flushWebhooks();
      return captured.splice(0);
    },
    post(raw: Buffer | string, headers: Record<string, string>, path = PATH): Promise<LightMyRequestResponse> {
      return app.inject({ method: 'POST', url: path, headers, payload: raw });
    },
    async metric(outcome: string): Promise<number> {
      const values = (await metrics.webhookDeliveries.get()).values;
      return values.find((v) => v.labels['outcome'] === outcome && v.labels['instance'] === INSTANCE)?.value ?? 0;
    },
    async close(): Promise<void> {
      await processor.stop();
      await app.close();
      await changes.close();
      await deliveries.close();
    },
  };
}
