// When a change entered a state, as the mirror saw it: each revision that shows
// a state change is a move, stamped with the source's update time of that
// revision. A gate reads them when the record itself says nothing of the time
// (JSM has no actual start), to place a journal note in the lifecycle.

import type { CanonicalState } from '../domain/change.ts';

export interface StateMove {
  /** The source's update time of the revision that showed the move (ISO-8601). */
  at: string;
  from: CanonicalState;
  to: CanonicalState;
}

/** The latest move made by `now` (epoch ms) that `test` accepts; null when none was observed. */
export function lastMove(moves: readonly StateMove[] | undefined, now: number, test: (move: StateMove) => boolean): StateMove | null {
  if (moves === undefined) return null;
  for (let i = moves.length - 1; i >= 0; i--) {
    const move = moves[i] as StateMove;
    if (Date.parse(move.at) <= now && test(move)) return move;
  }
  return null;
}
