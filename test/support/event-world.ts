// CI and monitoring events end to end, wired as the app wires them
// (src/app/changegate-app.ts): the event routes of the given sources over an
// in-memory store bundle, the correlator, an assessment runner that assessed
// the given changes once, and an event processor that re-assesses the changes
// an event touches. For the tests that post a delivery and read a gate.

import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { eventSourceOf } from '../../src/app/event-correlator-for.ts';
import { AssessmentRunner } from '../../src/assess/assessment-runner.ts';
import type { EventSourceConfig } from '../../src/config/schema.ts';
import type { GateResult } from '../../src/domain/assessment.ts';
import type { Change } from '../../src/domain/change.ts';
import { Correlator, type CorrelatorDeps } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerEventRoutes } from '../../src/server/routes/events.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange, changeNumber, sysId } from './change-builder.ts';

/**
 * Change `n` of the day of the GitHub run fixture (test/fixtures/events, finished 2020-10-05 16:33:49 UTC):
 * scheduled on the Billing service, created before the run and planned around it, linking nothing unless
 * `overrides` say.
 */
export function runDayChange(n: number, overrides: Partial<Change> = {}): Change {
  return buildChange({
    nativeId: sysId(n),
    key: changeNumber(n),
    state: 'scheduled',
    services: [{ id: 'billing-svc', name: 'Billing' }],
    cis: [],
    links: { repos: [], commits: [], artifacts: [], pipelines: [] },
    createdAt: '2020-10-01T09:00:00Z',
    plannedStart: '2020-10-05T16:00:00Z',
    plannedEnd: '2020-10-05T18:00:00Z',
    updatedAt: `2020-10-02T09:${String(n % 60).padStart(2, '0')}:00Z`,
    ...overrides,
  });
}

export interface EventWorld {
  stores: StoreBundle;
  /** The event routes alone (POST /v1/events/:source and its results route). */
  app: FastifyInstance;
  correlator: Correlator;
  runner: AssessmentRunner;
  processor: EventProcessor;
  /** The change ids the processor asked to re-assess, in order. */
  reassessed: string[];
  /** The gate `id` of the change's latest stored assessment. */
  gate(changeId: string, id: string): Promise<GateResult | undefined>;
  close(): Promise<void>;
}

export interface EventWorldOptions {
  now: Date;
  instance: string;
  sources: readonly EventSourceConfig[];
  /** Mirrored and assessed before any event arrives. */
  changes?: readonly Change[];
  services?: CorrelatorDeps['services'];
  monitors?: CorrelatorDeps['monitors'];
  /** false: nothing is assessed, neither the given changes first nor what the processor asks to re-assess (still listed in `reassessed`). */
  assess?: boolean;
}

export async function eventWorld(options: EventWorldOptions): Promise<EventWorld> {
  const { now, instance, changes = [], assess = true } = options;
  const clock = (): Date => now;
  const stores = openSqliteStores(':memory:');
  if (changes.length > 0) await stores.changes.applyPage(instance, 'changes', changes.map((c) => ({ kind: 'change', change: c })), null);
  const app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  registerEventRoutes(app, { sources: options.sources, kindOf: eventSourceKind, events: stores.events, clock });
  await app.ready();
  const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: options.services ?? {}, monitors: options.monitors ?? [], heartbeatMaxAgeMs: 900_000 });
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
    clock,
  });
  if (assess && changes.length > 0) await runner.onChangesWritten(instance, changes.map((c) => c.id));
  const reassessed: string[] = [];
  const processor = new EventProcessor({
    events: stores.events,
    kindOf: eventSourceKind,
    correlator,
    reassess: async (id) => {
      reassessed.push(id);
      if (assess) await runner.assessChange(id, { clockTick: true });
    },
    instances: [instance],
    logger,
    clock,
  });
  return {
    stores,
    app,
    correlator,
    runner,
    processor,
    reassessed,
    gate: async (changeId, id) => (await stores.assessments.latestAssessment(changeId))?.assessment.gates.find((g) => g.id === id),
    close: async () => {
      await app.close();
      await stores.close();
    },
  };
}
