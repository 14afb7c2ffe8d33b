// The services and CIs a change touches, and the days its planned window
// covers, as the keys the store indexes neighbours by. The policy matches a
// neighbour by service/CI id or name, ignoring case and surrounding blanks
// (src/policy/calendar.ts `targetsOf`); the index normalises the same way, so a
// lookup finds every change the overlap gate would match.
//
// Besides those, an active change is found under index keys that neighbour
// lookups never read (day INDEX_ONLY): `commit:<bucket>` for each commit it links
// and `service:<serviceKey>` for each service/CI id and name, so the event
// processor finds the changes a new CI event or alert reaches by the
// correlator's commit and service rules (src/events/correlate.ts) without
// scanning the mirror.
//
// Day buckets make "overlapping planned window" an index lookup: two windows
// that overlap share at least one UTC day, so a query reads only the changes
// planned on the days its own window covers, not every open change of a busy
// service.

import type { CanonicalState, Change } from '../domain/change.ts';
import { commitBucket } from '../domain/commit-sha.ts';
import { serviceKey } from '../domain/service-key.ts';

/** States in which a change can no longer collide with another (finished either way). */
export const INACTIVE_STATES: readonly CanonicalState[] = ['closed', 'canceled', 'failed'];

const DAY_MS = 86_400_000;
/** Windows longer than this many days are indexed once, under ANY_DAY, which every windowed lookup reads. */
export const MAX_INDEXED_DAYS = 14;
export const ANY_DAY = -1;
/** No usable planned window (a date missing, unparseable or end not after start): it overlaps nothing. */
export const NO_WINDOW = -2;
/** The day the index keys (`changeIndexKeys`) are stored under: no neighbour lookup reads it. */
export const INDEX_ONLY = -3;

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

/**
 * The index key of a commit a change links or an event names: its bucket
 * (domain/commit-sha.ts), so a full sha and its abbreviations share one key and
 * the correlator keeps those `sameCommit` matches; '' for a blank one.
 */
export function commitRefKey(commit: string): string {
  const bucket = commitBucket(commit);
  return bucket === '' ? '' : `commit:${bucket}`;
}

/** The index key of a service or CI name, as the correlator matches it (`serviceKey`: letters and digits, lower case); '' when nothing is left. */
export function serviceRefKey(name: string): string {
  const key = serviceKey(name);
  return key === '' ? '' : `service:${key}`;
}

/** The keys the event processor finds a change under: each linked commit, each service's and CI's id and name. */
export function changeIndexKeys(change: Pick<Change, 'services' | 'cis' | 'links'>): string[] {
  const keys = new Set<string>();
  for (const commit of change.links.commits) keys.add(commitRefKey(commit));
  for (const ref of [...change.services, ...change.cis]) {
    keys.add(serviceRefKey(ref.id));
    if (ref.name !== null) keys.add(serviceRefKey(ref.name));
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
