// ServiceNow stores date-times as UTC `yyyy-MM-dd HH:mm:ss` strings (one-second
// resolution) and renders display values in the calling user's time zone.

import { fromWall, isValidTimeZone, offsetAt } from '../../../src/kit/calendar.ts';

const GLIDE_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const HOUR_MS = 3_600_000;

/** UTC `yyyy-MM-dd HH:mm:ss`, truncated to the second (what `sys_updated_on` holds). */
export function toGlideDateTime(date: Date | number): string {
  const iso = new Date(date).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Epoch milliseconds of a glide date-time, or undefined when malformed. */
export function parseGlideDateTime(value: string): number | undefined {
  const m = GLIDE_DATE_TIME.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

const offsets = new Map<string, number>();

// Intl is slow (~µs per call) and a page of 1,000 records carries ~15,000 dates,
// so offsets are cached per UTC hour. Zones change offset at most once an hour;
// an hour whose two ends disagree is computed exactly and not cached.
function offsetMs(utcMs: number, timeZone: string): number {
  const hour = Math.floor(utcMs / HOUR_MS);
  const key = `${timeZone}|${hour}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  const start = offsetAt(hour * HOUR_MS, timeZone);
  const end = offsetAt(hour * HOUR_MS + HOUR_MS - 1000, timeZone);
  if (start !== end) return offsetAt(utcMs, timeZone);
  if (offsets.size > 50_000) offsets.clear();
  offsets.set(key, start);
  return start;
}

/** The display value of a stored UTC date-time in `timeZone`; malformed values are shown as stored. */
export function glideDisplayValue(value: string, timeZone: string): string {
  const ms = parseGlideDateTime(value);
  if (ms === undefined) return value;
  return toGlideDateTime(ms + offsetMs(ms, timeZone));
}

/** The stored (UTC) value a glide date-time stands for when read as a wall time in `timeZone` (the earlier one where it repeats); malformed values as given. */
export function glideWallToUtc(value: string, timeZone: string): string {
  const ms = parseGlideDateTime(value);
  if (ms === undefined) return value;
  const d = new Date(ms);
  const wall = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() };
  return toGlideDateTime(fromWall(wall, timeZone) + d.getUTCSeconds() * 1000);
}

/** Throws a RangeError for a time zone the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  if (!isValidTimeZone(timeZone)) throw new RangeError(`Invalid time zone specified: ${timeZone}`);
}
