// The canonical change lifecycle as a transition table (seed §3.5, §1.2), per
// change type. It follows ServiceNow's out-of-box type models, with two
// deliberate narrowings: normal changes may not jump Assess → Scheduled (that
// would skip authorisation, seed §7.1) and emergency changes may not jump
// New → Scheduled (emergencies skip assessment, never eCAB authorisation).
// Review → Canceled is forbidden, as current ServiceNow releases forbid it.

import type { CanonicalState, ChangeType } from '../domain/change.ts';

type Table = Readonly<Record<CanonicalState, readonly CanonicalState[]>>;

const DELIVERY_TAIL = {
  scheduled: ['implement', 'canceled'],
  implement: ['review', 'canceled', 'failed'],
  review: ['closed', 'failed'],
  closed: [],
  canceled: [],
  failed: [],
} as const satisfies Partial<Table>;

export const TRANSITIONS: Readonly<Record<ChangeType, Table>> = {
  normal: {
    new: ['assess', 'canceled'],
    assess: ['new', 'authorize', 'canceled'],
    authorize: ['new', 'scheduled', 'canceled'],
    ...DELIVERY_TAIL,
  },
  // Standard changes are pre-authorised by their template: no Assess, no Authorize.
  // A ticket can still stand there (a JSM site has one workflow for every type):
  // it may go back to New, on to Scheduled as from New, or be canceled; with no
  // move at all it could not even be canceled.
  standard: {
    new: ['scheduled', 'canceled'],
    assess: ['new', 'scheduled', 'canceled'],
    authorize: ['new', 'scheduled', 'canceled'],
    ...DELIVERY_TAIL,
  },
  // Emergency changes skip Assess but are authorised by the eCAB (seed §7.6); one
  // standing in Assess anyway moves on as from New.
  emergency: {
    new: ['authorize', 'canceled'],
    assess: ['new', 'authorize', 'canceled'],
    authorize: ['new', 'scheduled', 'canceled'],
    ...DELIVERY_TAIL,
  },
};

/** The forward path every type follows or shortens. */
export const MAIN_PATH: readonly CanonicalState[] = ['new', 'assess', 'authorize', 'scheduled', 'implement', 'review', 'closed'];

export const TERMINAL_STATES: readonly CanonicalState[] = ['closed', 'canceled', 'failed'];

export function isTerminal(state: CanonicalState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function nextStates(type: ChangeType, from: CanonicalState): readonly CanonicalState[] {
  return TRANSITIONS[type][from];
}

export function isEdge(type: ChangeType, from: CanonicalState, to: CanonicalState): boolean {
  return TRANSITIONS[type][from].includes(to);
}

/**
 * The states whose gates guard the edge `from → to`: the target plus every
 * main-path state the edge skips. A type that skips a state still owes that
 * state's checks (a standard change entering Scheduled from New must still name
 * its service and plans); the policy switches individual gates off per type.
 */
export function gatedStates(from: CanonicalState, to: CanonicalState): CanonicalState[] {
  const fromIndex = MAIN_PATH.indexOf(from);
  const toIndex = MAIN_PATH.indexOf(to);
  if (fromIndex < 0 || toIndex <= fromIndex) return [to];
  return MAIN_PATH.slice(fromIndex + 1, toIndex + 1);
}

/** Every state reachable from `start`, for tests and documentation. */
export function reachableStates(type: ChangeType, start: CanonicalState = 'new'): CanonicalState[] {
  const seen = new Set<CanonicalState>([start]);
  const queue: CanonicalState[] = [start];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    for (const next of nextStates(type, state)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return [...seen];
}
