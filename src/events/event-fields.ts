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

/** An ISO-8601 instant as a UTC string, or null when absent or unreadable. */
export function instant(value: unknown): string | null {
  const text = str(value);
  if (text === null) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
