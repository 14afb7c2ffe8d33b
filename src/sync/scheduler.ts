// Runs each instance's sync on its cron schedule. A tick that finds the
// previous run still going is skipped, never stacked.

import { schedule, type ScheduledTask } from 'node-cron';
import { isChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SyncEngine } from './sync-engine.ts';

export interface ScheduledInstance {
  instance: string;
  cron: string;
}

export class SyncScheduler {
  readonly #tasks: ScheduledTask[] = [];
  readonly #scheduled = new Set<string>();
  readonly #engine: SyncEngine;
  readonly #logger: Logger;

  constructor(engine: SyncEngine, logger: Logger) {
    this.#engine = engine;
    this.#logger = logger;
  }

  start(instances: readonly ScheduledInstance[], options: { runNow?: boolean } = {}): void {
    for (const { instance, cron } of instances) {
      this.#tasks.push(schedule(cron, () => this.#tick(instance), { name: `sync:${instance}`, noOverlap: true }));
      this.#scheduled.add(instance);
      this.#logger.info({ instance, schedule: cron }, `sync of ${instance} scheduled (${cron})`);
      if (options.runNow) void this.#tick(instance);
    }
  }

  /** Runs the instance's sync now, off its schedule (this process just took its lease); a run in progress is not doubled. */
  trigger(instance: string): void {
    if (this.#scheduled.has(instance)) void this.#tick(instance);
  }

  async #tick(instance: string): Promise<void> {
    try {
      await this.#engine.sync(instance);
    } catch (err) {
      // The engine has logged and counted the failure; a busy instance (a run here, or another replica's lease) is expected.
      if (isChangegateError(err, 'CG_SYNC_BUSY')) this.#logger.debug({ instance }, 'instance busy (a sync still running, or another replica holds its lease); tick skipped');
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#tasks.map((task) => task.destroy()));
    this.#tasks.length = 0;
    this.#scheduled.clear();
  }
}
