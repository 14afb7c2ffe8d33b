// Everything a gate may know besides the change itself. Gates never reach for
// the network, the store or the clock: the caller gathers events, calendar,
// neighbouring changes, waivers and the instant, so `check --explain`,
// `POST /v1/validate` and reactive enforcement all make the same pure call.

import type { Waiver } from '../domain/assessment.ts';
import type { NeighbourChange } from '../domain/change.ts';
import type { CiEvent, MonitorEvent, MonitorWatch } from '../domain/events.ts';
import type { Calendar } from './calendar.ts';
import type { Policy } from './policy-config.ts';
import type { StateMove } from './state-moves.ts';

export interface PolicyContext {
  /** The instant the verdict is for; replaying an observed transition passes the time it happened. */
  now: Date;
  /** Events correlated to the change (by commit, change key or service); others are ignored by commit and service filters anyway. */
  events: { ci: CiEvent[]; monitor: MonitorEvent[]; watch?: MonitorWatch };
  calendar: Calendar;
  /** Changes that may collide with this one (same services/CIs), with what the overlap gate reads of them; the change itself may be included. */
  otherChanges: NeighbourChange[];
  waivers: Waiver[];
  policy: Policy;
  /**
   * The change's state moves the mirror observed, oldest first. Read from the
   * revision history only for a change one of the evaluated gates asks them of
   * (GateDef.readsMoves); absent otherwise.
   */
  moves?: readonly StateMove[];
}

/** A context with nothing known but the policy and the instant. */
export function emptyContext(policy: Policy, now: Date): PolicyContext {
  return { now, events: { ci: [], monitor: [] }, calendar: policy.calendar, otherChanges: [], waivers: [], policy };
}

/** Waivers in force for a gate of a change at `now` (expired ones, and ones for other changes, do not apply). */
export function activeWaiver(ctx: PolicyContext, changeId: string, gate: string): Waiver | null {
  const now = ctx.now.getTime();
  const inForce = ctx.waivers
    .filter((w) => w.gate === gate && (w.changeId === null || w.changeId === changeId) && now < Date.parse(w.until))
    .filter((w) => w.grantedAt === null || Date.parse(w.grantedAt) <= now)
    .toSorted((a, b) => Date.parse(b.until) - Date.parse(a.until) || (a.by < b.by ? -1 : a.by > b.by ? 1 : 0));
  return inForce[0] ?? null;
}
