// The services and CIs a change touches, and the days its planned window
// covers, as the keys the store indexes neighbours by. The policy matches a
// neighbour by service/CI id or name, ignoring case and surrounding blanks
// (src/policy/calendar.ts `targetsOf`); the index normalises the same way, so a
// lookup finds every change the overlap gate would match.
//
// Day buckets make "overlapping planned window" an index lookup: two windows
// that overlap share at least one UTC day, so a query reads only the changes
// planned on the days its own window covers, not every open change of a busy
// service.

import type { CanonicalState, Change } from '../domain/change.ts';

/** States in which a change can no longer collide with another (finished either way). */
export const INACTIVE_STATES: readonly CanonicalState[] = ['closed', 'canceled', 'failed'];

const DAY_MS = 86_400_000;
/** Windows longer than this many days are indexed once, under ANY_DAY, which every windowed lookup reads. */
export const MAX_INDEXED_DAYS = 14;
export const ANY_DAY = -1;
/** No usable planned window (a date missing, unparseable or end not after start): it overlaps nothing. */
export const NO_WINDOW = -2;

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

/** The UTC day numbers a window [start, end) covers; [ANY_DAY] when it is long, [NO_WINDOW] when it is not a window. */
export function windowDays(start: string | null, end: string | null): number[] {
  if (start === null || end === null) return [NO_WINDOW];
  const s = Date.parse(start);
  const e = Date.parse(end);
  if (Number.isNaN(s) || Number.isNaN(e) || e <= s) return [NO_WINDOW];
  const first = Math.floor(s / DAY_MS);
  const last = Math.floor((e - 1) / DAY_MS);
  if (last - first + 1 > MAX_INDEXED_DAYS) return [ANY_DAY];
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
