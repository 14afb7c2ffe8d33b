// Start-up: every change whose latest revision was never looked at by the
// assessment runner is assessed now, not at the next clock pass (which skips
// finished changes altogether). A process killed between writing the mirror
// and assessing leaves such changes behind; the mirror keeps which they are
// (ChangeStore.listOwedAssessments). They go through the runner like any
// other, so write-back takes the usual outbox path and its exactly-once.
//
// The same pass is the retry for an assessment that failed while serving (a
// full disk, a locked or vanished store after the mirror write went through):
// the change stays owed, and `retrySoon` runs the pass again after a backoff
// (2 s doubling to 5 min, back to 2 s after a pass with no failure), and
// `run` is called at once when the store's health returns to ok. Nothing
// waits for the clock pass, which skips finished changes altogether.

import { asChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { AssessmentRunner } from './assessment-runner.ts';

export interface OwedAssessmentsDeps {
  store: Pick<ChangeStore, 'listOwedAssessments'>;
  runner: Pick<AssessmentRunner, 'assessChange'>;
  logger: Logger;
  /** Ids read per batch (default 200). */
  batchSize?: number;
  /** First delay of `retrySoon` (default 2 s); it doubles per failed pass up to `maxRetryMs` (default 5 min). */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface OwedReport {
  /** Owed changes looked at. */
  owed: number;
  /** Of those, how many got a new assessment (the rest had nothing new for the policy). */
  assessed: number;
  failed: number;
}

export class OwedAssessments {
  readonly #deps: OwedAssessmentsDeps;
  #running: Promise<OwedReport> | null = null;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #delayMs: number;

  constructor(deps: OwedAssessmentsDeps) {
    this.#deps = deps;
    this.#delayMs = deps.retryMs ?? 2_000;
  }

  /**
   * One pass over what is owed now; a pass already running is joined, not doubled.
   * A pass that failed on some change (or could not list them) schedules the next by `retrySoon`.
   */
  run(): Promise<OwedReport> {
    this.#running ??= this.#pass().then(
      (report) => {
        this.#running = null;
        if (report.failed > 0) this.retrySoon();
        else this.#delayMs = this.#deps.retryMs ?? 2_000;
        return report;
      },
      (err: unknown) => {
        this.#running = null;
        this.retrySoon();
        throw err;
      },
    );
    return this.#running;
  }

  /** An assessment failed and left its change owed: pass again after the backoff (one timer at a time). */
  retrySoon(): void {
    if (this.#stopped || this.#timer !== null) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(delay * 2, this.#deps.maxRetryMs ?? 300_000);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.run().catch((err: unknown) => {
        const error = asChangegateError(err);
        this.#deps.logger.error({ code: error.code, err: error }, `assessing the changes still owed an assessment failed: ${error.message}`);
      });
    }, delay);
    this.#timer.unref();
  }

  /** Ends a running pass after the change in hand and cancels a scheduled one (what is left stays owed for the next start). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async #pass(): Promise<OwedReport> {
    const { store, runner, logger } = this.#deps;
    const report: OwedReport = { owed: 0, assessed: 0, failed: 0 };
    // By id, after the last one seen: a change whose assessment fails stays owed without being retried in a loop.
    let after: string | undefined;
    while (!this.#stopped) {
      const ids = await store.listOwedAssessments({ limit: this.#deps.batchSize ?? 200, ...(after === undefined ? {} : { after }) });
      if (ids.length === 0) break;
      for (const id of ids) {
        if (this.#stopped) break;
        report.owed++;
        try {
          const result = await runner.assessChange(id);
          if (result.status === 'assessed') report.assessed++;
        } catch (err) {
          report.failed++;
          const error = asChangegateError(err);
          logger.error({ changeId: id, code: error.code, err: error }, `assessing ${id} (owed an assessment) failed: ${error.message}`);
        }
        // Requests and webhooks are served between changes.
        await new Promise((resolve) => setImmediate(resolve));
      }
      after = ids.at(-1);
    }
    if (report.owed > 0) logger.info(report, `assessed ${report.assessed} of ${report.owed} changes owed an assessment`);
    return report;
  }
}
