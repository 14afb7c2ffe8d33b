// Wires one process: store, connectors, sync engine, scheduler, HTTP server.
// With no configuration it starts the built-in demo instances and says so.

import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ConnectorInstance } from '../kit/connector.ts';
import type { ChangegateConfig, InstanceConfig } from '../config/schema.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { createLogger, type Logger } from '../log.ts';
import { loadPolicy, type Policy } from '../policy/policy-config.ts';
import { buildServer } from '../server/build-server.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import { SqliteDeliveryStore } from '../store/sqlite-delivery-store.ts';
import type { AssessmentStore } from '../store/assessment-store.ts';
import type { OutboxStore } from '../store/outbox-store.ts';
import { SqliteAssessmentStore } from '../store/sqlite-assessment-store.ts';
import { SqliteOutboxStore } from '../store/sqlite-outbox-store.ts';
import { AssessmentRunner } from '../assess/assessment-runner.ts';
import { ClockReassessor } from '../assess/clock-reassessor.ts';
import { OutboxWorker } from '../sync/outbox-worker.ts';
import { openStore } from '../store/open-store.ts';
import { DeliveryProcessor } from '../sync/delivery-processor.ts';
import { SyncEngine } from '../sync/sync-engine.ts';
import { SyncScheduler } from '../sync/scheduler.ts';
import { readServiceNowSchedules } from '../../connectors/servicenow/servicenow-schedules.ts';
import { createServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { createItsmCalendars } from '../assess/itsm-calendar.ts';
import { buildConnector } from './build-connectors.ts';
import type { DemoInstances } from './demo-instances.ts';
import { loadDemo } from './load-demo.ts';
import { validationInstances } from './validation-instances.ts';

export interface ChangegateApp {
  config: ChangegateConfig;
  instances: InstanceConfig[];
  logger: Logger;
  metrics: Metrics;
  store: ChangeStore;
  engine: SyncEngine;
  /** The webhook inbox, worked by the delivery processor while `serve` runs. */
  deliveries: DeliveryStore;
  /** Assessments and enforcement records; filled by `runner` after every sync. */
  assessments: AssessmentStore;
  runner: AssessmentRunner;
  /** Re-assesses open changes for the clock on `reassess` (started by `serve`). */
  reassessor: ClockReassessor;
  /** Ticket write-back, worked by `outboxWorker` while `serve` runs (items queued by `sync` wait for it). */
  outbox: OutboxStore;
  outboxWorker: OutboxWorker;
  demo: DemoInstances | null;
  /** The policy in force (config `policy:`, else mappings/policy.default.yaml), validated at start-up. */
  policy: Policy;
  /** Reads each ServiceNow instance's blackout and maintenance schedules now (`serve` does at start-up, then every 15 min). */
  readItsmCalendars(): Promise<void>;
  /** Start the HTTP server and the schedules (`serve`). Returns the listening URL. */
  serve(options?: { runNow?: boolean }): Promise<string>;
  server(): FastifyInstance;
  close(): Promise<void>;
}

export interface CreateAppOptions {
  logger?: Logger;
  /** Demo data set size when running without configuration. */
  demoCount?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export async function createApp(loaded: LoadedConfig, options: CreateAppOptions = {}): Promise<ChangegateApp> {
  const { config } = loaded;
  const logger = options.logger ?? createLogger({ level: config.log.level });
  // Invalid policy stops start-up (exit 2) naming file, line and rule, before anything connects.
  const policy = config.policy === undefined ? loadPolicy() : loadPolicy(config.policy);
  const metrics = createMetrics();
  let demo: DemoInstances | null = null;
  let instances = config.instances;
  if (loaded.file === null) {
    const { startDemoInstances } = await loadDemo();
    demo = await startDemoInstances({ logger, changegateUrl: `http://${config.server.listen}`, ...(options.demoCount ? { count: options.demoCount } : {}) });
    instances = demo.instances;
    logger.warn(
      { store: config.store.kind === 'sqlite' ? config.store.path : config.store.kind, instances: instances.map((i) => `${i.id} → ${i.baseUrl}`) },
      'NO CONFIGURATION GIVEN (--config or CHANGEGATE_CONFIG): running the built-in demo instances against the embedded store',
    );
  }
  const store = await openStore(config.store);
  // Same file as the changes (own connection); openStore has already refused a store kind without an adapter.
  const deliveries = SqliteDeliveryStore.open(config.store.kind === 'sqlite' ? config.store.path : ':memory:');
  const storePath = config.store.kind === 'sqlite' ? config.store.path : ':memory:';
  const assessments = SqliteAssessmentStore.open(storePath);
  const outbox = SqliteOutboxStore.open(storePath);
  const modes = new Map(instances.map((i) => [i.id, i.enforcement] as const));
  const writers = new Set(instances.filter((i) => i.writeBack).map((i) => i.id));
  for (const instance of instances.filter((i) => !i.writeBack)) {
    logger.info({ instance: instance.id }, `${instance.id}: writeBack is off: changes are assessed and stored, nothing is written to the tickets`);
  }
  const connectors = new Map<string, ConnectorInstance>();
  // Blackout and maintenance schedules each ServiceNow instance publishes, merged with the policy's calendar.
  const itsmCalendars = createItsmCalendars(
    new Map(
      instances
        .filter((i) => i.system === 'servicenow')
        .map((i) => {
          const client = createServiceNowClient(i, { logger: logger.child({ instance: i.id }) });
          return [i.id, (signal?: AbortSignal) => readServiceNowSchedules(client, { logger: logger.child({ instance: i.id }), ...(signal ? { signal } : {}) })] as const;
        }),
    ),
    { logger },
  );
  const calendars = (id: string) => itsmCalendars.calendarFor(id);
  // Each calls the other only after both exist: the runner wakes the worker, the worker reports settled reverts.
  const runner = new AssessmentRunner({
    store,
    assessments,
    outbox,
    policy,
    calendars,
    modeOf: (id) => modes.get(id) ?? null,
    writesBack: (id) => writers.has(id),
    logger,
    metrics,
    onEnqueued: () => outboxWorker.kick(),
  });
  const outboxWorker = new OutboxWorker({
    outbox,
    writerFor: (id) => connectors.get(id)?.writer,
    logger,
    metrics,
    onSettled: (item, settlement, detail) => runner.onSettled(item, settlement, detail),
  });
  const engine = new SyncEngine({ store, logger, metrics, onChangesWritten: (instance, ids) => runner.onChangesWritten(instance, ids) });
  for (const instance of instances) {
    const connector = buildConnector(instance, { logger, metrics, ...(config.store.kind === 'sqlite' ? { stateDir: dirname(config.store.path) } : {}) });
    connectors.set(instance.id, connector);
    engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  }
  const scheduler = new SyncScheduler(engine, logger);
  const reassessor = new ClockReassessor({ store, runner, instances: instances.map((i) => i.id), logger });
  const processor = new DeliveryProcessor({ store: deliveries, engine, webhookOf: (id) => connectors.get(id)?.webhook, logger, metrics });
  let app: FastifyInstance | null = null;
  const server = (): FastifyInstance =>
    (app ??= buildServer({
      store,
      engine,
      metrics,
      logger,
      webhooks: { deliveries, connectorOf: (id) => connectors.get(id), onAccepted: () => processor.kick() },
      validate: { policy, calendars, instances: validationInstances(instances), lastSyncAt: (id) => engine.lastSuccessAt(id) },
      apiTokens: config.server.apiTokens,
    }));

  return {
    config,
    instances,
    logger,
    metrics,
    store,
    engine,
    deliveries,
    assessments,
    runner,
    reassessor,
    outbox,
    outboxWorker,
    demo,
    policy,
    server,
    async readItsmCalendars() {
      // A failed read keeps the policy calendar and is logged.
      await itsmCalendars.refreshAll();
    },
    async serve(serveOptions = {}) {
      const [host, port] = config.server.listen.split(':') as [string, string];
      const url = await server().listen({ host, port: Number(port) });
      logger.info({ url }, `changegate listening on ${url}`);
      if (config.server.apiTokens.length === 0 && !LOOPBACK.has(host)) {
        logger.warn({ listen: config.server.listen }, `the API (/v1/validate, /v1/changes) is open to anyone who can reach ${host}: set server.apiTokens`);
      }
      // The demo Jira site's webhook can only name the port once it is known (listen may ask for port 0).
      demo?.setChangegateUrl(url);
      // Drains what a previous process accepted but did not finish.
      processor.start();
      // Posts what a previous process or a `sync` queued, then whatever each sync queues.
      outboxWorker.start();
      // Read the ITSM calendars before the first assessment (a failed read keeps the policy calendar and is logged).
      await itsmCalendars.refreshAll();
      scheduler.start(
        instances.map((i) => ({ instance: i.id, cron: i.schedule })),
        { runNow: serveOptions.runNow ?? true },
      );
      reassessor.start(config.reassess);
      return url;
    },
    async close() {
      await scheduler.stop();
      await reassessor.stop();
      if (app) await app.close();
      await processor.stop();
      await engine.idle();
      await outboxWorker.stop();
      await store.close();
      await deliveries.close();
      await assessments.close();
      await outbox.close();
      if (demo) await demo.close();
    },
  };
}
