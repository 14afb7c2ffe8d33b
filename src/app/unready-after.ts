// How long an instance's mirror may go without a successful sync before /readyz
// reports it stale (and, when the instance sets `unreadyAfter`, answers 503). A
// bound below the schedule's own gaps would call every mirror stale between two
// healthy runs, so the default follows the schedule.

import { createTask } from 'node-cron';
import type { BaseInstanceConfig } from '../kit/instance-config.ts';

/** Runs looked at for the schedule's longest gap: enough to span a weekend of a weekday-only schedule. */
const RUNS_SAMPLED = 200;
/** Missed runs tolerated before the mirror counts as stale. */
const RUNS_MISSED = 3;

/** The longest wait between two consecutive runs of a cron schedule, over its next runs. */
export function longestGapMs(schedule: string): number {
  const task = createTask(schedule, () => undefined);
  try {
    const runs = task.getNextRuns(RUNS_SAMPLED).map((d) => d.getTime());
    let gap = 0;
    for (const [i, at] of runs.entries()) if (i > 0) gap = Math.max(gap, at - (runs[i - 1] as number));
    return gap;
  } finally {
    // Never started, but node-cron lists every task it creates until it is destroyed.
    void task.destroy();
  }
}

/**
 * The staleness bound /readyz judges the instance by: its `unreadyAfter`, or the larger of its `maxStaleness`
 * and three of its schedule's longest gaps; and whether a stale mirror makes the process unready, which only
 * an `unreadyAfter` the operator set asks for (README, Store health and readiness, says why).
 */
export function staleness(instance: Pick<BaseInstanceConfig, 'schedule' | 'maxStaleness' | 'unreadyAfter'>): { staleAfterMs: number; unreadyWhenStale: boolean } {
  if (instance.unreadyAfter !== undefined) return { staleAfterMs: instance.unreadyAfter, unreadyWhenStale: true };
  return { staleAfterMs: Math.max(instance.maxStaleness, RUNS_MISSED * longestGapMs(instance.schedule)), unreadyWhenStale: false };
}
