// Wires one process: store, connectors, sync engine, scheduler, HTTP server.
// With no configuration it starts the built-in demo instances and says so.

import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ConnectorInstance } from '../kit/connector.ts';
import type { ChangegateConfig, InstanceConfig, StoreConfig } from '../config/schema.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Policy } from '../policy/policy-config.ts';
import { configuredPolicy } from './configured-policy.ts';
import { buildServer } from '../server/build-server.ts';
import { createMetrics, observeReadCache, type Metrics } from '../observability/metrics.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';
import { loadSigningKey } from '../evidence/signing-key.ts';
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
import { LeaseKeeper } from '../sync/lease-keeper.ts';
import { buildConnector, stateOf } from './build-connectors.ts';
import { itsmCalendarsFor } from './itsm-calendars-for.ts';
import { stateNamesFor } from './state-names-for.ts';
import type { DemoInstances } from './demo-instances.ts';
import { loadDemo } from './load-demo.ts';
import { DemoEventLoop } from './demo-events.ts';
import { ownWritesOf } from './own-writes-of.ts';
import { validationInstances } from './validation-instances.ts';
import { correlatorFor, eventSourceOf } from './event-correlator-for.ts';
import { IngestedEvents } from '../events/ingested-events.ts';
import { EventProcessor } from '../events/event-processor.ts';
import { PullScheduler } from '../events/pull/pull-scheduler.ts';
import { loadServicesMapping } from '../events/services-mapping.ts';
import { eventPullsFor } from './event-pulls-for.ts';
import { eventSourceKind } from '../events/sources/index.ts';
import { githubArtifacts } from '../events/artifacts/github-artifacts.ts';
import { HypercareWatch } from '../assess/hypercare-watch.ts';
import { staleness } from './unready-after.ts';

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
  /** The key bundles are signed with (`evidence.signingKey`); null: unsigned. */
  evidenceSigningKey: KeyObject | null;
  outboxWorker: OutboxWorker;
  demo: DemoInstances | null;
  /** The demo pipeline and Alertmanager posting events to this process (`serve` without configuration starts them). */
  demoEvents(): DemoEventLoop | null;
  /** The policy in force (config `policy:`, else mappings/policy.default.yaml), validated at start-up. */
  policy: Policy;
  /** Reads each ServiceNow instance's blackout and maintenance schedules now (`serve` does at start-up, then every 15 min). */
  readItsmCalendars(): Promise<void>;
  /** The leases this process holds (instances it syncs, the clock re-assessment). */
  leases: LeaseKeeper;
  /** Start the HTTP server and the schedules (`serve`). Returns the listening URL. */
  serve(options?: { runNow?: boolean }): Promise<string>;
  server(): FastifyInstance;
  /** Stops everything, waiting for the work in flight (syncs stop at once: see SyncEngine.stop), then closes the store. */
  close(): Promise<void>;
  /** What `close()` is waiting for now (e.g. "the ticket write-backs in progress to finish"); null when it is not closing or has closed. */
  closing(): string | null;
}

export interface CreateAppOptions {
  logger?: Logger;
  /** Demo data set size when running without configuration. */
  demoCount?: number;
  /** Pause between the steps of the demo's event stories (default 20 s). */
  demoStepMs?: number;
  /** Opens the store bundle; default `openStores` (tests pass a SQLite bundle with a tuned health check). */
  openStores?: (config: StoreConfig) => Promise<StoreBundle>;
}

/** The clock re-assessment's lease: one replica at a time runs it. (Instance ids cannot contain a colon.) */
const REASSESS_LEASE = 'changegate:reassess';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export async function createApp(loaded: LoadedConfig, options: CreateAppOptions = {}): Promise<ChangegateApp> {
  const { config, registry } = loaded;
  const logger = options.logger ?? createLogger({ level: config.log.level });
  // Invalid policy stops start-up (exit 2) naming file, line and rule, before anything connects.
  const policy = configuredPolicy(loaded);
  // Read at start-up, so a missing or wrong key stops the start rather than the first bundle.
  const evidenceSigningKey = loadSigningKey(config.evidence.signingKey);
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
  const readCacheStats = store.readCacheStats?.bind(store);
  if (readCacheStats !== undefined) observeReadCache(metrics, readCacheStats);
  // CI and monitoring events correlated with each change: what the event-reading gates judge.
  const correlator = correlatorFor(config, stores);
  const events = eventSourceOf(correlator);
  const modes = new Map(instances.map((i) => [i.id, i.enforcement] as const));
  const writers = new Set(instances.filter((i) => i.writeBack).map((i) => i.id));
  for (const instance of instances.filter((i) => !i.writeBack)) {
    logger.info({ instance: instance.id }, `${instance.id}: writeBack is off: changes are assessed and stored, nothing is written to the tickets`);
  }
  const connectors = new Map<string, ConnectorInstance>();
  // A state directory beside an embedded store; a shared store keeps rotating OAuth tokens itself, for every replica.
  const stateDir = stateOf(config.store, stores.oauthTokens);
  // Calendars the systems publish (ServiceNow blackout and maintenance schedules), merged with the policy's calendar.
  const itsmCalendars = itsmCalendarsFor(instances, registry, { logger, metrics, ...stateDir });
  const calendars = (id: string) => itsmCalendars.calendarFor(id);
  // One direction: sync → runner → outbox → worker → ticket. The runner only wakes the worker;
  // how an item settled is read back from the outbox, never reported to the runner.
  // Every claim this process takes carries its owner, so the next process can release them at once if this one dies.
  const owner = processOwner();
  // An embedded store is served from one host, where the operating system tells a dead pid; a store shared by
  // replicas will judge owners by heartbeats instead (until then, their claims wait for the lease).
  // A store shared by replicas judges owners by heartbeat: each `serve` holds the lease `replica:<owner id>` while it
  // lives. One without it, started longer than a lease ago, is gone: its claims are released, not left to their lease.
  const heartbeat = `replica:${owner.id}`;
  const judgeOwner = async (o: Parameters<typeof judgeOwnerOnThisHost>[0]): Promise<OwnerState> => {
    if (config.store.kind === 'sqlite') return judgeOwnerOnThisHost(o, owner);
    if (o.id === owner.id) return 'alive';
    const now = new Date();
    if ((await stores.leases.current(`replica:${o.id}`, now)) !== null) return 'alive';
    return now.getTime() - Date.parse(o.startedAt) > config.leases.ttl ? 'dead' : 'unknown';
  };
  // Which instances this process syncs, and whether it runs the clock re-assessment, when replicas share the store.
  // A lease taken on a tick starts the instance's sync at once: a dead replica's work resumes within ttl + renewEvery.
  const leases = new LeaseKeeper({
    leases: stores.leases,
    holder: `${owner.host}:${owner.pid}:${owner.id.slice(0, 8)}`,
    ttlMs: config.leases.ttl,
    renewEveryMs: config.leases.renewEvery,
    logger,
    // The previous holder may have died with changes mirrored and not yet assessed: they are assessed now too.
    onAcquired: (name) => {
      scheduler.trigger(name);
      if (serving) owed.run().catch((err: unknown) => logger.error({ err }, 'assessing the changes owed an assessment failed'));
    },
  });
  const outboxWorker = new OutboxWorker({ outbox, writerFor: (id) => connectors.get(id)?.writer, writesBack: (id) => writers.has(id), logger, metrics, owner });
  // The pass over changes owed an assessment (built below, once the runner exists) and whether `serve` has started it.
  let owed: OwedAssessments;
  let serving = false;
  // What close() waits for now (null: not closing).
  let closingStep: string | null = null;
  let replicaTimer: NodeJS.Timeout | null = null;
  // On a shared store another replica may be the one syncing an instance: the validate endpoint and /readyz judge
  // the mirror's staleness by the last success any of them recorded (read every renewEvery), not this process's alone.
  const readReplicaSyncs = async (): Promise<void> => {
    for (const instance of instances) {
      const at = await store.lastSyncSucceeded(instance.id);
      if (at !== null) engine.readiness.succeededElsewhere(instance.id, at);
    }
  };
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
    evidenceSigningKey,
    ...(stores.assessmentWriter === undefined ? {} : { writer: stores.assessmentWriter }),
    logger,
    metrics,
    onEnqueued: () => outboxWorker.kick(),
    // The change stays owed; the owed pass retries it after a backoff, not at the next clock pass.
    onFailed: () => owed.retrySoon(),
  });
  // Leases keep replicas apart and fence their writes; the engine's own run locks (in this process) keep two runs
  // of one instance here apart (a scheduled run, one the API asked for).
  const engine = new SyncEngine({ store, leases, logger, metrics, onChangesWritten: (instance, ids, context) => runner.onChangesWritten(instance, ids, context) });
  for (const instance of instances) {
    const connector = buildConnector(instance, registry, { logger, metrics, ...stateDir });
    connectors.set(instance.id, connector);
    engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap, ...staleness(instance) });
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
  const reassessor = new ClockReassessor({ store, runner, instances: instances.map((i) => i.id), logger, lease: () => leases.ensure(REASSESS_LEASE) });
  owed = new OwedAssessments({ store, runner, logger });
  const processor = new DeliveryProcessor({ store: deliveries, engine, webhookOf: (id) => connectors.get(id)?.webhook, logger, metrics, owner });
  // From a change's production deploy until its hypercare ends, alerts on its services reach its ticket.
  const hypercare = new HypercareWatch({
    changes: store,
    events: stores.events,
    correlator,
    services: loadServicesMapping(config.events.services),
    policy,
    outbox,
    evidence: stores.evidence,
    instances: instances.map((i) => i.id),
    writesBack: (id) => writers.has(id),
    logger,
    onEnqueued: () => outboxWorker.kick(),
  });
  // The route's normalisation of each delivery it stores, handed to the processor (not done twice from the stored bytes).
  const ingested = new IngestedEvents();
  const eventProcessor = new EventProcessor({
    events: stores.events,
    ingested,
    kindOf: eventSourceKind,
    correlator,
    // GitHub sources with `artifacts:` read the JUnit and SARIF files a completed run uploaded.
    enrich: githubArtifacts(config.events.sources, logger),
    hypercare,
    evidence: stores.evidence,
    reassess: (id) => runner.assessChange(id, { clockTick: true }),
    instances: instances.map((i) => i.id),
    logger,
    owner,
  });
  // Scheduled pulls beside the webhooks (GitHub runs and deployments, Alertmanager alerts, Prometheus during hypercare).
  const pullScheduler = new PullScheduler(logger);
  const eventPulls = eventPullsFor(config, {
    stores,
    logger,
    policy,
    services: loadServicesMapping(config.events.services),
    instances: instances.map((i) => i.id),
    ciOf: async (change, now) => (await correlator.eventsFor(change, now)).ci,
    kick: () => eventProcessor.kick(),
    settle: async (changeIds) => {
      await eventProcessor.drain();
      for (const id of changeIds) {
        await runner.assessChange(id, { clockTick: true }).catch((err: unknown) => logger.error({ err, changeId: id }, `re-assessing ${id} after a hypercare result failed`));
      }
    },
  });
  let app: FastifyInstance | null = null;
  let demoEvents: DemoEventLoop | null = null;
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
        maxResultsBytes: config.events.maxResultsBytes,
        onAccepted: () => eventProcessor.kick(),
        ingested,
        storeHealth: () => engine.readiness.store(),
      },
      validate: {
        policy,
        events,
        calendars,
        instances: validationInstances(instances, registry),
        lastSyncAt: (id) => engine.readiness.lastKnownSuccess(id),
        storeHealth: () => engine.readiness.store(),
      },
      history: { assessments, outbox, ownWritesOf: ownWritesOf(instances, registry) },
      evidence: stores.evidence,
      evidenceSigningKey,
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
    evidenceSigningKey,
    outboxWorker,
    leases,
    demo,
    demoEvents: () => demoEvents,
    policy,
    server,
    async readItsmCalendars() {
      // A failed read keeps the policy calendar and is logged.
      await itsmCalendars.refreshAll();
    },
    async serve(serveOptions = {}) {
      const [host, port] = config.server.listen.split(':') as [string, string];
      // What `config validate` warns of, said once where a service's logs are read.
      for (const warning of loaded.warnings ?? []) logger.warn({ file: loaded.file }, warning);
      for (const warning of policy.warnings ?? []) logger.warn({ file: policy.file }, warning);
      storeHealth.start();
      const url = await server().listen({ host, port: Number(port) });
      logger.info({ url }, `changegate listening on ${url}`);
      if (config.server.apiTokens.length === 0 && !LOOPBACK.has(host)) {
        logger.warn({ listen: config.server.listen }, `the API (/v1/validate, /v1/changes) is open to anyone who can reach ${host}: set server.apiTokens`);
      }
      // The demo Jira site's webhook can only name the port once it is known (listen may ask for port 0).
      demo?.setChangegateUrl(url);
      if (demo !== null) {
        demoEvents = new DemoEventLoop({
          url,
          sources: config.events.sources,
          instances: instances.map((i) => i.id),
          store,
          assessments,
          logger,
          ...(options.demoStepMs === undefined ? {} : { stepMs: options.demoStepMs }),
        });
      }
      // What a killed process held is claimable now, before the workers look, not when its leases run out.
      await releaseDeadClaims({ outbox, deliveries, events: stores.events, judge: judgeOwner, logger, now: new Date() });
      // On a shared store, replicas that die while this one runs are found by their lapsed heartbeats.
      if (config.store.kind !== 'sqlite') {
        leases.start([heartbeat]);
        await readReplicaSyncs().catch((err: unknown) => logger.warn({ err }, 'reading when the other replicas last synced failed'));
        replicaTimer = setInterval(() => {
          releaseDeadClaims({ outbox, deliveries, events: stores.events, judge: judgeOwner, logger, now: new Date() }).catch((err: unknown) => logger.error({ err }, 'releasing the claims of replicas that died failed'));
          readReplicaSyncs().catch((err: unknown) => logger.warn({ err }, 'reading when the other replicas last synced failed'));
          // A replica that died in the middle of assessing (its start-up pass, its sync's changes) left them owed:
          // the pass over what is owed runs here on the same timer (one query when nothing is owed).
          owed.run().catch((err: unknown) => logger.error({ err }, 'assessing the changes owed an assessment failed'));
        }, config.leases.renewEvery);
        replicaTimer.unref();
      }
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
      // Every instance's lease is sought on each tick; a run needs it (a held one is only renewed).
      leases.start(instances.map((i) => i.id));
      reassessor.start(config.reassess);
      pullScheduler.start(eventPulls, { runNow: serveOptions.runNow ?? true });
      // After the first syncs began: each story waits for its change to be mirrored and assessed.
      demoEvents?.start();
      return url;
    },
    closing: () => closingStep,
    async close() {
      // Each step names what shutdown waits for, so a shutdown past its deadline says where it hung.
      const step = async (what: string, work: () => Promise<unknown> | undefined): Promise<void> => {
        closingStep = what;
        await work();
      };
      await step('the demo event stories to stop', () => demoEvents?.stop());
      await step('the sync schedules to stop', () => scheduler.stop());
      await step('the event pulls to stop', () => pullScheduler.stop());
      await step('the clock re-assessment to stop', () => reassessor.stop());
      await step('the pass over owed assessments to stop', () => owed.stop());
      // Before the HTTP server: a request that asked for a sync waits for that run, which stops here at once.
      await step('the syncs in progress to stop', () => engine.stop());
      await step('the HTTP requests in progress to finish', () => app?.close());
      await step('the webhook deliveries in progress to finish', () => processor.stop());
      await step('the event deliveries in progress to finish', () => eventProcessor.stop());
      if (replicaTimer !== null) clearInterval(replicaTimer);
      await step('the ticket write-backs in progress to finish', () => outboxWorker.stop());
      // After the runs ended: another replica takes the instances at once, not when the leases lapse.
      await step('the leases to be released', () => leases.stop());
      await step('the store health checks to stop', () => storeHealth.stop());
      await step('the store to close', () => stores.close());
      await step('the demo instances to close', () => demo?.close());
      closingStep = null;
    },
  };
}
