// The msw handlers: a gate that logs every request and serves injected faults,
// the OAuth token endpoint, the Table API behind auth and rate limiting, and a
// catch-all that answers unknown URIs the way the instance does.

import { http, type RequestHandler } from 'msw';
import type { AttachmentApi } from './attachment-api.ts';
import type { SimAuth } from './sim-auth.ts';
import type { SimFaults } from './sim-faults.ts';
import type { SimRateLimit } from './sim-rate-limit.ts';
import { errorResponse, notAuthenticated, rateLimited, unknownResource } from './sim-responses.ts';
import type { TableApi } from './table-api.ts';

export interface LoggedRequest {
  method: string;
  /** Path relative to the instance, e.g. `/api/now/table/change_request`. */
  path: string;
  query: Record<string, string>;
  at: Date;
}

export interface HandlerHost {
  /** The path under the instance URL, or undefined for a request to another host. */
  relativePath(url: URL): string | undefined;
  readonly faults: SimFaults;
  readonly auth: SimAuth;
  rateLimit(): SimRateLimit | undefined;
  readonly tableApi: TableApi;
  readonly attachmentApi: AttachmentApi;
  now(): Date;
  log(entry: LoggedRequest): void;
}

const TABLE_COLLECTION = /^\/api\/now(?:\/(v1|v2))?\/table\/([A-Za-z0-9_]+)\/?$/;
const TABLE_RECORD = /^\/api\/now(?:\/(v1|v2))?\/table\/([A-Za-z0-9_]+)\/([^/]+)\/?$/;
const OAUTH_TOKEN = /^\/oauth_token\.do$/;
const ATTACHMENT_FILE = /^\/api\/now(?:\/v1)?\/attachment\/file\/?$/;
const ATTACHMENT_LIST = /^\/api\/now(?:\/v1)?\/attachment\/?$/;
const ATTACHMENT_RECORD = /^\/api\/now(?:\/v1)?\/attachment\/([0-9a-f]{32})(\/file)?\/?$/;

type Resolver = (request: Request, url: URL, match: RegExpExecArray, method: string) => Response | Promise<Response>;

function methodOf(request: Request): string {
  return (request.headers.get('x-http-method-override') ?? request.method).toUpperCase();
}

function methodNotAllowed(method: string): Response {
  return errorResponse(405, 'Method not Supported', `${method} is not supported by this resource`);
}

export function buildHandlers(host: HandlerHost): RequestHandler[] {
  const under = (pattern: RegExp | undefined) => ({ request }: { request: Request }) => {
    const path = host.relativePath(new URL(request.url));
    return path !== undefined && (pattern === undefined || pattern.test(path));
  };

  const route = (pattern: RegExp, resolve: Resolver): RequestHandler =>
    http.all(under(pattern), ({ request }) => {
      const url = new URL(request.url);
      const match = pattern.exec(host.relativePath(url) ?? '') as RegExpExecArray;
      return resolve(request, url, match, methodOf(request));
    });

  /** Authentication, then the rate-limit rule, whose headers go on every response it covers. */
  const guarded = async (request: Request, work: (user: string) => Response | Promise<Response>): Promise<Response> => {
    const user = host.auth.authenticate(request);
    if (!user) return notAuthenticated();
    const limiter = host.rateLimit();
    const decision = limiter?.check();
    if (limiter && decision && !decision.allowed) return rateLimited(limiter.options.limit, limiter.options.windowSec, decision.headers);
    const response = await work(user);
    for (const [k, v] of Object.entries(decision?.headers ?? {})) response.headers.set(k, v);
    return response;
  };

  const gate = http.all(under(undefined), async ({ request }) => {
    const url = new URL(request.url);
    const path = host.relativePath(url) ?? url.pathname;
    host.log({ method: methodOf(request), path, query: Object.fromEntries(url.searchParams), at: host.now() });
    const fault = host.faults.take(methodOf(request), path);
    // Returning undefined hands the request on to the next handler.
    return fault ? host.faults.respond(fault) : undefined;
  });

  const oauth = route(OAUTH_TOKEN, (request, _url, _m, method) =>
    method === 'POST' ? host.auth.tokenEndpoint(request) : methodNotAllowed(method),
  );

  const collection = route(TABLE_COLLECTION, (request, url, m, method) =>
    guarded(request, (user) => {
      const [, version, table = ''] = m;
      if (method === 'GET') return host.tableApi.list(url, version, table);
      if (method === 'POST') return host.tableApi.create(request, url, table, user);
      return methodNotAllowed(method);
    }),
  );

  const record = route(TABLE_RECORD, (request, url, m, method) =>
    guarded(request, (user) => {
      const [, , table = '', sysId = ''] = m;
      if (method === 'GET') return host.tableApi.read(url, table, sysId);
      if (method === 'PATCH' || method === 'PUT') return host.tableApi.update(request, url, table, sysId, user);
      if (method === 'DELETE') return host.tableApi.remove(table, sysId);
      return methodNotAllowed(method);
    }),
  );

  const attachmentUpload = route(ATTACHMENT_FILE, (request, url, _m, method) =>
    guarded(request, (user) => (method === 'POST' ? host.attachmentApi.upload(request, url, user) : methodNotAllowed(method))),
  );

  const attachmentList = route(ATTACHMENT_LIST, (request, url, _m, method) =>
    guarded(request, () => (method === 'GET' ? host.attachmentApi.list(url) : methodNotAllowed(method))),
  );

  const attachmentRecord = route(ATTACHMENT_RECORD, (request, _url, m, method) =>
    guarded(request, () => {
      const [, sysId = '', file] = m;
      if (method !== 'GET') return methodNotAllowed(method);
      return file === undefined ? host.attachmentApi.metadata(sysId) : host.attachmentApi.file(sysId);
    }),
  );

  const catchAll = http.all(under(undefined), ({ request }) => guarded(request, () => unknownResource()));

  return [gate, oauth, collection, record, attachmentUpload, attachmentList, attachmentRecord, catchAll];
}
