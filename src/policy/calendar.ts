// Freeze (blackout) and maintenance windows (seed §2.1), one-off or recurring,
// each in its own IANA time zone, and the two scheduling conflicts a change can
// have: a freeze overlapping its planned window, another change on the same
// service or CI at the same time.

import type { CanonicalState, Change, NeighbourChange } from '../domain/change.ts';
import { cronMatchesDay, parseCron, WEEKDAYS, type CronSpec, type Weekday } from './cron-spec.ts';
import { addDays, daysBetween, fromWall, parseInstant, toWall, weekdayOf, type WallTime } from './zoned-time.ts';

export type WindowKind = 'freeze' | 'maintenance';

interface WindowBase {
  id: string;
  name: string;
  /** `freeze` covers blackouts too: no change may be implemented inside one. */
  kind: WindowKind;
  timeZone: string;
  /** Service or CI names/ids the window applies to; empty: every change. */
  services: string[];
}

export interface OnceWindow extends WindowBase {
  schedule: 'once';
  /** Wall time in `timeZone` (`2026-12-20T00:00`) or an ISO instant with offset. */
  start: string;
  end: string;
}

export interface RecurringWindow extends WindowBase {
  schedule: 'recurring';
  /** Either weekly days + `start` (HH:MM) … */
  days: Weekday[] | null;
  start: string | null;
  /** … or a five-field cron expression for the start. */
  cron: string | null;
  /** Wall end time (HH:MM); at or before the start it means the next day. */
  end: string | null;
  /** Or an elapsed duration in milliseconds. */
  durationMs: number | null;
  /** Local dates (`YYYY-MM-DD`) bounding the occurrence starts, inclusive. */
  validFrom: string | null;
  validUntil: string | null;
}

export type CalendarWindow = OnceWindow | RecurringWindow;

export interface Calendar {
  windows: CalendarWindow[];
}

export const EMPTY_CALENDAR: Calendar = { windows: [] };

export interface WindowOccurrence {
  windowId: string;
  name: string;
  kind: WindowKind;
  /** Epoch ms, half-open [start, end). */
  start: number;
  end: number;
}

const DAY = 86_400_000;
// A change planned across more than ten years is a data error; stop enumerating there.
const MAX_DAYS = 3700;

function hhmm(text: string): { hour: number; minute: number } {
  const [h = '0', m = '0'] = text.split(':');
  return { hour: Number(h), minute: Number(m) };
}

function startSpec(window: RecurringWindow): CronSpec {
  if (window.cron !== null) return parseCron(window.cron);
  const { hour, minute } = hhmm(window.start ?? '00:00');
  const days = (window.days ?? [...WEEKDAYS]).map((d) => WEEKDAYS.indexOf(d));
  return { minutes: [minute], hours: [hour], daysOfMonth: new Set(), months: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), weekdays: new Set(days), dayOr: true };
}

function recurringEnd(window: RecurringWindow, startWall: WallTime, start: number): number {
  if (window.durationMs !== null) return start + window.durationMs;
  const { hour, minute } = hhmm(window.end ?? '00:00');
  const nextDay = hour * 60 + minute <= startWall.hour * 60 + startWall.minute;
  const endWall = { ...addDays(startWall, nextDay ? 1 : 0), hour, minute };
  return fromWall(endWall, window.timeZone, 'later');
}

function longestSpan(window: RecurringWindow): number {
  return window.durationMs ?? 2 * DAY;
}

/** Occurrences of one window that overlap [from, to). */
export function occurrences(window: CalendarWindow, from: number, to: number): WindowOccurrence[] {
  const base = { windowId: window.id, name: window.name, kind: window.kind };
  if (window.schedule === 'once') {
    const start = parseInstant(window.start, window.timeZone, 'earlier');
    const end = parseInstant(window.end, window.timeZone, 'later');
    if (start === null || end === null || !(start < to && end > from)) return [];
    return [{ ...base, start, end }];
  }
  const spec = startSpec(window);
  const first = toWall(from - longestSpan(window) - DAY, window.timeZone);
  const last = toWall(to + DAY, window.timeZone);
  const span = Math.min(daysBetween(first, last), MAX_DAYS);
  const out: WindowOccurrence[] = [];
  const seen = new Set<number>();
  for (let i = 0; i <= span; i++) {
    const date = addDays(first, i);
    const isoDate = `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
    if ((window.validFrom !== null && isoDate < window.validFrom) || (window.validUntil !== null && isoDate > window.validUntil)) continue;
    if (!cronMatchesDay(spec, date.month, date.day, weekdayOf(date))) continue;
    for (const hour of spec.hours) {
      for (const minute of spec.minutes) {
        const wall = { ...date, hour, minute };
        const start = fromWall(wall, window.timeZone, 'earlier');
        const end = recurringEnd(window, wall, start);
        if (start < to && end > from && !seen.has(start)) {
          seen.add(start);
          out.push({ ...base, start, end });
        }
      }
    }
  }
  return out.toSorted((a, b) => a.start - b.start);
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function norm(text: string): string {
  return text.trim().toLowerCase();
}

/** The change's services and CIs, by id and by name, lower-cased. */
export function targetsOf(change: Pick<Change, 'services' | 'cis'>): Set<string> {
  const out = new Set<string>();
  for (const ref of [...change.services, ...change.cis]) {
    out.add(norm(ref.id));
    if (ref.name) out.add(norm(ref.name));
  }
  return out;
}

export function appliesTo(window: CalendarWindow, change: Change): boolean {
  if (window.services.length === 0) return true;
  const targets = targetsOf(change);
  return window.services.some((s) => targets.has(norm(s)));
}

function plannedWindow(change: Pick<Change, 'plannedStart' | 'plannedEnd'>): { start: number; end: number } | null {
  if (!change.plannedStart || !change.plannedEnd) return null;
  const start = Date.parse(change.plannedStart);
  const end = Date.parse(change.plannedEnd);
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) return null;
  return { start, end };
}

function byStart(a: WindowOccurrence, b: WindowOccurrence): number {
  return a.start - b.start || compareText(a.windowId, b.windowId);
}

/** Freeze windows that apply to the change and overlap its planned window. */
export function conflicts(change: Change, calendar: Calendar): WindowOccurrence[] {
  const planned = plannedWindow(change);
  if (!planned) return [];
  return calendar.windows
    .filter((w) => w.kind === 'freeze' && appliesTo(w, change))
    .flatMap((w) => occurrences(w, planned.start, planned.end))
    .toSorted(byStart);
}

/** Windows of a kind that apply to the change and contain the instant. */
export function activeWindows(change: Change, calendar: Calendar, kind: WindowKind, at: number): WindowOccurrence[] {
  return calendar.windows
    .filter((w) => w.kind === kind && appliesTo(w, change))
    .flatMap((w) => occurrences(w, at, at + 1))
    .toSorted(byStart);
}

/**
 * Whether the planned window sits wholly inside one maintenance occurrence.
 * `applicable` is false when no maintenance window applies to the change's
 * services: then there is nothing to fit into.
 */
export function maintenanceFit(change: Change, calendar: Calendar): { applicable: boolean; covering: WindowOccurrence | null } {
  const windows = calendar.windows.filter((w) => w.kind === 'maintenance' && appliesTo(w, change));
  const planned = plannedWindow(change);
  if (windows.length === 0 || !planned) return { applicable: windows.length > 0, covering: null };
  const covering = windows
    .flatMap((w) => occurrences(w, planned.start, planned.end))
    .toSorted(byStart)
    .find((o) => o.start <= planned.start && o.end >= planned.end);
  return { applicable: true, covering: covering ?? null };
}

export interface ChangeOverlap {
  changeId: string;
  key: string;
  /** Services/CIs both changes name (as the other change names them). */
  shared: string[];
  plannedStart: string;
  plannedEnd: string;
}

export const OVERLAP_IGNORED_STATES: readonly CanonicalState[] = ['closed', 'canceled', 'failed'];

/** Other live changes on a shared service or CI whose planned windows overlap this one's. */
export function overlaps(change: Change, otherChanges: readonly NeighbourChange[], ignoreStates: readonly CanonicalState[] = OVERLAP_IGNORED_STATES): ChangeOverlap[] {
  const planned = plannedWindow(change);
  if (!planned) return [];
  const targets = targetsOf(change);
  const out: ChangeOverlap[] = [];
  for (const other of otherChanges) {
    if (other.id === change.id || ignoreStates.includes(other.state)) continue;
    const theirs = plannedWindow(other);
    if (!theirs || !(theirs.start < planned.end && theirs.end > planned.start)) continue;
    const shared = [...other.services, ...other.cis]
      .filter((ref) => targets.has(norm(ref.id)) || (ref.name !== null && targets.has(norm(ref.name))))
      .map((ref) => ref.name ?? ref.id);
    if (shared.length > 0) {
      out.push({ changeId: other.id, key: other.key, shared: [...new Set(shared)].toSorted(), plannedStart: other.plannedStart as string, plannedEnd: other.plannedEnd as string });
    }
  }
  return out.toSorted((a, b) => compareText(a.key, b.key) || compareText(a.changeId, b.changeId));
}
