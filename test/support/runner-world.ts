// The assessment runner over fresh in-memory SQLite stores and the default
// policy, for the tests that judge a change as a change manager meets it (the
// assessment on the ticket, reactive enforcement of a move, the answer of
// POST /v1/validate): one ServiceNow instance (`sn-prod`), enforce mode unless
// a test file asks for another, write-back on unless a test turns it off, the
// clock frozen, and a mirror that stores each new version of a change as a
// sync would (a higher revision, a minute later each time unless dated).

import { expect, onTestFinished } from 'vitest';
import { InstanceConfig, registry } from '../../src/app/registry.ts';
import { validationInstances } from '../../src/app/validation-instances.ts';
import { AssessmentRunner, type AssessmentRunnerDeps } from '../../src/assess/assessment-runner.ts';
import type { ValidationAnswer } from '../../src/assess/transition-validation.ts';
import type { Approval, Change, JournalEntry } from '../../src/domain/change.ts';
import type { StreamItem } from '../../src/kit/connector.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer } from '../../src/server/build-server.ts';
import type { EnforcementMode } from '../../src/store/assessment-store.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { at, buildApproval, buildChange, changeNumber } from './change-builder.ts';

/** The clock of a world made without `now`. */
export const NOW = new Date('2026-03-02T12:00:00Z');

export interface RunnerWorldOptions {
  /** The frozen clock of the runners and of /v1/validate (default: NOW). */
  now?: Date;
  /** The instance's `enforcement` setting (default: enforce). */
  mode?: EnforcementMode;
}

export interface RunnerWorld {
  store: SqliteChangeStore;
  assessments: SqliteAssessmentStore;
  outbox: SqliteOutboxStore;
  metrics: Metrics;
  /** A runner over the world's stores with the default policy; `deps` replaces any of what it is given. */
  runner(deps?: Partial<AssessmentRunnerDeps>): AssessmentRunner;
  /** The instance's `writeBack` setting, read by every runner of the world at each assessment. */
  setWriteBack(on: boolean): void;
  /** Mirrors a new version of the change, as a sync would: its journal entries after it, the approval rows as they were then before it. */
  mirror(overrides: Partial<Change>, journal?: JournalEntry[], approvals?: Approval[]): Promise<Change>;
  /** Mirrors the CAB approval of `change` as it stood at minute `minute` (decided then when approved). */
  approval(change: Change, state: 'requested' | 'approved', minute: number): Promise<void>;
  /** What `POST /v1/validate` answers a ServiceNow business rule asking to move the mirrored change (`changeNumber(1)`) from → to now. */
  validate(from: string, to: string): Promise<ValidationAnswer>;
  close(): Promise<void>;
}

const policy = loadPolicy();

export function runnerWorld(options: RunnerWorldOptions = {}): RunnerWorld {
  const { now = NOW, mode = 'enforce' } = options;
  const store = SqliteChangeStore.open(':memory:');
  const assessments = SqliteAssessmentStore.open(':memory:');
  const outbox = SqliteOutboxStore.open(':memory:');
  const metrics = createMetrics({ defaultMetrics: false });
  let writeBack = true;
  let revision = 3;
  return {
    store,
    assessments,
    outbox,
    metrics,
    runner: (deps = {}) =>
      new AssessmentRunner({
        store,
        assessments,
        outbox,
        policy,
        modeOf: () => mode,
        writesBack: () => writeBack,
        logger: createLogger({ level: 'silent' }),
        metrics,
        clock: () => now,
        ...deps,
      }),
    setWriteBack: (on) => {
      writeBack = on;
    },
    mirror: async (overrides, journal = [], approvals = []) => {
      revision += 1;
      const change = buildChange({ nativeRevision: revision, updatedAt: new Date(Date.parse('2026-03-02T09:00:00Z') + revision * 60_000).toISOString(), ...overrides });
      const items: StreamItem[] = [
        ...approvals.map((approval): StreamItem => ({ kind: 'approval', changeNativeId: change.nativeId, approval })),
        { kind: 'change', change },
        ...journal.map((entry): StreamItem => ({ kind: 'journal', changeNativeId: change.nativeId, entry })),
      ];
      await store.applyPage('sn-prod', 'changes', items, null);
      return change;
    },
    approval: async (change, state, minute) => {
      await store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval: buildApproval({ state, nativeState: state, decidedAt: state === 'approved' ? at(minute) : null, updatedAt: at(minute) }) }], null);
    },
    validate: async (from, to) => {
      const logger = createLogger({ level: 'silent' });
      const serverMetrics = createMetrics({ defaultMetrics: false });
      const instances = validationInstances([InstanceConfig.parse({ id: 'sn-prod', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' } })], registry);
      const app = buildServer({ systems: registry.systems, store, engine: new SyncEngine({ store, logger, metrics: serverMetrics }), metrics: serverMetrics, logger, validate: { policy, instances, lastSyncAt: () => now, clock: () => now } });
      onTestFinished(() => app.close());
      const response = await app.inject({ method: 'POST', url: '/v1/validate', payload: { system: 'servicenow', instance: 'sn-prod', key: changeNumber(1), from, to } });
      expect(response.statusCode).toBe(200);
      return response.json();
    },
    close: async () => {
      await store.close();
      await assessments.close();
      await outbox.close();
    },
  };
}
