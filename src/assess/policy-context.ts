// Gathers what the pure policy engine may know besides the change: events,
// calendar, neighbouring changes, waivers and the instant. One builder for the
// validate endpoint, `changegate check` and the assessment runner, so all three
// judge a change on the same facts.

import { CANONICAL_STATES, type CanonicalState, type Change, type MirroredChange, type NeighbourChange } from '../domain/change.ts';
import type { CiEvent, MonitorEvent, MonitorWatch } from '../domain/events.ts';
import { readsStateMoves } from '../policy/assess.ts';
import type { Calendar } from '../policy/calendar.ts';
import type { PolicyContext } from '../policy/context.ts';
import { gateInto } from '../policy/gates/gate-registry.ts';
import { waiversFor, type Policy } from '../policy/policy-config.ts';
import type { StateMove } from '../policy/state-moves.ts';
import type { ChangeStore } from '../store/change-store.ts';
import { changeRefKeys } from '../store/change-refs.ts';
import { mergeCalendars } from './itsm-calendar.ts';
import { withoutOwnNotes } from './verdict-text.ts';

/** The CI and monitoring events correlated to one change. */
export type EventSource = (change: Change, now: Date) => Promise<{ ci: CiEvent[]; monitor: MonitorEvent[]; watch?: MonitorWatch }>;

export interface PolicyContextDeps {
  store: ChangeStore;
  policy: Policy;
  /**
   * Event ingestion and correlation are a later issue: until then no events are
   * known, so readiness gates that need CI or monitoring evidence answer pending.
   */
  events?: EventSource;
  /** The instance's ITSM calendar (ServiceNow blackout/maintenance schedules), merged into the policy calendar; null: none known. */
  calendars?: (instance: string) => Calendar | null;
}

/**
 * Enough neighbours for any real collision report; a service with more active
 * changes overlapping one window than this has a problem the first 200 show.
 */
export const MAX_NEIGHBOURS = 200;

export interface PolicyContextOptions {
  /**
   * The states whose gates the caller will evaluate (validating one transition
   * evaluates only the states it enters). Facts no gate of these states reads
   * are not gathered. Default: every state (a full assessment).
   */
  states?: readonly CanonicalState[];
}

// Shared and frozen: gates only read events.
const NONE = Object.freeze({ ci: Object.freeze([]) as unknown as CiEvent[], monitor: Object.freeze([]) as unknown as MonitorEvent[] });
const NO_EVENTS: EventSource = async () => NONE;

/** The only gate that reads `otherChanges`: neighbours are looked up only when its state is evaluated. */
const NEIGHBOURS_READ_INTO = gateInto('authorize.no-overlap');

/** The change's planned window when both ends are instants in order; otherwise it cannot overlap anything. */
function plannedWindow(change: Change): { start: string; end: string } | null {
  const { plannedStart: start, plannedEnd: end } = change;
  if (start === null || end === null) return null;
  const s = Date.parse(start);
  const e = Date.parse(end);
  return Number.isNaN(s) || Number.isNaN(e) || e <= s ? null : { start, end };
}

/**
 * Active changes on the same instance that share a service or CI with this one
 * and whose planned window overlaps its own. The overlap gate reads nothing
 * else, and asking the store for the window too keeps the answer to a handful
 * of changes instead of every open change on a busy service.
 */
async function neighbours(store: ChangeStore, change: Change): Promise<NeighbourChange[]> {
  const refs = changeRefKeys(change);
  const window = plannedWindow(change);
  if (refs.length === 0 || window === null) return [];
  return store.listNeighbours({ instance: change.instance, refs, plannedOverlap: window, excludeId: change.id, limit: MAX_NEIGHBOURS });
}

/**
 * Whether the change's assessment reads other changes: a state it can enter
 * has the overlap gate, and it has a planned window and a service or CI to
 * share. Only such a verdict can move when another change is mirrored.
 */
export function readsNeighbours(change: Change, states: readonly CanonicalState[]): boolean {
  return states.includes(NEIGHBOURS_READ_INTO) && changeRefKeys(change).length > 0 && plannedWindow(change) !== null;
}

/**
 * The change's state moves the mirror observed, oldest first. The first
 * revision moves nothing (and rebuilding its diff costs a whole change), so
 * only the later ones are read: a cost that follows the change's own history.
 */
async function stateMoves(store: ChangeStore, changeId: string): Promise<StateMove[]> {
  const moves: StateMove[] = [];
  for (const revision of await store.listRevisions(changeId, { after: 1 })) {
    const state = revision.diff.find((d) => d.path === 'state');
    if (state !== undefined && typeof state.from === 'string' && typeof state.to === 'string') {
      moves.push({ at: revision.updatedAt, from: state.from as CanonicalState, to: state.to as CanonicalState });
    }
  }
  return moves;
}

/** The change as every judge sees it: changegate's own notes in its journal are not evidence about the change. */
export function judgedChange(mc: MirroredChange): MirroredChange {
  return { ...mc, journal: withoutOwnNotes(mc.journal) };
}

export async function buildPolicyContext(deps: PolicyContextDeps, mc: MirroredChange, now: Date, options: PolicyContextOptions = {}): Promise<PolicyContext> {
  const wanted = options.states === undefined || options.states.includes(NEIGHBOURS_READ_INTO);
  // Only when a gate can be decided by when the change entered a state (a journal note to place): most never are.
  const movesWanted = readsStateMoves(mc, deps.policy, options.states ?? CANONICAL_STATES);
  const [events, otherChanges, moves] = await Promise.all([
    (deps.events ?? NO_EVENTS)(mc.change, now),
    wanted ? neighbours(deps.store, mc.change) : [],
    movesWanted ? stateMoves(deps.store, mc.change.id) : undefined,
  ]);
  return {
    now,
    events,
    calendar: mergeCalendars(deps.policy.calendar, deps.calendars?.(mc.change.instance) ?? null),
    otherChanges,
    waivers: waiversFor(deps.policy, mc.change),
    policy: deps.policy,
    ...(moves === undefined ? {} : { moves }),
  };
}
