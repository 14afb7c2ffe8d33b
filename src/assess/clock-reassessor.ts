// Re-assesses the open changes on a schedule, for the clock alone. Many gates
// turn with time, not with a new revision: the planned window opens, hypercare
// elapses, a freeze ends, a waiver expires. The verdict on the ticket (which
// the ServiceNow business rule and the Jira workflow validator read without
// calling changegate) must follow, so every tick re-runs the policy for each
// change that is not finished, and the runner stores and writes back only when
// the decision changed (see AssessOptions.clockTick).

import { schedule, type ScheduledTask } from 'node-cron';
import { CANONICAL_STATES, type CanonicalState } from '../domain/change.ts';
import type { Logger } from '../log.ts';
import { isTerminal } from '../policy/lifecycle.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { AssessmentRunner } from './assessment-runner.ts';

const OPEN_STATES: readonly CanonicalState[] = CANONICAL_STATES.filter((state) => !isTerminal(state));

export interface ClockReassessorDeps {
  store: ChangeStore;
  runner: Pick<AssessmentRunner, 'assessAll'>;
  /** Instances whose changes are re-assessed. */
  instances: readonly string[];
  logger: Logger;
}

export interface TickReport {
  /** Open changes looked at. */
  checked: number;
  /** Of those, how many got a new assessment (a decision the clock changed). */
  reassessed: number;
  failed: number;
}

export class ClockReassessor {
  readonly #deps: ClockReassessorDeps;
  #task: ScheduledTask | null = null;
  #running: Promise<TickReport> | null = null;

  constructor(deps: ClockReassessorDeps) {
    this.#deps = deps;
  }

  start(cron: string): void {
    this.#task = schedule(cron, () => void this.tick(), { name: 'reassess', noOverlap: true });
    this.#deps.logger.info({ schedule: cron }, `open changes re-assessed for the clock (${cron})`);
  }

  async stop(): Promise<void> {
    await this.#task?.destroy();
    this.#task = null;
    await this.#running;
  }

  /** One pass over every open change; a pass already running is joined, not doubled. */
  tick(): Promise<TickReport> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<TickReport> {
    const { store, runner, instances, logger } = this.#deps;
    const report: TickReport = { checked: 0, reassessed: 0, failed: 0 };
    for (const instance of instances) {
      for (const state of OPEN_STATES) {
        let cursor: string | undefined;
        do {
          const page = await store.listChanges({ instance, state, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
          report.checked += page.items.length;
          // A page at a time, the writes of its changes stored together (failures are logged by the runner).
          const done = await runner.assessAll(
            instance,
            page.items.map((change) => change.id),
            { clockTick: true },
          );
          report.reassessed += done.assessed;
          report.failed += done.failed;
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
      }
    }
    if (report.reassessed > 0 || report.failed > 0) logger.info(report, `clock re-assessment: ${report.reassessed} of ${report.checked} open changes have a new decision`);
    return report;
  }
}
