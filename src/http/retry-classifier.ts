// One pure retry classifier for every connector: given what happened on an
// attempt, say whether to wait and retry, refresh credentials, or give up and
// who must act. p-retry runs the loop (src/http/http-client.ts); this decides.
// Vendor quirks (which header carries the wait, in which format) are rows in
// WAIT_HEADERS, not branches.

import type { ErrorKind } from '../errors.ts';

export type HeaderBag = Record<string, string | string[] | number | undefined | null>;

export type Outcome =
  | { kind: 'response'; status: number; headers: HeaderBag }
  /** No HTTP response: `code` is the Node/axios error code (ECONNRESET, ETIMEDOUT, ...). */
  | { kind: 'network'; code: string };

export type Decision =
  | { action: 'retry'; waitMs: number; reason: string }
  | { action: 'refreshAuth' }
  | { action: 'fail'; kind: ErrorKind; reason: string };

export interface RetryPolicy {
  /** First backoff ceiling; doubles per attempt. */
  baseMs: number;
  /** Ceiling of the exponential backoff. */
  maxMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** A server-requested wait longer than this is not sat out: the call fails as transient and the next run tries again. */
  maxWaitMs: number;
  /** In [0, 1); injectable so tests are deterministic. */
  random?: () => number;
  /** Epoch ms; injectable for reset headers that carry an absolute time. */
  now?: () => number;
}

export interface ClassifyState {
  /** The caller already refreshed credentials once during this call. */
  authRefreshed: boolean;
  /** False for a static credential (Basic, a token): its second 401 is not "after refreshing". Default true. */
  renewable?: boolean;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  baseMs: 500,
  maxMs: 30_000,
  maxAttempts: 7,
  maxWaitMs: 120_000,
};

/** Statuses worth another attempt. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Network failures worth another attempt; anything else (TLS, bad URL) needs an operator. */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_NETWORK',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/**
 * How a header expresses "wait until": `delta-or-date` (RFC 9110 Retry-After:
 * seconds or an HTTP date), `epoch-or-iso` (ServiceNow/GitHub send epoch seconds
 * in X-RateLimit-Reset, Atlassian an ISO timestamp under the same name),
 * `delta` (IETF RateLimit-Reset draft: seconds).
 */
export type WaitFormat = 'delta-or-date' | 'epoch-or-iso' | 'delta';

export interface WaitHeader {
  name: string;
  format: WaitFormat;
  /** Statuses on which the header means "wait"; ServiceNow sends X-RateLimit-Reset on every response under a rule. */
  statuses: ReadonlySet<number>;
  /** Only when another header has this value (GitHub's X-RateLimit-Reset means "wait" on a 403 only once X-RateLimit-Remaining is 0). */
  when?: { header: string; equals: string };
}

const THROTTLED = new Set([429]);
/** GitHub answers its primary and secondary rate limits with 403 as often as 429 (docs: "Rate limits for the REST API"). */
const THROTTLED_OR_FORBIDDEN = new Set([403, 429, 503]);

/**
 * Statuses that are a throttle only when a wait header says so: a 403 with
 * Retry-After, or with X-RateLimit-Remaining 0, is GitHub's rate limit and is
 * waited out; any other 403 is still a rejection.
 */
export const THROTTLE_WHEN_SAID: ReadonlySet<number> = new Set([403]);

/** First match wins, in this order. */
export const WAIT_HEADERS: readonly WaitHeader[] = [
  { name: 'retry-after', format: 'delta-or-date', statuses: THROTTLED_OR_FORBIDDEN },
  { name: 'x-ratelimit-reset', format: 'epoch-or-iso', statuses: THROTTLED },
  { name: 'x-ratelimit-reset', format: 'epoch-or-iso', statuses: new Set([403]), when: { header: 'x-ratelimit-remaining', equals: '0' } },
  { name: 'ratelimit-reset', format: 'delta', statuses: THROTTLED },
];

/** Headers that explain a throttle; their values go into the retry reason for the log. */
export const REASON_HEADERS: readonly string[] = ['ratelimit-reason', 'x-ratelimit-rule'];

export function headerValue(headers: HeaderBag, name: string): string | null {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined || value === null) continue;
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? null : String(first).trim();
  }
  return null;
}

const DIGITS = /^\d+(\.\d+)?$/;
const EPOCH_FLOOR_S = 1_000_000_000;

/** Milliseconds to wait as the header says, or null when absent or unreadable. */
export function parseWait(value: string, format: WaitFormat, nowMs: number): number | null {
  if (value === '') return null;
  const numeric = DIGITS.test(value) ? Number(value) : null;
  let waitMs: number | null;
  if (format === 'delta') {
    waitMs = numeric === null ? null : numeric * 1000;
  } else if (format === 'delta-or-date') {
    waitMs = numeric !== null ? numeric * 1000 : dateWait(value, nowMs);
  } else {
    // Some APIs send seconds-until-reset under the same name; no epoch value is that small.
    if (numeric === null) waitMs = dateWait(value, nowMs);
    else waitMs = numeric < EPOCH_FLOOR_S ? numeric * 1000 : numeric * 1000 - nowMs;
  }
  return waitMs === null ? null : Math.max(0, Math.ceil(waitMs));
}

function dateWait(value: string, nowMs: number): number | null {
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at - nowMs;
}

/** Full jitter (AWS architecture blog): uniform in [0, min(maxMs, baseMs * 2^(attempt-1))]. */
export function backoffMs(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const random = policy.random ?? Math.random;
  return Math.floor(random() * ceiling);
}

function serverWait(status: number, headers: HeaderBag, nowMs: number): { ms: number; header: string } | null {
  for (const header of WAIT_HEADERS) {
    if (!header.statuses.has(status)) continue;
    if (header.when !== undefined && headerValue(headers, header.when.header) !== header.when.equals) continue;
    const raw = headerValue(headers, header.name);
    if (raw === null) continue;
    const ms = parseWait(raw, header.format, nowMs);
    if (ms !== null) return { ms, header: header.name };
  }
  return null;
}

/** What the server asked to wait before another try after `outcome` (Retry-After and its kin), or null when it asked nothing. */
export function askedWaitMs(outcome: Outcome, nowMs: number): number | null {
  return outcome.kind === 'response' ? (serverWait(outcome.status, outcome.headers, nowMs)?.ms ?? null) : null;
}

function throttleNote(headers: HeaderBag): string {
  const notes = REASON_HEADERS.map((name) => headerValue(headers, name)).filter((v): v is string => v !== null && v !== '');
  return notes.length === 0 ? '' : ` (${notes.join(', ')})`;
}

/**
 * Decide what to do after attempt number `attempt` (1-based) produced `outcome`.
 * A 401 asks for one credential refresh; the caller says through `state` that it
 * already did, and the second 401 fails as config.
 */
export function classify(outcome: Outcome, attempt: number, policy: RetryPolicy, state: ClassifyState = { authRefreshed: false }): Decision {
  let what: string;
  let waitMs: number | null = null;

  if (outcome.kind === 'network') {
    what = `network error ${outcome.code}`;
    if (!RETRYABLE_NETWORK_CODES.has(outcome.code)) {
      return { action: 'fail', kind: 'upstream', reason: `${what} is not transient` };
    }
  } else {
    const { status, headers } = outcome;
    what = `HTTP ${status}`;
    if (status === 401) {
      return state.authRefreshed
        ? { action: 'fail', kind: 'config', reason: state.renewable === false ? 'HTTP 401 twice: the credentials were rejected' : 'HTTP 401 again after refreshing credentials' }
        : { action: 'refreshAuth' };
    }
    const throttled = THROTTLE_WHEN_SAID.has(status) && serverWait(status, headers, (policy.now ?? Date.now)()) !== null;
    if (!RETRYABLE_STATUSES.has(status) && !throttled) {
      if (status >= 400 && status < 500) return { action: 'fail', kind: 'config', reason: `${what} is a rejection, not a transient failure` };
      return { action: 'fail', kind: 'upstream', reason: `${what} is not retryable` };
    }
    const asked = serverWait(status, headers, (policy.now ?? Date.now)());
    if (asked !== null) {
      what += `${throttleNote(headers)}, ${asked.header} asks ${asked.ms} ms`;
      // Retrying before the server's reset only burns quota; a wait past the cap is left to the next scheduled run.
      if (asked.ms > policy.maxWaitMs) {
        return { action: 'fail', kind: 'transient', reason: `${what}, longer than the ${policy.maxWaitMs} ms cap` };
      }
      waitMs = asked.ms;
    } else {
      what += throttleNote(headers);
    }
  }

  if (attempt >= policy.maxAttempts) {
    return { action: 'fail', kind: 'transient', reason: `${what}; gave up after ${attempt} attempt(s)` };
  }
  return { action: 'retry', waitMs: waitMs ?? backoffMs(attempt, policy), reason: what };
}
