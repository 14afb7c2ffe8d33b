// Start-up: every change whose latest revision was never looked at by the
// assessment runner is assessed now, not at the next clock pass (which skips
// finished changes altogether). A process killed between writing the mirror
// and assessing leaves such changes behind; the mirror keeps which they are
// (ChangeStore.listOwedAssessments). They go through the runner like any
// other, so write-back takes the usual outbox path and its exactly-once.

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

  constructor(deps: OwedAssessmentsDeps) {
    this.#deps = deps;
  }

  /** One pass over what is owed now; a pass already running is joined, not doubled. */
  run(): Promise<OwedReport> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Ends a running pass after the change in hand (what is left stays owed for the next start). */
  async stop(): Promise<void> {
    this.#stopped = true;
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
          logger.error({ changeId: id, code: error.code, err: error }, `assessing ${id} (owed since before the start) failed: ${error.message}`);
        }
        // Requests and webhooks are served between changes.
        await new Promise((resolve) => setImmediate(resolve));
      }
      after = ids.at(-1);
    }
    if (report.owed > 0) logger.info(report, `assessed ${report.assessed} of ${report.owed} changes left unassessed by an earlier process`);
    return report;
  }
}
