// The assessment runner over fresh in-memory SQLite stores, for the tests of
// the runner itself and of reactive enforcement: one instance (`sn-prod`) in
// enforce mode, write-back on unless a test turns it off, the clock frozen at
// NOW, and a mirror that stores each new version of a change as a sync would
// (a higher revision, a minute later each time).

import { AssessmentRunner, type AssessmentRunnerDeps } from '../../src/assess/assessment-runner.ts';
import type { Change, JournalEntry } from '../../src/domain/change.ts';
import type { StreamItem } from '../../src/kit/connector.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { at, buildApproval, buildChange } from './change-builder.ts';

export const NOW = new Date('2026-03-02T12:00:00Z');

export interface RunnerWorld {
  store: SqliteChangeStore;
  assessments: SqliteAssessmentStore;
  outbox: SqliteOutboxStore;
  metrics: Metrics;
  /** A runner over the world's stores with the default policy; `deps` replaces any of what it is given. */
  runner(deps?: Partial<AssessmentRunnerDeps>): AssessmentRunner;
  /** The instance's `writeBack` setting, read by every runner of the world at each assessment. */
  setWriteBack(on: boolean): void;
  /** Mirrors a new version of the change, as a sync would. */
  mirror(overrides: Partial<Change>, journal?: JournalEntry[]): Promise<Change>;
  /** Mirrors the CAB approval of `change` as it stood at minute `minute` (decided then when approved). */
  approval(change: Change, state: 'requested' | 'approved', minute: number): Promise<void>;
  close(): Promise<void>;
}

const policy = loadPolicy();

export function runnerWorld(): RunnerWorld {
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
        modeOf: () => 'enforce',
        writesBack: () => writeBack,
        logger: createLogger({ level: 'silent' }),
        metrics,
        clock: () => NOW,
        ...deps,
      }),
    setWriteBack: (on) => {
      writeBack = on;
    },
    mirror: async (overrides, journal = []) => {
      revision += 1;
      const change = buildChange({ nativeRevision: revision, updatedAt: new Date(Date.parse('2026-03-02T09:00:00Z') + revision * 60_000).toISOString(), ...overrides });
      const items: StreamItem[] = [{ kind: 'change', change }, ...journal.map((entry): StreamItem => ({ kind: 'journal', changeNativeId: change.nativeId, entry }))];
      await store.applyPage('sn-prod', 'changes', items, null);
      return change;
    },
    approval: async (change, state, minute) => {
      await store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval: buildApproval({ state, nativeState: state, decidedAt: state === 'approved' ? at(minute) : null, updatedAt: at(minute) }) }], null);
    },
    close: async () => {
      await store.close();
      await assessments.close();
      await outbox.close();
    },
  };
}
