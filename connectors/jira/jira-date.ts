// Jira's time formats. REST answers carry an offset (`2024-12-29T08:43:45.214+0530`);
// JQL date literals carry none and only minutes (`"2024-12-29 08:43"`), read in
// the searching user's time zone. Getting the literal wrong in the late
// direction loses changes, so every literal is built to be at or before the
// instant it stands for, whichever candidate zone Jira applies.

import { ChangegateError } from '../../src/errors.ts';

const JIRA_DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

function iso(ms: number): string {
  const text = new Date(ms).toISOString();
  return text.endsWith('.000Z') ? `${text.slice(0, -5)}Z` : text;
}

/** `2024-12-29T08:43:45.214+0530` (or `+05:30`, `Z`) → `2024-12-29T03:13:45.214Z`; null when empty. */
export function parseJiraDateTime(value: unknown, field: string): string | null {
  if (value === null || value === undefined || value === '') return null;
  const text = typeof value === 'string' ? value.trim() : '';
  const m = JIRA_DATETIME.exec(text);
  if (m === null) {
    throw new ChangegateError('CG_JIRA_RECORD_INVALID', `field ${field} holds ${JSON.stringify(value)}, not a Jira date-time`, { details: { field } });
  }
  const offset = m[8] === 'Z' ? '+00:00' : `${(m[8] as string).slice(0, 3)}:${(m[8] as string).slice(-2)}`;
  const fraction = (m[7] ?? '0').padEnd(3, '0').slice(0, 3);
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}.${fraction}${offset}`);
  if (Number.isNaN(ms)) throw new ChangegateError('CG_JIRA_RECORD_INVALID', `field ${field} holds an impossible date-time ${JSON.stringify(value)}`, { details: { field } });
  return iso(ms);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formatters.set(zone, f);
  }
  return f;
}

/** Wall-clock minute of `ms` in `zone` as JQL writes it: `yyyy-MM-dd HH:mm`. */
export function wallMinute(ms: number, zone: string): string {
  const p: Record<string, string> = {};
  for (const part of formatterFor(zone).formatToParts(new Date(ms))) p[part.type] = part.value;
  return `${p['year']}-${p['month']}-${p['day']} ${p['hour']}:${p['minute']}`;
}

/** Offset of `zone` from UTC at `ms`, in ms (east positive). */
function offsetMs(ms: number, zone: string): number {
  const [date = '', time = ''] = wallMinute(ms, zone).split(' ');
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi] = time.split(':').map(Number);
  return Date.UTC(y ?? 1970, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0) - Math.floor(ms / 60_000) * 60_000;
}

/** `yyyy-MM-dd` of a date-only field → midnight of that day in `zone`, as ISO UTC. */
export function parseJiraDate(value: unknown, field: string, zone: string): string | null {
  if (value === null || value === undefined || value === '') return null;
  const m = typeof value === 'string' ? DATE_ONLY.exec(value.trim()) : null;
  if (m === null) return parseJiraDateTime(value, field);
  const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return iso(guess - offsetMs(guess - offsetMs(guess, zone), zone));
}

/** A Jira date-time or a date-only value. */
export function parseJiraWhen(value: unknown, field: string, zone: string): string | null {
  return typeof value === 'string' && DATE_ONLY.test(value.trim()) ? parseJiraDate(value, field, zone) : parseJiraDateTime(value, field);
}

/**
 * The JQL literal for "at or after `instant`": the instant floored to its minute
 * and written in the zone Jira reads it in. When a wall time occurs twice (the
 * hour a DST change repeats) Jira may take the later one, so the literal steps
 * back an hour there. With several candidate zones (the configured site zone and
 * the API user's profile zone, when they disagree) the earliest literal is safe
 * for each: a smaller wall-clock string is an earlier instant in any one zone.
 */
export function jqlLowerBound(instant: string, zones: readonly string[]): string {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new ChangegateError('CG_INTERNAL', `cursor time ${JSON.stringify(instant)} is not an ISO instant`);
  const floor = Math.floor(ms / 60_000) * 60_000;
  let best: string | null = null;
  for (const zone of zones) {
    let literal = wallMinute(floor, zone);
    // The offset drops within the next hour exactly when this wall time comes round again.
    if (offsetMs(floor + 3_600_000, zone) < offsetMs(floor, zone)) {
      literal = wallMinute(floor - 3_600_000, zone);
    }
    if (best === null || literal < best) best = literal;
  }
  if (best === null) throw new ChangegateError('CG_INTERNAL', 'jqlLowerBound needs at least one time zone');
  return best;
}
