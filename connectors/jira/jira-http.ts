// The wire to one Jira site, Cloud or Data Center: the shared HTTP client
// (axios + p-retry + the one retry classifier, so Retry-After, RateLimit-Reason
// and X-RateLimit-Reset decide the waits) plus what is Jira's own: its error
// bodies, 410 for removed endpoints, and the revoked-token trap, where a dead
// token on an anonymous-capable endpoint gets 200 with anonymous data and only
// `X-Seraph-LoginReason` tells.

import type { JiraInstance } from './jira-config.ts';
import { ChangegateError, type ErrorCode } from '../../src/errors.ts';
import { createHttpClient, retryPolicyFor, type AuthProvider, type HttpClient, type HttpRequest, type HttpResult, type RequestInfo } from '../../src/http/http-client.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { RetryPolicy } from '../../src/http/retry-classifier.ts';
import { createJiraAuth } from './jira-auth.ts';

/** Per-operation state: the caller's abort signal and a count of HTTP requests made (retries included). */
export interface CallContext {
  signal?: AbortSignal;
  calls: number;
}

export interface JiraHttp {
  readonly instanceId: string;
  /** JSON of a 2xx (undefined for 204); throws a ChangegateError for anything else. */
  request(req: HttpRequest, ctx: CallContext): Promise<unknown>;
}

export type JiraHttpInstance = Pick<JiraInstance, 'id' | 'baseUrl' | 'auth' | 'timeout' | 'retries' | 'maxRequestsPerSecond'>;

export interface JiraHttpDeps {
  logger: Logger;
  onRequest?: (info: RequestInfo) => void;
  retry?: Partial<RetryPolicy>;
  /** Defaults to one built from `instance.auth`. */
  auth?: { provider: AuthProvider; apiBaseUrl: string };
}

/**
 * Rejections returned to this module instead of failing inside the HTTP client,
 * so the login header is read first: an anonymous caller is told "not found" or
 * "no such project", and that must read as revoked credentials, not as a gone issue.
 */
const INSPECTED_REJECTIONS: readonly number[] = [400, 403, 404, 410];

/** Seraph's verdicts that mean "your credentials were refused and you are anonymous now". */
const REFUSED_LOGIN = /AUTHENTICATED_FAILED|AUTHENTICATION_DENIED/i;

/** Jira's error body (`{errorMessages, errors}`) or JSM's (`{errorMessage}`), flattened for a message. */
export function jiraErrorText(body: unknown): string {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' && body.length < 300 ? body.trim() : '';
  const { errorMessages, errors, errorMessage } = body as { errorMessages?: unknown; errors?: unknown; errorMessage?: unknown };
  const parts: string[] = [];
  if (Array.isArray(errorMessages)) parts.push(...errorMessages.filter((m): m is string => typeof m === 'string'));
  if (typeof errors === 'object' && errors !== null) {
    for (const [field, text] of Object.entries(errors)) if (typeof text === 'string') parts.push(`${field}: ${text}`);
  }
  if (typeof errorMessage === 'string') parts.push(errorMessage);
  return parts.join('; ');
}

/**
 * Where a 409 means "not now" rather than "no": an edit or a transition of an
 * issue that someone changed at the same moment ("the issue could not be
 * updated due to a conflicting update", platform spec). The outbox tries the
 * write again later, and the writer re-reads the issue first. JSM's 409 (an
 * approval already answered) is final, so it stays a rejection.
 */
const ISSUE_WRITE = /^\/rest\/api\/[23]\/issue\//;
const isConflictingUpdate = (status: number, url: string): boolean => status === 409 && ISSUE_WRITE.test(url);

function codeFor(status: number, url: string): ErrorCode {
  if (status === 401) return 'CG_JIRA_AUTH_REJECTED';
  if (status === 410) return 'CG_JIRA_ENDPOINT_GONE';
  // A 429 reaches a mapper only as the cause of an exhausted retry.
  if (status === 429 || isConflictingUpdate(status, url)) return 'CG_UPSTREAM_UNAVAILABLE';
  if (status >= 400 && status < 500) return 'CG_JIRA_REQUEST_REJECTED';
  return 'CG_JIRA_BAD_RESPONSE';
}

const HINTS: Partial<Record<number, string>> = {
  401: 'check the instance credentials (API token, OAuth grant or PAT)',
  403: 'the API user lacks a permission (Browse projects, or Service Desk agent for approvals)',
  410: 'this Jira API was removed; changegate needs an update for it',
};

export function jiraError(instanceId: string, status: number, body: unknown, url: string): ChangegateError {
  const said = jiraErrorText(body);
  const hint = isConflictingUpdate(status, url) ? 'someone changed the issue at the same moment; changegate tries again later' : HINTS[status];
  return new ChangegateError(codeFor(status, url), `${instanceId}: Jira answered HTTP ${status} for ${url}${said ? ` (${said})` : ''}${hint ? `; ${hint}` : ''}`, {
    details: { instance: instanceId, url, status },
  });
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ChangegateError && err.code === 'CG_JIRA_REQUEST_REJECTED' && err.details['status'] === 404;
}

export function anonymousAnswer(instanceId: string, url: string, why: string): ChangegateError {
  return new ChangegateError(
    'CG_JIRA_AUTH_REJECTED',
    `${instanceId}: Jira answered ${url} as an anonymous user (${why}); the API token or PAT was revoked or has expired (Jira serves anonymous data instead of a 401); create a new one and update the instance's auth`,
    { details: { instance: instanceId, url } },
  );
}

/** Low-cardinality path for metrics: issue keys, ids and project keys become placeholders. */
export function pathTemplate(path: string): string {
  return path
    .replace(/\/(issue|request)\/[^/?]+/, '/$1/{issueIdOrKey}')
    .replace(/\/project\/[^/?]+/, '/project/{projectIdOrKey}')
    .replace(/\?.*$/, '');
}

function isJson(res: HttpResult): boolean {
  const type = res.headers['content-type'] ?? '';
  return res.data !== undefined && (type === '' || /json/i.test(type));
}

export function createJiraHttp(instance: JiraHttpInstance, deps: JiraHttpDeps): JiraHttp {
  const auth = deps.auth ?? createJiraAuth(instance, { logger: deps.logger });
  const http: HttpClient = createHttpClient({
    baseURL: auth.apiBaseUrl,
    timeoutMs: instance.timeout,
    retry: retryPolicyFor(instance.retries, deps.retry),
    instanceId: instance.id,
    logger: deps.logger,
    auth: auth.provider,
    maxRequestsPerSecond: instance.maxRequestsPerSecond,
    errorFor: (status, body, url) => jiraError(instance.id, status, body, url),
    ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
  });

  return {
    instanceId: instance.id,
    async request(req, ctx) {
      let res: HttpResult;
      try {
        res = await http.request({ pathTemplate: pathTemplate(req.path), ...req, acceptStatuses: INSPECTED_REJECTIONS, ...(ctx.signal ? { signal: ctx.signal } : {}) });
      } catch (err) {
        // The budget still counts the attempts of a call that failed.
        const attempts = err instanceof ChangegateError && typeof err.details['attempts'] === 'number' ? err.details['attempts'] : 1;
        ctx.calls += attempts;
        throw err;
      }
      ctx.calls += res.attempts;
      const login = res.headers['x-seraph-loginreason'];
      if (login !== undefined && REFUSED_LOGIN.test(login)) throw anonymousAnswer(instance.id, req.path, `X-Seraph-LoginReason: ${login}`);
      if (res.status >= 400) throw jiraError(instance.id, res.status, res.data ?? res.text, req.path);
      if (res.status === 204 || res.text.trim() === '') return undefined;
      if (!isJson(res)) {
        throw new ChangegateError('CG_JIRA_BAD_RESPONSE', `${instance.id}: Jira answered ${req.path} with a body that is not JSON (${res.headers['content-type'] ?? 'no content type'}); is baseUrl the Jira site?`, {
          details: { instance: instance.id, url: req.path, status: res.status, contentType: res.headers['content-type'] ?? null },
        });
      }
      return res.data;
    },
  };
}
