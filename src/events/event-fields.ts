// Tolerant readers for source payloads: a field of the wrong type or absent is
// null, so an unknown version or an organisation's extra fields never crash a
// normaliser; a field a source cannot do without is demanded by `required*`,
// which throws CG_EVENT_INVALID naming it.

import { ChangegateError } from '../errors.ts';

export type Json = Record<string, unknown>;

export const obj = (value: unknown): Json | null => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null);

export const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null);

export const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export function invalid(source: string, field: string, what: string): ChangegateError {
  return new ChangegateError('CG_EVENT_INVALID', `body ${field}: ${what} (${source} event)`, { details: { field, where: 'body', source } });
}

export function requiredObj(body: Json, field: string, source: string): Json {
  const value = obj(body[field]);
  if (value === null) throw invalid(source, field, 'expected an object');
  return value;
}

export function requiredStr(body: Json, field: string, source: string, path = field): string {
  const value = str(body[field]);
  if (value === null) throw invalid(source, path, 'expected a non-empty string');
  return value;
}

/** What `instant` reads, for messages refusing a time. */
export const INSTANT_FORMAT = 'an RFC 3339 date-time with a zone (2026-03-12T10:00:00Z, 2026-03-12T11:00:00.5+01:00)';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Days in a month (1-12) of a year; setUTCFullYear, since Date.UTC takes years 0-99 for 1900-1999. */
function daysIn(year: number, month: number): number {
  const last = new Date(0);
  last.setUTCFullYear(year, month, 0);
  return last.getUTCDate();
}

/**
 * An RFC 3339 date-time (a zone, `Z` or `±hh:mm`, required) as an ISO-8601 UTC
 * string; null when absent or anything else. Date.parse is not used: it reads a
 * time without a zone in the host's zone and takes `12` for a date.
 */
export function instant(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const m = RFC3339.exec(value);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offset = m[8] !== undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 || Number(m[10] ?? 0) > 23 || Number(m[11] ?? 0) > 59) return null;
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute - offset, second, Number((m[7] ?? '').padEnd(3, '0').slice(0, 3)));
  return at.toISOString();
}
