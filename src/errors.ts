// One error vocabulary. Every failure changegate reports carries a stable code
// from this table; callers branch on `code` or `kind`, never on the message.

/** Who must act: the operator (config), the remote system (upstream), nobody yet (transient), the caller (input), us (internal). */
export type ErrorKind = 'config' | 'upstream' | 'transient' | 'input' | 'internal';

/** `status` is the HTTP status an API answer carries for the code (src/server/http-errors.ts). */
export const ERROR_CODES = {
  CG_CONFIG_INVALID: { kind: 'config', status: 500, doc: 'The configuration file failed validation (the message names file, line and path) or could not be read (a directory, no permission: the message names the file).' },
  CG_CONFIG_NOT_FOUND: { kind: 'config', status: 500, doc: 'The configuration file named by --config or CHANGEGATE_CONFIG does not exist.' },
  CG_CONFIG_ENV_MISSING: { kind: 'config', status: 500, doc: 'A ${VAR} placeholder in the configuration names an unset environment variable.' },
  CG_MAPPING_INVALID: { kind: 'config', status: 500, doc: 'A mapping file failed validation; the message names file, line and path.' },
  CG_MAPPING_UNKNOWN_VALUE: { kind: 'config', status: 500, doc: 'A record carries a native value (state, type, level) the mapping file does not map; add it to the named file.' },
  CG_INSTANCE_UNKNOWN: { kind: 'input', status: 404, doc: 'No configured instance has the given id.' },
  CG_SN_AUTH_REJECTED: { kind: 'config', status: 500, doc: 'ServiceNow rejected the credentials (401 after one token refresh) for the named instance.' },
  CG_SN_FORBIDDEN: { kind: 'config', status: 500, doc: 'ServiceNow answered 403 (ACL or business rule), or a 2xx carrying its failure body (a business rule that aborted the write), for the named instance and URL.' },
  CG_SN_REQUEST_REJECTED: { kind: 'config', status: 500, doc: 'ServiceNow answered a 4xx other than 401/403/429 for the named instance and URL.' },
  CG_SN_LOGIN_PAGE: { kind: 'config', status: 500, doc: 'ServiceNow answered 200 with an HTML page (an expired session or SSO login page) instead of JSON.' },
  CG_SN_QUERY_TIME_ZONE: { kind: 'config', status: 500, doc: "ServiceNow reads dates in encoded queries in the API user's time zone, not UTC, so a sync could skip records; set that user's time zone to GMT." },
  CG_SN_BAD_RESPONSE: { kind: 'upstream', status: 502, doc: 'ServiceNow answered with a body that is not the documented JSON envelope.' },
  CG_SN_TOO_MANY_ROWS: { kind: 'config', status: 500, doc: 'A bounded ServiceNow read (the blackout and maintenance schedules, or the approvals or journal of one change re-fetched alone; 100 pages) still had rows after its last page; it is not used in part, so no freeze is silently left out and no change is mirrored or judged on a partial list. The message names the table and the schedules or the change.' },
  CG_SN_RECORD_INVALID: { kind: 'upstream', status: 502, doc: 'A ServiceNow record lacks a required field or carries a malformed value; it was skipped and counted.' },
  CG_OAUTH_TOKEN_FAILED: { kind: 'config', status: 500, doc: 'The OAuth token endpoint refused the client or user credentials.' },
  CG_UPSTREAM_UNAVAILABLE: { kind: 'transient', status: 503, doc: 'The remote system kept failing (5xx, 429, timeout, reset) after every retry, or Jira refused an issue write for a conflicting update (409); the outbox tries again later.' },
  CG_JIRA_AUTH_REJECTED: { kind: 'config', status: 500, doc: 'Jira rejected the credentials, or a revoked token returned anonymous data.' },
  CG_JIRA_REQUEST_REJECTED: { kind: 'config', status: 500, doc: 'Jira answered a 4xx other than 401/429 for the named instance and URL.' },
  CG_JIRA_ENDPOINT_GONE: { kind: 'config', status: 500, doc: 'Jira answered 410 Gone: the endpoint was removed (e.g. /rest/api/3/search).' },
  CG_JIRA_BAD_RESPONSE: { kind: 'upstream', status: 502, doc: 'Jira answered with a 5xx that is not retried, or a body that is not the documented JSON shape.' },
  CG_JIRA_RECORD_INVALID: { kind: 'upstream', status: 502, doc: 'A Jira issue, approval or comment lacks a required field or carries a malformed value; it was skipped and counted.' },
  CG_JIRA_FIELD_AMBIGUOUS: { kind: 'config', status: 500, doc: 'Several fields on the Jira site share the name a mapping gives; name the field by its id (customfield_NNNNN) in the mapping.' },
  CG_WEBHOOK_SIGNATURE_INVALID: { kind: 'input', status: 401, doc: 'A webhook delivery carried a signature that does not match its raw body.' },
  CG_WEBHOOK_SIGNATURE_MISSING: { kind: 'input', status: 401, doc: 'A webhook delivery carried no signature and the instance does not allow unsigned deliveries.' },
  CG_WEBHOOK_UNSUPPORTED: { kind: 'input', status: 404, doc: 'The instance exists but its connector takes no webhooks (answered 404); it is synced on its schedule only.' },
  CG_EVENT_INVALID: { kind: 'input', status: 422, doc: 'An event delivery was verified but its body cannot be used by its source (not JSON, or a required field missing or malformed); the message names the field. Nothing was stored.' },
  CG_EVENT_SOURCE_UNKNOWN: { kind: 'input', status: 404, doc: 'No event source with the given id is configured under events.sources (answered 404, so the sender stops retrying).' },
  CG_EVENT_PULL_REJECTED: { kind: 'config', status: 500, doc: 'A scheduled event pull (GitHub, Alertmanager, Prometheus) was refused: 401/403 (the token lacks a scope or was revoked), 404 (a repository or URL that does not exist), or a query Prometheus cannot run; the message names the source and URL.' },
  CG_EVENT_PULL_BAD_RESPONSE: { kind: 'upstream', status: 502, doc: 'A scheduled event pull got a body that is not the documented shape (GitHub runs or deployments list, Alertmanager /api/v2/alerts, a Prometheus vector); nothing was recorded from it.' },
  CG_RESULTS_TYPE_UNSUPPORTED: { kind: 'input', status: 415, doc: 'A results file was posted with a content type other than application/xml or text/xml (JUnit) and application/sarif+json or application/json (SARIF 2.1.0). Nothing was stored.' },
  CG_RESULTS_INVALID: { kind: 'input', status: 422, doc: 'A results file was verified but cannot be read as the format its content type names (XML not well-formed, no <testsuite>, not SARIF 2.1.0); the message names what is wrong. Nothing was stored.' },
  CG_GITHUB_REQUEST_REJECTED: { kind: 'config', status: 500, doc: 'GitHub answered a 4xx other than 429 while changegate read a workflow run\'s artifacts for the named event source (a token without actions:read, a repository it cannot see).' },
  CG_INPUT_INVALID: { kind: 'input', status: 400, doc: 'A request body, parameter or header failed validation; the message names the field. Answered 400, or 413 (body too large; the message and `details.limit` name the endpoint\'s limit in bytes), 415 (content type) or 431 (headers too large).' },
  CG_METHOD_NOT_ALLOWED: { kind: 'input', status: 405, doc: 'The path exists but not for this method; the Allow header lists the methods it takes.' },
  CG_NOT_FOUND: { kind: 'input', status: 404, doc: 'The requested change or resource does not exist in the mirror.' },
  CG_UNAUTHORIZED: { kind: 'input', status: 401, doc: 'An API request carried no bearer token, or one that is not in server.apiTokens (answered 401).' },
  CG_SYNC_BUSY: { kind: 'transient', status: 409, doc: 'A sync of the same instance is already running; this one was not started.' },
  CG_SHUTTING_DOWN: { kind: 'transient', status: 503, doc: 'The process is shutting down: a sync in progress stopped at once (what its pages stored stays stored, cursor included; the next run resumes there) and no new run starts.' },
  CG_LEASE_LOST: { kind: 'transient', status: 409, doc: 'This process does not hold the lease of the instance any more (it lapsed, a renewal failed, or another replica holds a newer one): its run stopped, and a write under the old fencing token was refused with nothing of it stored.' },
  CG_STORE_BUSY: { kind: 'transient', status: 503, doc: 'Another process held the store\'s write lock past the retry bound (2 s); nothing was stored. Answered 503 with Retry-After; /readyz says `locked` while it lasts.' },
  CG_STORE_UNAVAILABLE: { kind: 'config', status: 503, doc: 'The store cannot keep data: its file was deleted or replaced, a page is corrupt, or the disk is full (`details.reason`). Answered 503 with Retry-After; /readyz says why.' },
  CG_STORE_FAILED: { kind: 'internal', status: 500, doc: 'The store failed to read or write; nothing was acknowledged as stored.' },
  CG_STORE_TOO_NEW: { kind: 'config', status: 500, doc: 'The store file was written by a newer changegate (a higher schema version than this build knows); upgrade changegate or point store.path elsewhere.' },
  CG_POLICY_INVALID: { kind: 'config', status: 500, doc: 'A policy file failed validation; the message names file, line and rule.' },
  CG_WRITE_REFUSED: { kind: 'config', status: 500, doc: 'The ticket system refused a write-back it will refuse again (a business rule aborted it, the workflow offers no transition to the target status, an attachment is above its size limit, or ServiceNow answered a write but did not store the fields the message names: the verdict fields without the update set, or a field, the state of a move included, that a field ACL keeps the API user from writing); the outbox item is parked as failed.' },
  CG_WRITE_BACK_OFF: { kind: 'config', status: 500, doc: 'An outbox item queued while its instance had writeBack on, worked by a process where it is off: not written to the ticket (nothing is, with writeBack off) but parked as failed, naming the change.' },
  CG_TRANSITION_BLOCKED: { kind: 'input', status: 400, doc: 'The requested transition is not allowed by the lifecycle or a gate failed.' },
  CG_INTERNAL: { kind: 'internal', status: 500, doc: 'An unexpected failure; a bug in changegate.' },
} as const satisfies Record<string, { kind: ErrorKind; status: number; doc: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ChangegateErrorOptions {
  cause?: unknown;
  /** Facts a reader needs to act: instance, url, record, file, line, path. Never secrets. */
  details?: Record<string, unknown>;
}

export class ChangegateError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ChangegateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChangegateError';
    this.code = code;
    this.kind = ERROR_CODES[code].kind;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; kind: ErrorKind; message: string; details: Record<string, unknown> } {
    return { code: this.code, kind: this.kind, message: this.message, details: this.details };
  }
}

export function isChangegateError(err: unknown, code?: ErrorCode): err is ChangegateError {
  return err instanceof ChangegateError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into the vocabulary, keeping the original as `cause`. */
export function asChangegateError(err: unknown): ChangegateError {
  if (err instanceof ChangegateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ChangegateError('CG_INTERNAL', message, { cause: err });
}
