// Table API reads for one ServiceNow instance. Knows the envelope
// (`{"result": ...}`), the pagination headers and ServiceNow's failure shapes;
// knows nothing of change requests.

import { ChangegateError, type ErrorCode } from '../../src/errors.ts';
import { createHttpClient, retryPolicyFor, type AuthProvider, type HttpClient, type HttpResult, type RequestInfo } from '../../src/http/http-client.ts';
import type { ServiceNowInstance } from './servicenow-config.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { RetryPolicy } from '../../src/http/retry-classifier.ts';
import { createServiceNowAuth } from './servicenow-auth.ts';

export type TableParams = Record<string, string | number | boolean>;

export interface TablePage {
  records: unknown[];
  /** `X-Total-Count`: rows the query matched before paging; null when absent. */
  total: number | null;
  /** Link rel="next", else offset + limit < total. */
  hasNext: boolean;
  /** HTTP requests this page cost, retries included. */
  apiCalls: number;
}

export interface TableRecord {
  /** Null when ServiceNow answered 404 (missing, or hidden by an ACL). */
  record: Record<string, unknown> | null;
  apiCalls: number;
}

export interface ServiceNowClient {
  readonly instanceId: string;
  readonly baseUrl: string;
  getTable(table: string, params: TableParams, signal?: AbortSignal): Promise<TablePage>;
  getRecord(table: string, sysId: string, params: TableParams, signal?: AbortSignal): Promise<TableRecord>;
  /** PATCH one record (business rules run; a journal field appends). Null record when ServiceNow answered 404. */
  patchRecord(table: string, sysId: string, fields: Record<string, string>, params?: TableParams, signal?: AbortSignal): Promise<TableRecord>;
  /** Attachment metadata (sys_attachment) matching an encoded query, e.g. `table_sys_id=<id>^file_name=<name>`. */
  listAttachments(query: string, params?: TableParams, signal?: AbortSignal): Promise<TablePage>;
  /** Uploads one file to a record through the Attachment API. Null record when ServiceNow answered 404 (the record is gone or hidden). */
  uploadAttachment(table: string, sysId: string, file: { name: string; contentType: string; data: Buffer }, signal?: AbortSignal): Promise<TableRecord>;
}

export type ServiceNowClientInstance = Pick<ServiceNowInstance, 'id' | 'baseUrl' | 'auth' | 'timeout' | 'retries' | 'maxRequestsPerSecond'>;

export interface ServiceNowClientDeps {
  logger: Logger;
  onRequest?: (info: RequestInfo) => void;
  /** Defaults to one built from `instance.auth`. */
  auth?: AuthProvider;
  /** Overrides of the retry policy (tests shorten the backoff). */
  retry?: Partial<RetryPolicy>;
}

export const TABLE_PATH = '/api/now/table';
export const ATTACHMENT_PATH = '/api/now/attachment';

/** ServiceNow's error body: `{"error":{"message","detail"},"status":"failure"}`. */
export function serviceNowErrorBody(body: unknown): { message: string | null; detail: string | null } | null {
  if (typeof body !== 'object' || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const { message, detail } = error as { message?: unknown; detail?: unknown };
  return { message: typeof message === 'string' ? message : null, detail: typeof detail === 'string' ? detail : null };
}

function codeFor(status: number): ErrorCode {
  if (status === 401) return 'CG_SN_AUTH_REJECTED';
  if (status === 403) return 'CG_SN_FORBIDDEN';
  // A 429 reaches a mapper only as the cause of an exhausted retry.
  if (status === 429) return 'CG_UPSTREAM_UNAVAILABLE';
  if (status >= 400 && status < 500) return 'CG_SN_REQUEST_REJECTED';
  return 'CG_SN_BAD_RESPONSE';
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  CG_SN_AUTH_REJECTED: 'check the instance credentials',
  CG_SN_FORBIDDEN: 'the API user lacks a role or an ACL/business rule refused it',
};

export function serviceNowError(instanceId: string, status: number, body: unknown, url: string): ChangegateError {
  const code = codeFor(status);
  const sn = serviceNowErrorBody(body);
  const said = sn ? [sn.message, sn.detail].filter((v) => v !== null && v !== '').join(': ') : '';
  const hint = HINTS[code];
  return new ChangegateError(code, `${instanceId}: ServiceNow answered HTTP ${status} for ${url}${said ? ` (${said})` : ''}${hint ? `; ${hint}` : ''}`, {
    details: { instance: instanceId, url, status, error: sn },
  });
}

/** RFC 8288 Link header: does it name a rel="next" target? */
export function hasNextLink(link: string): boolean {
  return link.split(/,(?=\s*<)/).some((part) => {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(part);
    return (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).includes('next');
  });
}

function isHtml(res: HttpResult): boolean {
  const type = res.headers['content-type'] ?? '';
  return /text\/html|application\/xhtml/i.test(type) || (type === '' && /^\s*<(!doctype|html)/i.test(res.text));
}

export function createServiceNowClient(instance: ServiceNowClientInstance, deps: ServiceNowClientDeps): ServiceNowClient {
  const auth = deps.auth ?? createServiceNowAuth(instance, { logger: deps.logger, ...optional(deps) });
  const http: HttpClient = createHttpClient({
    baseURL: instance.baseUrl,
    timeoutMs: instance.timeout,
    retry: retryPolicyFor(instance.retries, deps.retry),
    instanceId: instance.id,
    logger: deps.logger,
    auth,
    maxRequestsPerSecond: instance.maxRequestsPerSecond,
    errorFor: (status, body, url) => serviceNowError(instance.id, status, body, url),
    ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
  });

  function badResponse(res: HttpResult, path: string, why: string): ChangegateError {
    return new ChangegateError('CG_SN_BAD_RESPONSE', `${instance.id}: ServiceNow answered ${path} with ${why}`, {
      details: { instance: instance.id, url: path, status: res.status, contentType: res.headers['content-type'] ?? null },
    });
  }

  /** The `result` of a 2xx, after ruling out the login page and a broken envelope. */
  function envelope(res: HttpResult, path: string): unknown {
    if (isHtml(res)) {
      throw new ChangegateError(
        'CG_SN_LOGIN_PAGE',
        `${instance.id}: ServiceNow answered ${path} with an HTML page instead of JSON (an expired session or SSO login page); check that the API user can call the REST API without an interactive login`,
        { details: { instance: instance.id, url: path, status: res.status, contentType: res.headers['content-type'] ?? null } },
      );
    }
    if (res.data === undefined) throw badResponse(res, path, 'a body that is not JSON');
    // A before business rule's abort (setAbortAction) is documented as a 403 but not confirmed (reference §1.6):
    // its failure envelope under a 2xx is the same refusal, and the same write would be refused again.
    const refused = typeof res.data === 'object' && res.data !== null && (res.data as { status?: unknown }).status === 'failure' ? serviceNowErrorBody(res.data) : null;
    if (refused !== null) {
      const said = [refused.message, refused.detail].filter((v) => v !== null && v !== '').join(': ');
      throw new ChangegateError('CG_SN_FORBIDDEN', `${instance.id}: ServiceNow answered HTTP ${res.status} for ${path} with a failure${said ? ` (${said})` : ''}; ${HINTS.CG_SN_FORBIDDEN}`, {
        details: { instance: instance.id, url: path, status: res.status, error: refused },
      });
    }
    if (typeof res.data !== 'object' || res.data === null || !('result' in res.data)) throw badResponse(res, path, 'JSON without the "result" envelope');
    return (res.data as { result: unknown }).result;
  }

  /** One record's `result` (a GET, PATCH or upload of one record). */
  function oneRecord(res: HttpResult, path: string): Record<string, unknown> {
    const result = envelope(res, path);
    if (typeof result !== 'object' || result === null || Array.isArray(result)) throw badResponse(res, path, 'a "result" that is not one record');
    return result as Record<string, unknown>;
  }

  /** A list's `result` and whether another page follows (Link header, else X-Total-Count, else a full page). */
  function listPage(res: HttpResult, path: string, params: Record<string, string | number | boolean | undefined>): { records: unknown[]; total: number | null; hasNext: boolean } {
    const result = envelope(res, path);
    if (!Array.isArray(result)) throw badResponse(res, path, 'a "result" that is not a list');
    const totalHeader = res.headers['x-total-count'];
    const total = totalHeader !== undefined && /^\d+$/.test(totalHeader.trim()) ? Number(totalHeader) : null;
    const offset = Number(params['sysparm_offset'] ?? 0);
    const limit = Number(params['sysparm_limit'] ?? 10_000);
    const link = res.headers['link'];
    let hasNext: boolean;
    if (link !== undefined && link !== '') hasNext = hasNextLink(link);
    else if (total !== null) hasNext = offset + limit < total;
    // No paging headers at all (sysparm_suppress_pagination_header): a full page may have a successor.
    else hasNext = result.length >= limit;
    return { records: result, total, hasNext };
  }

  return {
    instanceId: instance.id,
    baseUrl: instance.baseUrl,

    async getTable(table, params, signal) {
      const path = `${TABLE_PATH}/${encodeURIComponent(table)}`;
      const res = await http.request({ path, pathTemplate: `${TABLE_PATH}/${table}`, params, ...(signal ? { signal } : {}) });
      return { ...listPage(res, path, params), apiCalls: res.attempts };
    },

    async getRecord(table, sysId, params, signal) {
      const path = `${TABLE_PATH}/${encodeURIComponent(table)}/${encodeURIComponent(sysId)}`;
      const res = await http.request({ path, pathTemplate: `${TABLE_PATH}/${table}/{sys_id}`, params, acceptStatuses: [404], ...(signal ? { signal } : {}) });
      if (res.status === 404) return { record: null, apiCalls: res.attempts };
      return { record: oneRecord(res, path), apiCalls: res.attempts };
    },

    async patchRecord(table, sysId, fields, params = {}, signal) {
      const path = `${TABLE_PATH}/${encodeURIComponent(table)}/${encodeURIComponent(sysId)}`;
      const res = await http.request({
        method: 'PATCH',
        path,
        pathTemplate: `${TABLE_PATH}/${table}/{sys_id}`,
        params,
        json: fields,
        acceptStatuses: [404],
        ...(signal ? { signal } : {}),
      });
      if (res.status === 404) return { record: null, apiCalls: res.attempts };
      return { record: oneRecord(res, path), apiCalls: res.attempts };
    },

    async listAttachments(query, params = {}, signal) {
      const res = await http.request({ path: ATTACHMENT_PATH, params: { ...params, sysparm_query: query }, ...(signal ? { signal } : {}) });
      return { ...listPage(res, ATTACHMENT_PATH, params), apiCalls: res.attempts };
    },

    async uploadAttachment(table, sysId, file, signal) {
      const path = `${ATTACHMENT_PATH}/file`;
      const res = await http.request({
        method: 'POST',
        path,
        params: { table_name: table, table_sys_id: sysId, file_name: file.name },
        raw: { data: file.data, contentType: file.contentType },
        acceptStatuses: [404],
        ...(signal ? { signal } : {}),
      });
      if (res.status === 404) return { record: null, apiCalls: res.attempts };
      return { record: oneRecord(res, path), apiCalls: res.attempts };
    },
  };
}

function optional(deps: ServiceNowClientDeps): { onRequest?: (info: RequestInfo) => void; retry?: Partial<RetryPolicy> } {
  return { ...(deps.onRequest ? { onRequest: deps.onRequest } : {}), ...(deps.retry ? { retry: deps.retry } : {}) };
}
