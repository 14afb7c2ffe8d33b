// When a change's hypercare runs (seed §8.8): from the end of its
// implementation (the actual end, else the production deploy of its commit)
// for the duration its class needs. One reading for the `closed.hypercare`
// gate and for the hypercare watch that posts alerts to the ticket, so the
// ticket is watched exactly as long as closure waits.

import type { Change } from '../domain/change.ts';
import type { CiEvent } from '../domain/events.ts';
import { changeCommit, deployIn } from './evidence.ts';

export interface HypercareStart {
  /** Epoch ms. */
  at: number;
  from: 'actual-end' | 'production-deploy';
  /** The production deploy of the change's commit, when one is known at `now` (whatever `from` says). */
  deploy: CiEvent | null;
}

/** Where hypercare starts, or null when the implementation has not ended (no actual end, no production deploy). */
export function hypercareStart(change: Change, ci: readonly CiEvent[], productionEnvironments: readonly string[], now: number): HypercareStart | null {
  const commit = changeCommit(change, ci, now);
  const deploy = commit === null ? null : deployIn(ci, commit, productionEnvironments, now).success;
  const ended = change.actualEnd === null ? Number.NaN : Date.parse(change.actualEnd);
  if (!Number.isNaN(ended)) return { at: ended, from: 'actual-end', deploy };
  if (deploy === null) return null;
  const at = Date.parse(deploy.finishedAt ?? deploy.startedAt ?? '');
  return Number.isNaN(at) ? null : { at, from: 'production-deploy', deploy };
}

export interface HypercareWindow {
  /** Epoch ms: the earlier of the production deploy and the actual end, so nothing between the two goes unwatched. */
  watchFrom: number;
  /** Epoch ms: when the `closed.hypercare` gate counts hypercare as elapsed. */
  ends: number;
  start: HypercareStart;
}

/** The span the hypercare watch covers, or null before the implementation ended. */
export function hypercareWindow(change: Change, ci: readonly CiEvent[], productionEnvironments: readonly string[], durationMs: number, now: number): HypercareWindow | null {
  const start = hypercareStart(change, ci, productionEnvironments, now);
  if (start === null) return null;
  const deployedAt = start.deploy === null ? Number.NaN : Date.parse(start.deploy.finishedAt ?? start.deploy.startedAt ?? '');
  return { watchFrom: Number.isNaN(deployedAt) ? start.at : Math.min(start.at, deployedAt), ends: start.at + durationMs, start };
}
