// Runs the scheduled event pulls (GitHub, Alertmanager, Prometheus during
// hypercare) on their cron schedules, like the sync scheduler runs syncs: a
// tick that finds the previous pull of the same source still going is
// skipped, never stacked, and a failed pull is logged and tried at its next
// tick (it saved nothing, so nothing is skipped).

import { schedule, type ScheduledTask } from 'node-cron';
import { asChangegateError } from '../../errors.ts';
import type { Logger } from '../../log.ts';

export interface ScheduledPull {
  /** `github:acme`, `alertmanager:am-prod`, `prometheus:prometheus`. */
  name: string;
  cron: string;
  run(): Promise<void>;
}

export class PullScheduler {
  readonly #tasks: ScheduledTask[] = [];
  readonly #running = new Map<string, Promise<void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  start(pulls: readonly ScheduledPull[], options: { runNow?: boolean } = {}): void {
    for (const pull of pulls) {
      this.#tasks.push(schedule(pull.cron, () => this.tick(pull), { name: `pull:${pull.name}`, noOverlap: true }));
      this.#logger.info({ pull: pull.name, schedule: pull.cron }, `event pull ${pull.name} scheduled (${pull.cron})`);
      if (options.runNow) void this.tick(pull);
    }
  }

  /** One run of a pull; a run of the same pull already going is joined, not doubled. Never throws. */
  tick(pull: ScheduledPull): Promise<void> {
    const running = this.#running.get(pull.name);
    if (running !== undefined) return running;
    const run = pull
      .run()
      .catch((err: unknown) => {
        const e = asChangegateError(err);
        this.#logger.error({ pull: pull.name, code: e.code, err: e }, `event pull ${pull.name} failed: ${e.message}`);
      })
      .finally(() => this.#running.delete(pull.name));
    this.#running.set(pull.name, run);
    return run;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#tasks.map((task) => task.destroy()));
    this.#tasks.length = 0;
    await Promise.all(this.#running.values());
  }
}
