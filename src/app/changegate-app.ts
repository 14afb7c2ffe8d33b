// Wires one process: store, connectors, sync engine, scheduler, HTTP server.
// With no configuration it starts the built-in demo instances and says so.

import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ConnectorInstance } from '../kit/connector.ts';
import type { ChangegateConfig, InstanceConfig, StoreConfig } from '../config/schema.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { createLogger, type Logger } from '../log.ts';
import { loadPolicy, type Policy } from '../policy/policy-config.ts';
import { buildServer } from '../server/build-server.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import type { AssessmentStore } from '../store/assessment-store.ts';
import type { OutboxStore } from '../store/outbox-store.ts';
import { AssessmentRunner } from '../assess/assessment-runner.ts';
import { ClockReassessor } from '../assess/clock-reassessor.ts';
import { OwedAssessments, type OwedReport } from '../assess/owed-assessments.ts';
import { judgeOwnerOnThisHost, processOwner, type OwnerState } from '../store/claim-owner.ts';
import { releaseDeadClaims } from '../sync/dead-claims.ts';
import { OutboxWorker } from '../sync/outbox-worker.ts';
import { openStores } from '../store/open-stores.ts';
import type { StoreBundle } from '../store/store-bundle.ts';
import { StoreHealthMonitor } from '../store/store-health.ts';
import { DeliveryProcessor } from '../sync/delivery-processor.ts';
import { SyncEngine } from '../sync/sync-engine.ts';
import { SyncScheduler } from '../sync/scheduler.ts';
import { buildConnector } from './build-connectors.ts';
import { itsmCalendarsFor } from './itsm-calendars-for.ts';
import { stateNamesFor } from './state-names-for.ts';
import type { DemoInstances } from './demo-instances.ts';
import { loadDemo } from './load-demo.ts';
import { ownWritesOf } from './own-writes-of.ts';
import { validationInstances } from './validation-instances.ts';
import { correlatorFor, eventSourceOf } from './event-correlator-for.ts';
import { EventProcessor } from '../events/event-processor.ts';
import { eventSourceKind } from '../events/sources/index.ts';

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
  /** Assesses the changes an earlier process left unassessed (`serve` starts it); a pass already running is joined. */
  assessOwed(): Promise<OwedReport>;
  /** Ticket write-back, worked by `outboxWorker` while `serve` runs (items queued by `sync` wait for it). */
  outbox: OutboxStore;
  /** The evidence ledger the runner appends to (`changegate evidence export`). */
  evidence: EvidenceStore;
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
  /** Opens the store bundle; default `openStores` (tests pass a SQLite bundle with a tuned health check). */
  openStores?: (config: StoreConfig) => Promise<StoreBundle>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export async function createApp(loaded: LoadedConfig, options: CreateAppOptions = {}): Promise<ChangegateApp> {
  const { config, registry } = loaded;
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
  // Every port from the adapter `store.kind` names; a kind this build has no adapter for stops start-up here.
  const stores = await (options.openStores ?? openStores)(config.store);
  const { changes: store, deliveries, assessments, outbox } = stores;
  // CI and monitoring events correlated with each change: what the event-reading gates judge.
  const correlator = correlatorFor(config, stores);
  const events = eventSourceOf(correlator);
  const modes = new Map(instances.map((i) => [i.id, i.enforcement] as const));
  const writers = new Set(instances.filter((i) => i.writeBack).map((i) => i.id));
  for (const instance of instances.filter((i) => !i.writeBack)) {
    logger.info({ instance: instance.id }, `${instance.id}: writeBack is off: changes are assessed and stored, nothing is written to the tickets`);
  }
  const connectors = new Map<string, ConnectorInstance>();
  const stateDir = config.store.kind === 'sqlite' ? { stateDir: dirname(config.store.path) } : {};
  // Calendars the systems publish (ServiceNow blackout and maintenance schedules), merged with the policy's calendar.
  const itsmCalendars = itsmCalendarsFor(instances, registry, { logger, metrics, ...stateDir });
  const calendars = (id: string) => itsmCalendars.calendarFor(id);
  // One direction: sync → runner → outbox → worker → ticket. The runner only wakes the worker;
  // how an item settled is read back from the outbox, never reported to the runner.
  // Every claim this process takes carries its owner, so the next process can release them at once if this one dies.
  const owner = processOwner();
  // An embedded store is served from one host, where the operating system tells a dead pid; a store shared by
  // replicas will judge owners by heartbeats instead (until then, their claims wait for the lease).
  const judgeOwner = (o: Parameters<typeof judgeOwnerOnThisHost>[0]): OwnerState => (config.store.kind === 'sqlite' ? judgeOwnerOnThisHost(o, owner) : 'unknown');
  const outboxWorker = new OutboxWorker({ outbox, writerFor: (id) => connectors.get(id)?.writer, logger, metrics, owner });
  // The pass over changes owed an assessment (built below, once the runner exists) and whether `serve` has started it.
  let owed: OwedAssessments;
  let serving = false;
  const runner = new AssessmentRunner({
    store,
    assessments,
    outbox,
    policy,
    events,
    calendars,
    modeOf: (id) => modes.get(id) ?? null,
    stateNames: stateNamesFor(instances, registry),
    writesBack: (id) => writers.has(id),
    evidence: stores.evidence,
    ...(stores.assessmentWriter === undefined ? {} : { writer: stores.assessmentWriter }),
    logger,
    metrics,
    onEnqueued: () => outboxWorker.kick(),
    // The change stays owed; the owed pass retries it after a backoff, not at the next clock pass.
    onFailed: () => owed.retrySoon(),
  });
  const engine = new SyncEngine({ store, runLocks: stores.runLocks, logger, metrics, onChangesWritten: (instance, ids) => runner.onChangesWritten(instance, ids) });
  for (const instance of instances) {
    const connector = buildConnector(instance, registry, { logger, metrics, ...stateDir });
    connectors.set(instance.id, connector);
    engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  }
  // The store's health, checked every second and on each fault, off the request path; readiness, webhooks and validate read it.
  const storeHealth = new StoreHealthMonitor(() => stores.health(), {
    logger,
    onChange: (state) => {
      engine.readiness.storeChanged(state);
      // Back from a fault: what failed to be assessed during it is assessed now.
      if (state.ok && serving) owed.run().catch((err: unknown) => logger.error({ err }, 'assessing the changes owed an assessment failed'));
    },
  });
  stores.onFault(() => void storeHealth.checkNow());
  const scheduler = new SyncScheduler(engine, logger);
  const reassessor = new ClockReassessor({ store, runner, instances: instances.map((i) => i.id), logger });
  owed = new OwedAssessments({ store, runner, logger });
  const processor = new DeliveryProcessor({ store: deliveries, engine, webhookOf: (id) => connectors.get(id)?.webhook, logger, metrics, owner });
  const eventProcessor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: (id) => runner.assessChange(id, { clockTick: true }), logger });
  let app: FastifyInstance | null = null;
  const server = (): FastifyInstance =>
    (app ??= buildServer({
      systems: registry.systems,
      store,
      engine,
      metrics,
      logger,
      webhooks: { deliveries, connectorOf: (id) => connectors.get(id), onAccepted: () => processor.kick(), storeHealth: () => engine.readiness.store() },
      changeEvents: async (change) =>
        (await correlator.eventsFor(change, new Date())).events.map(({ event, rule }) => ({ id: event.id, type: event.type, source: event.source, receivedAt: event.receivedAt, rule, event: { ...event.event } })),
      events: {
        sources: config.events.sources,
        kindOf: eventSourceKind,
        events: stores.events,
        maxBodyBytes: config.events.maxBodyBytes,
        onAccepted: () => eventProcessor.kick(),
        storeHealth: () => engine.readiness.store(),
      },
      validate: {
        policy,
        events,
        calendars,
        instances: validationInstances(instances, registry),
        lastSyncAt: (id) => engine.lastSuccessAt(id),
        storeHealth: () => engine.readiness.store(),
      },
      history: { assessments, outbox, ownWritesOf: ownWritesOf(instances, registry) },
      evidence: stores.evidence,
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
    assessOwed: () => owed.run(),
    outbox,
    evidence: stores.evidence,
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
      storeHealth.start();
      const url = await server().listen({ host, port: Number(port) });
      logger.info({ url }, `changegate listening on ${url}`);
      if (config.server.apiTokens.length === 0 && !LOOPBACK.has(host)) {
        logger.warn({ listen: config.server.listen }, `the API (/v1/validate, /v1/changes) is open to anyone who can reach ${host}: set server.apiTokens`);
      }
      // The demo Jira site's webhook can only name the port once it is known (listen may ask for port 0).
      demo?.setChangegateUrl(url);
      // What a killed process held is claimable now, before the workers look, not when its leases run out.
      await releaseDeadClaims({ outbox, deliveries, judge: judgeOwner, logger, now: new Date() });
      // Drains what a previous process accepted but did not finish.
      processor.start();
      // Events stored but not yet processed (a crash, a restart) are processed now.
      eventProcessor.start();
      // Posts what a previous process or a `sync` queued, then whatever each sync queues.
      outboxWorker.start();
      // Read the ITSM calendars before the first assessment (a failed read keeps the policy calendar and is logged).
      await itsmCalendars.refreshAll();
      // Changes a killed process mirrored but never assessed; in the background, beside the first syncs.
      serving = true;
      void owed.run().catch((err: unknown) => logger.error({ err }, 'assessing the changes owed an assessment failed'));
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
      await owed.stop();
      if (app) await app.close();
      await processor.stop();
      await eventProcessor.stop();
      await engine.idle();
      await outboxWorker.stop();
      await storeHealth.stop();
      await stores.close();
      if (demo) await demo.close();
    },
  };
}
