// The services and CIs a change touches, as the keys the store indexes them by.
// The policy matches a neighbour by service/CI id or name, ignoring case and
// surrounding blanks (src/policy/calendar.ts `targetsOf`); the index uses the
// same normalisation so that a lookup finds every change the gate would match.

import type { CanonicalState, Change } from '../domain/change.ts';

/** States in which a change can no longer collide with another (finished either way). */
export const INACTIVE_STATES: readonly CanonicalState[] = ['closed', 'canceled', 'failed'];

export function isActiveState(state: CanonicalState): boolean {
  return !INACTIVE_STATES.includes(state);
}

/** One service/CI id or name as an index key. */
export function refKey(text: string): string {
  return text.trim().toLowerCase();
}

/** Every key a change is found under: each service's and CI's id and name, without duplicates or blanks. */
export function changeRefKeys(change: Pick<Change, 'services' | 'cis'>): string[] {
  const keys = new Set<string>();
  for (const ref of [...change.services, ...change.cis]) {
    keys.add(refKey(ref.id));
    if (ref.name !== null) keys.add(refKey(ref.name));
  }
  keys.delete('');
  return [...keys];
}
