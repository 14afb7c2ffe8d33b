// Wall-clock time in an IANA zone, with nothing but Intl.DateTimeFormat.
// Calendars are written in local time ("Saturday 22:00 Europe/Berlin"), so
// every window is converted to instants here, including across midnight and
// across a daylight-saving change.

export interface WallTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// Constructing a DateTimeFormat is the expensive part; the cache holds no state that changes results.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function partsAt(instant: number, timeZone: string): WallTime & { second: number } {
  const out = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(instant)) {
    if (part.type in out) out[part.type as keyof typeof out] = Number(part.value);
  }
  return out;
}

/** Local minus UTC, in milliseconds, at an instant. */
export function offsetAt(instant: number, timeZone: string): number {
  const p = partsAt(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
}

export function toWall(instant: number, timeZone: string): WallTime {
  const { year, month, day, hour, minute } = partsAt(instant, timeZone);
  return { year, month, day, hour, minute };
}

/**
 * The instant a wall-clock time names in a zone. A time inside a spring-forward
 * gap moves forward by the gap (02:30 → 03:30 CEST), as Temporal's `compatible`
 * does. A time that occurs twice (autumn fall-back) resolves to the earlier or
 * the later instant as the caller asks: window starts take the earlier, window
 * ends the later, so a window never shrinks across a change of offset.
 */
export function fromWall(wall: WallTime, timeZone: string, ambiguous: 'earlier' | 'later' = 'earlier'): number {
  const local = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const before = offsetAt(local - DAY, timeZone);
  const after = offsetAt(local + DAY, timeZone);
  const valid = [...new Set([before, after])].map((offset) => local - offset).filter((t) => offsetAt(t, timeZone) === local - t);
  if (valid.length === 0) return local - before;
  const ordered = valid.toSorted((a, b) => a - b);
  return ambiguous === 'earlier' ? (ordered[0] as number) : (ordered[ordered.length - 1] as number);
}

/** Calendar arithmetic on dates only (no zone involved). */
export function addDays(wall: WallTime, days: number): WallTime {
  const d = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: wall.hour, minute: wall.minute };
}

/** 0 = Sunday … 6 = Saturday, of the wall date. */
export function weekdayOf(wall: WallTime): number {
  return new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay();
}

/** Days between two wall dates (b − a). */
export function daysBetween(a: WallTime, b: WallTime): number {
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / DAY);
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?$/;

/** `2026-12-20` or `2026-12-20T22:00` as a wall time; `null` when it is not one. */
export function parseWall(text: string): WallTime | null {
  const m = LOCAL_DATE_TIME.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0'].map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCDate() !== day) return null;
  return { year, month, day, hour, minute };
}

/**
 * Whether the date and time of day an ISO date-time spells exist. `Date.parse` rolls a day the month lacks
 * over into the next month (30 February is 2 March), which would move a freeze or a waiver's end silently.
 */
export function isRealDateTime(text: string): boolean {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}))?/.exec(text);
  return m !== null && parseWall(m[2] === undefined ? (m[1] as string) : `${m[1]}T${m[2]}`) !== null;
}

/** An ISO instant with `Z` or an offset, or a wall time in `timeZone`. */
export function parseInstant(text: string, timeZone: string, ambiguous: 'earlier' | 'later' = 'earlier'): number | null {
  const wall = parseWall(text);
  if (wall) return fromWall(wall, timeZone, ambiguous);
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(text) || !isRealDateTime(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2026-12-01 10:00 UTC`: what a change manager reads in a reason. */
export function formatUtc(instant: number): string {
  const d = new Date(instant);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** `20 h`, `45 min`, `3 d 4 h`: rounded down to what matters for a decision. */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours <= 72) return minutes % 60 === 0 || hours >= 10 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}
