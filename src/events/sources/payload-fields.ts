// Field readers shared by the event sources. Real payloads vary by version and
// edition, so a source reads each field it needs through these: an optional
// field that is absent or of another type becomes null, a required one that is
// unusable throws CG_EVENT_INVALID naming the field, never a TypeError.

import { createHash, timingSafeEqual } from 'node:crypto';
import { ChangegateError } from '../../errors.ts';
import { instant, INSTANT_FORMAT } from '../event-fields.ts';

export type Json = Record<string, unknown>;

export function invalidEvent(kind: string, field: string, problem: string, value?: unknown): ChangegateError {
  const details: Record<string, unknown> = { source: kind, field };
  if (value !== undefined) details['value'] = typeof value === 'string' ? value.slice(0, 200) : value;
  return new ChangegateError('CG_EVENT_INVALID', `${kind} event: ${field} ${problem}`, { details });
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `field`, or an empty object when it is absent or not an object (every read below it is then null). */
export function objectAt(parent: Json, field: string): Json {
  const value = parent[field];
  return isObject(value) ? value : {};
}

export function requireObject(kind: string, parent: unknown, field: string, path = field): Json {
  const value = isObject(parent) ? parent[field] : undefined;
  if (!isObject(value)) throw invalidEvent(kind, path, 'must be an object');
  return value;
}

/** A string, or a finite number written as a string (ids arrive as either); otherwise null. */
export function text(parent: Json, field: string): string | null {
  const value = parent[field];
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

export function requireText(kind: string, parent: Json, field: string, path = field): string {
  const value = text(parent, field);
  if (value === null) throw invalidEvent(kind, path, 'is missing or not a string or number', parent[field] ?? null);
  return value;
}

export function list(parent: Json, field: string): unknown[] {
  const value = parent[field];
  return Array.isArray(value) ? value : [];
}

/** String values only: labels with non-string values (numbers from some senders) are kept as their text. */
export function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'string') out[key] = entry;
    else if (typeof entry === 'number' || typeof entry === 'boolean') out[key] = String(entry);
  }
  return out;
}

/**
 * The time a sender gave at `field` as ISO-8601 UTC; absent, null or '' is no
 * time (a run not finished yet). Only an RFC 3339 date-time with a zone is
 * read, after `rewrite` turns a source's own format into one; anything else,
 * a time without a zone above all (it could name any instant), is refused
 * naming the field, never guessed at.
 */
export function timeField(kind: string, parent: Json, field: string, path = field, rewrite: (value: string) => string = (value) => value, expected = INSTANT_FORMAT): string | null {
  const value = parent[field];
  if (value === undefined || value === null || value === '') return null;
  const at = typeof value === 'string' ? instant(rewrite(value)) : null;
  if (at === null) throw invalidEvent(kind, path, `is not a time with a zone: expected ${expected}`, value);
  return at;
}

/** Alertmanager and Grafana send `0001-01-01T00:00:00Z` for "not ended"; that is null, not year 1. */
export function endTime(kind: string, parent: Json, field: string, path = field): string | null {
  const at = timeField(kind, parent, field, path);
  return at === null || at.startsWith('0001-') ? null : at;
}

export function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | null {
  const value = headers[name];
  return value === undefined || value.trim() === '' ? null : value.trim();
}

/** Constant-time equality of two strings of any length (both are hashed first, so the lengths leak nothing). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Constant-time equality of a received digest and a computed one; a digest of another length is simply unequal. */
export function sameDigest(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The parsed body as an object: an array, a string or null is a body no source can use. */
export function bodyObject(kind: string, body: unknown): Json {
  if (!isObject(body)) throw invalidEvent(kind, 'body', 'must be a JSON object');
  return body;
}

/** `https://host/owner/name.git` and `git@host:owner/name.git` both become `owner/name`. */
export function repoFromScmUrl(url: string | null): string | null {
  if (url === null) return null;
  const scp = /^[^@/]+@[^:/]+:(.+)$/.exec(url);
  let path = scp?.[1] ?? null;
  if (path === null) {
    try {
      path = new URL(url).pathname;
    } catch {
      return null;
    }
  }
  const trimmed = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  return trimmed === '' ? null : trimmed;
}
