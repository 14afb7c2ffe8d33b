// Jira's date dialects: REST timestamps (`2024-01-01T10:00:00.000+0000`, in the
// site's time zone), JSM DateDTOs, and JQL date literals, which are read in the
// site's time zone and only carry minutes.

import { offsetAt } from '../../../src/kit/calendar.ts';

/** Offset of `timeZone` from UTC at instant `ms`, in minutes (east positive). */
export function offsetMinutes(ms: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  return Math.round(offsetAt(ms, timeZone) / 60_000);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function offsetString(mins: number, colon: boolean): string {
  const sign = mins < 0 ? '-' : '+';
  const abs = Math.abs(mins);
  return `${sign}${pad(Math.floor(abs / 60))}${colon ? ':' : ''}${pad(abs % 60)}`;
}

function shifted(ms: number, timeZone: string): { d: Date; off: number } {
  const off = offsetMinutes(ms, timeZone);
  return { d: new Date(ms + off * 60_000), off };
}

/** `2024-01-01T10:00:00.000+0000`, the form every Jira REST timestamp takes. */
export function jiraTimestamp(ms: number, timeZone: string): string {
  const { d, off } = shifted(ms, timeZone);
  return `${d.toISOString().slice(0, 23)}${offsetString(off, false)}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** JSM `DateDTO`: `{epochMillis, friendly, iso8601, jira}`. */
export function jsmDate(ms: number, timeZone: string): { epochMillis: number; friendly: string; iso8601: string; jira: string } {
  const { d, off } = shifted(ms, timeZone);
  const h = d.getUTCHours();
  const friendly = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${String(d.getUTCFullYear()).slice(2)} ${pad(h % 12 === 0 ? 12 : h % 12)}:${pad(d.getUTCMinutes())} ${h < 12 ? 'AM' : 'PM'}`;
  return {
    epochMillis: ms,
    friendly,
    iso8601: `${d.toISOString().slice(0, 19)}${offsetString(off, false)}`,
    jira: jiraTimestamp(ms, timeZone),
  };
}

/** Wall-clock time in `timeZone` → epoch ms (handles the offset changing across DST). */
export function zonedToEpoch(y: number, mo: number, d: number, h: number, mi: number, timeZone: string): number {
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  const first = guess - offsetMinutes(guess, timeZone) * 60_000;
  return guess - offsetMinutes(first, timeZone) * 60_000;
}

const PERIOD = /^([-+]?)\s*((?:\d+\s*[wdhm]\s*)+)$/i;
const UNIT_MS: Record<string, number> = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000 };

/**
 * Parses a JQL date literal. Accepted, as Jira documents: `yyyy/MM/dd HH:mm`,
 * `yyyy-MM-dd HH:mm`, `yyyy/MM/dd`, `yyyy-MM-dd`, and periods such as `-5d`,
 * `-4w 2d`, `-15m`. Seconds are not part of JQL; a literal with them is refused.
 * Returns null for anything else.
 */
export function parseJqlDate(literal: string, nowMs: number, timeZone: string): number | null {
  const s = literal.trim();
  const abs = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$/.exec(s);
  if (abs) {
    const [, y, mo, d, h, mi] = abs;
    return zonedToEpoch(Number(y), Number(mo), Number(d), Number(h ?? 0), Number(mi ?? 0), timeZone);
  }
  const per = PERIOD.exec(s);
  if (per) {
    let total = 0;
    for (const m of (per[2] ?? '').matchAll(/(\d+)\s*([wdhm])/gi)) total += Number(m[1]) * (UNIT_MS[(m[2] ?? 'm').toLowerCase()] ?? 0);
    // A period is relative to now, floored to the minute like every JQL date.
    return floorMinute(per[1] === '-' ? nowMs - total : nowMs + total);
  }
  return null;
}

export function floorMinute(ms: number): number {
  return ms - (((ms % 60_000) + 60_000) % 60_000);
}

/** Accepts what clients send for datetime fields: ISO 8601 with `+0000` or `+00:00` offsets, or epoch ms. */
export function parseInputDate(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string') return null;
  const t = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(t) ? null : t;
}
