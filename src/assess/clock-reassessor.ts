// Re-assesses the open changes on a schedule, for the clock alone. Many gates
// turn with time, not with a new revision: the planned window opens, hypercare
// elapses, a freeze ends, a waiver expires. The verdict on the ticket (which
// the ServiceNow business rule and the Jira workflow validator read without
// calling changegate) must follow, so every tick re-runs the policy for each
// change that is not finished, and the runner stores and writes back only when
// the decision changed (see AssessOptions.clockTick).

import { schedule, type ScheduledTask } from 'node-cron';
import { CANONICAL_STATES, type CanonicalState } from '../domain/change.ts';
import { asChangegateError } from '../errors.ts';
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
  /**
   * Several replicas sharing a store: the lease of the pass, taken (or kept)
   * before each one. Null while another replica holds it: that one re-assesses;
   * a signal that aborts (the lease lost) stops the pass between changes.
   */
  lease?: () => Promise<{ signal: AbortSignal } | null>;
}

export interface TickReport {
  /** Open changes looked at. */
  checked: number;
  /** Of those, how many got a new assessment (a decision the clock changed). */
  reassessed: number;
  failed: number;
  /** Another replica holds the re-assessment's lease: this one looked at nothing. */
  skipped?: boolean;
}

export class ClockReassessor {
  readonly #deps: ClockReassessorDeps;
  #task: ScheduledTask | null = null;
  #running: Promise<TickReport> | null = null;
  /** The code of the failure the scheduled ticks are failing with (logged once), null while they work. */
  #failingWith: string | null = null;

  constructor(deps: ClockReassessorDeps) {
    this.#deps = deps;
  }

  start(cron: string): void {
    this.#task = schedule(cron, () => this.scheduledTick(), { name: 'reassess', noOverlap: true });
    this.#deps.logger.info({ schedule: cron }, `open changes re-assessed for the clock (${cron})`);
  }

  async stop(): Promise<void> {
    await this.#task?.destroy();
    this.#task = null;
    // A pass failing as the process stops was logged by its tick; stopping goes on.
    await this.#running?.catch(() => undefined);
  }

  /**
   * What the schedule runs: a tick whose failure (the store at fault: listing the open changes fails)
   * is logged, not thrown, and the next tick tries again. A fault lasting many ticks is logged once,
   * and once more when the ticks work again. Never rejects.
   */
  async scheduledTick(): Promise<void> {
    const { logger } = this.#deps;
    try {
      await this.tick();
      if (this.#failingWith !== null) logger.info({ was: this.#failingWith }, 'clock re-assessment works again');
      this.#failingWith = null;
    } catch (err) {
      const error = asChangegateError(err);
      if (this.#failingWith === error.code) {
        logger.debug({ code: error.code }, `clock re-assessment still failing: ${error.message}`);
        return;
      }
      this.#failingWith = error.code;
      logger.error({ code: error.code, err: error }, `clock re-assessment failed: ${error.message}; tried again at each tick, logged again once it works`);
    }
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
    let signal: AbortSignal | undefined;
    if (this.#deps.lease !== undefined) {
      const held = await this.#deps.lease();
      if (held === null) {
        logger.debug('clock re-assessment skipped: another replica holds its lease');
        return { ...report, skipped: true };
      }
      signal = held.signal;
    }
    for (const instance of instances) {
      for (const state of OPEN_STATES) {
        let cursor: string | undefined;
        do {
          const page = await store.listChanges({ instance, state, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
          if (signal?.aborted) {
            logger.warn(report, 'clock re-assessment stopped: this replica lost its lease; the replica that holds it now re-assesses');
            return report;
          }
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
