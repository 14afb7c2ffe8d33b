// The one HTTP client every connector uses: axios for the wire, p-retry for the
// loop, the pure classifier (src/sync/retry-classifier.ts) for every decision.
// Retry waits come from the classifier, so p-retry's own backoff is switched off
// (minTimeout 0) and the wait happens in onFailedAttempt, where an abort can cut it.

import { create as createAxios, type AxiosInstance, type AxiosResponse } from 'axios';
import pRetry, { AbortError } from 'p-retry';
import { ChangegateError, asChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_RETRY_POLICY, askedWaitMs, classify, type Decision, type Outcome, type RetryPolicy } from './retry-classifier.ts';
import { sharedRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { sleep } from './sleep.ts';

/** Supplies the Authorization header; `refresh` (absent for a static credential: Basic, a token) is called once after a 401. */
export interface AuthProvider {
  header(): Promise<string>;
  refresh?(): Promise<void>;
}

/** One HTTP attempt, for metrics. Never carries headers, bodies or credentials. */
export interface RequestInfo {
  instance: string;
  method: string;
  /** Low-cardinality template, e.g. `/api/now/table/{table}/{sys_id}`. */
  path: string;
  /** Null when no response came back (see `code`). */
  status: number | null;
  code: string | null;
  ms: number;
  /** 1-based attempt number within this call. */
  attempt: number;
}

/** Maps a failed response to the caller's error vocabulary (`url` is the path, never credentials). */
export type ErrorMapper = (status: number, body: unknown, url: string) => ChangegateError;

export interface HttpClientOptions {
  baseURL: string;
  timeoutMs: number;
  retry: RetryPolicy;
  instanceId: string;
  logger: Logger;
  errorFor: ErrorMapper;
  auth?: AuthProvider;
  onRequest?: (info: RequestInfo) => void;
  /** 0 or absent: unlimited. Shared by every client of the same instance and origin in the process (rate-limiter.ts). */
  maxRequestsPerSecond?: number;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method?: HttpMethod;
  /** Relative to baseURL, already encoded. */
  path: string;
  /** For metrics; defaults to `path`. */
  pathTemplate?: string;
  params?: Record<string, string | number | boolean>;
  /** JSON body. */
  json?: unknown;
  /** application/x-www-form-urlencoded body. */
  form?: Record<string, string>;
  /** Bytes sent as they are, with their own Content-Type (an attachment, a multipart upload). */
  raw?: { data: Buffer; contentType: string };
  headers?: Record<string, string>;
  /** Statuses returned to the caller instead of failing (e.g. 404 on a lookup by id). */
  acceptStatuses?: readonly number[];
  /** Read the body as bytes (an artifact archive), not text; redirects are followed, the Authorization header dropped at another host. */
  binary?: { maxBytes: number };
  signal?: AbortSignal;
}

export interface HttpResult {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON, or undefined when the body is not JSON. */
  data: unknown;
  text: string;
  /** The body as received, when the request asked for `binary`. */
  bytes?: Buffer;
  /** HTTP requests this call made, retries and the refreshed retry included. */
  attempts: number;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResult>;
}

/** Carries one failed attempt from the p-retry input to its callbacks. */
class AttemptFailure extends Error {
  readonly decision: Exclude<Decision, { action: 'fail' }>;
  readonly status: number | null;
  readonly code: string | null;

  constructor(decision: Exclude<Decision, { action: 'fail' }>, outcome: Outcome, cause: unknown) {
    super(decision.action === 'retry' ? decision.reason : 'HTTP 401', { cause });
    this.name = 'AttemptFailure';
    this.decision = decision;
    this.status = outcome.kind === 'response' ? outcome.status : null;
    this.code = outcome.kind === 'network' ? outcome.code : null;
  }
}

function flattenHeaders(raw: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  const plain = typeof raw.toJSON === 'function' ? (raw.toJSON() as Record<string, unknown>) : (raw as Record<string, unknown>);
  for (const [name, value] of Object.entries(plain)) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && code !== 'ERR_CANCELED') return code;
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
  return cause === undefined ? null : errorCode(cause);
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { instanceId, logger, retry: policy, auth } = options;
  const limiter: RateLimiter = sharedRateLimiter(`${instanceId}\n${URL.parse(options.baseURL)?.origin ?? options.baseURL}`, options.maxRequestsPerSecond ?? 0);
  const http: AxiosInstance = createAxios({
    baseURL: options.baseURL,
    // The classifier judges statuses; axios only moves bytes.
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: (body: unknown) => body,
    maxRedirects: 5,
  });

  async function attempt(req: HttpRequest, method: HttpMethod, attemptNo: number): Promise<{ result?: HttpResult; outcome: Outcome; cause: unknown; body: unknown }> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'changegate', ...req.headers };
    if (auth) headers['Authorization'] = await auth.header();
    // Its slot once it can be sent: a token request the header waited for took one of its own before it.
    await limiter.take(req.signal);
    let data: string | Buffer | undefined;
    if (req.raw) {
      data = req.raw.data;
      headers['Content-Type'] = req.raw.contentType;
    } else if (req.form) {
      data = new URLSearchParams(req.form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (req.json !== undefined) {
      data = JSON.stringify(req.json);
      headers['Content-Type'] = 'application/json';
    }
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    const started = performance.now();
    const report = (status: number | null, code: string | null): void =>
      options.onRequest?.({ instance: instanceId, method, path: req.pathTemplate ?? req.path, status, code, ms: performance.now() - started, attempt: attemptNo });
    try {
      const binary = req.binary === undefined ? {} : { responseType: 'arraybuffer' as const, maxContentLength: req.binary.maxBytes };
      const res = await http.request<string | ArrayBuffer>({ method, url: req.path, params: req.params, headers, data, signal, ...binary });
      const bytes = req.binary !== undefined && typeof res.data !== 'string' ? Buffer.from(res.data) : undefined;
      const text = typeof res.data === 'string' ? res.data : bytes !== undefined && (res.status < 200 || res.status >= 300) ? bytes.toString('utf8') : '';
      const body = parseJson(text);
      report(res.status, null);
      const result: HttpResult = { status: res.status, headers: flattenHeaders(res.headers), data: body, text, attempts: attemptNo, ...(bytes === undefined ? {} : { bytes }) };
      return { result, outcome: { kind: 'response', status: res.status, headers: result.headers }, cause: null, body: body ?? text };
    } catch (err) {
      if (req.signal?.aborted) throw new AbortError(asError(req.signal.reason));
      const code = timeout.signal.aborted ? 'ETIMEDOUT' : (errorCode(err) ?? 'ERR_NETWORK');
      report(null, code);
      return { outcome: { kind: 'network', code }, cause: networkCause(err, code), body: undefined };
    } finally {
      clearTimeout(timer);
    }
  }

  async function request(req: HttpRequest): Promise<HttpResult> {
    const method = req.method ?? 'GET';
    const accept = new Set(req.acceptStatuses ?? []);
    const where = { instance: instanceId, method, path: req.path };
    let refreshed = false;
    let lastFailure: { outcome: Outcome; cause: unknown; body: unknown } | null = null;

    const fail = (decision: Extract<Decision, { action: 'fail' }>, outcome: Outcome, cause: unknown, body: unknown, attempts: number): ChangegateError => {
      if (decision.kind === 'transient' || outcome.kind === 'network') {
        const last = outcome.kind === 'response' ? options.errorFor(outcome.status, body, req.path) : cause;
        // The server's own "not before" goes with the error: a caller that tries later (the outbox) waits at least that long.
        const retryAfterMs = askedWaitMs(outcome, (policy.now ?? Date.now)());
        return new ChangegateError('CG_UPSTREAM_UNAVAILABLE', `${instanceId}: ${method} ${req.path} failed: ${decision.reason}`, {
          cause: last,
          details: { ...where, attempts, status: outcome.kind === 'response' ? outcome.status : null, code: outcome.kind === 'network' ? outcome.code : null, retryAfterMs },
        });
      }
      return options.errorFor(outcome.status, body, req.path);
    };

    const run = async (attemptNo: number): Promise<HttpResult> => {
      try {
        const { result, outcome, cause, body } = await attempt(req, method, attemptNo);
        if (result && ((result.status >= 200 && result.status < 300) || accept.has(result.status))) return result;
        lastFailure = { outcome, cause, body };
        // Refreshes do not count against the attempt budget.
        const counted = attemptNo - (refreshed ? 1 : 0);
        const decision = classify(outcome, counted, policy, { authRefreshed: refreshed || auth === undefined, renewable: auth?.refresh !== undefined });
        if (decision.action === 'fail') throw new AbortError(fail(decision, outcome, cause, body, attemptNo));
        throw new AttemptFailure(decision, outcome, cause);
      } catch (err) {
        if (err instanceof AttemptFailure || err instanceof AbortError) throw err;
        throw new AbortError(asError(err));
      }
    };

    try {
      return await pRetry(run, {
        // A backstop only: the classifier ends the loop at policy.maxAttempts.
        retries: policy.maxAttempts,
        minTimeout: 0,
        maxTimeout: 0,
        ...(req.signal ? { signal: req.signal } : {}),
        shouldConsumeRetry: ({ error }) => !(error instanceof AttemptFailure && error.decision.action === 'refreshAuth'),
        onFailedAttempt: async ({ error, attemptNumber }) => {
          if (!(error instanceof AttemptFailure)) return;
          const { decision } = error;
          if (decision.action === 'refreshAuth') {
            refreshed = true;
            if (auth?.refresh) {
              logger.info({ ...where, attempt: attemptNumber }, 'credentials rejected (401); refreshing once');
              await auth.refresh();
            } else {
              // A static credential has nothing to refresh; one more try rides out a stale session node.
              logger.debug({ ...where, attempt: attemptNumber }, 'credentials rejected (401); trying once more');
            }
            return;
          }
          logger.warn({ ...where, attempt: attemptNumber, status: error.status, code: error.code, waitMs: decision.waitMs, reason: decision.reason }, 'retrying');
          await sleep(decision.waitMs, req.signal);
        },
        shouldRetry: ({ error }) => error instanceof AttemptFailure,
      });
    } catch (err) {
      if (err instanceof AttemptFailure && lastFailure !== null) {
        // p-retry's backstop ran out before the classifier said stop.
        const { outcome, cause, body } = lastFailure as { outcome: Outcome; cause: unknown; body: unknown };
        throw fail({ action: 'fail', kind: 'transient', reason: `${err.message}; retries exhausted` }, outcome, cause, body, policy.maxAttempts + 1);
      }
      throw err;
    }
  }

  return { request };
}

/**
 * The chained cause of a network failure: message and code only. An AxiosError
 * carries the request config, Authorization header included, and an error
 * serializer would print it from any depth the logger's redaction paths miss.
 */
function networkCause(err: unknown, code: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : asChangegateError(value);
}

/** Policy from an instance's `retries` (attempts after the first) with the shared defaults. */
export function retryPolicyFor(retries: number, overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...overrides, maxAttempts: retries + 1 };
}
