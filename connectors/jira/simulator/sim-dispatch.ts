// One request through the simulated site, in the order a real edge applies
// them: injected faults, authentication (with the revoked-token trap), route
// lookup, the handler, and Jira-shaped errors for whatever goes wrong.

import { delay, HttpResponse } from 'msw';
import type { FaultInjector, SimFault } from './fault-injector.ts';
import { FieldErrors } from './issue-store.ts';
import { JqlError } from './jql-parser.ts';
import type { AuthResult } from './sim-auth.ts';
import { jiraError, jsmError, matchPattern, type Route, type SimContext } from './sim-http.ts';
import type { RequestRecord } from './sim-types.ts';

export interface DispatchDeps {
  sim: SimContext;
  routes: Route[];
  faults: FaultInjector;
  basePath: string;
  authenticate(header: string | null): AuthResult;
  log(record: RequestRecord): void;
}

const SERAPH = 'X-Seraph-LoginReason';

function faultResponse(fault: Exclude<SimFault, { kind: 'delay' }>, now: number): Response {
  switch (fault.kind) {
    case 'reset':
      return HttpResponse.error();
    case 'rate-limit': {
      const headers: Record<string, string> = {
        'Retry-After': String(fault.retryAfterSec ?? 1),
        'X-RateLimit-Limit': '350',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': new Date(now + (fault.retryAfterSec ?? 1) * 1000).toISOString().slice(0, 16) + 'Z',
      };
      if (fault.reason) headers['RateLimit-Reason'] = fault.reason;
      return jiraError(429, ['Rate limit exceeded.'], {}, headers);
    }
    case 'server-error': {
      const headers: Record<string, string> = fault.retryAfterSec === undefined ? {} : { 'Retry-After': String(fault.retryAfterSec) };
      const status = fault.status ?? 500;
      return jiraError(status, [status === 500 ? 'Internal server error' : 'Service unavailable, please try again later.'], {}, headers);
    }
  }
}

function unauthorized(route: Route | undefined, auth: AuthResult): Response {
  const headers: Record<string, string> = { 'WWW-Authenticate': 'Basic realm="protected-area"' };
  if (auth.kind === 'revoked' || auth.kind === 'rejected') headers[SERAPH] = 'AUTHENTICATED_FAILED';
  const message = auth.kind === 'anonymous' ? 'You are not authenticated. Authentication required to perform this operation.' : 'Client must be authenticated to access this resource.';
  return route?.jsm ? jsmError(401, message, headers) : jiraError(401, [message], {}, headers);
}

function withHeader(res: Response, name: string, value: string): Response {
  const headers = new Headers(res.headers);
  headers.set(name, value);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

function findRoute(deps: DispatchDeps, method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
  const versions = deps.sim.flavor === 'cloud' ? ['2', '3'] : ['2'];
  let pathMatched = false;
  for (const route of deps.routes) {
    if (route.flavors && !route.flavors.includes(deps.sim.flavor)) continue;
    const params = matchPattern(route.pattern, path, versions);
    if (!params) continue;
    if (route.method === method) return { route, params };
    pathMatched = true;
  }
  return pathMatched ? 'method' : undefined;
}

export async function dispatch(deps: DispatchDeps, request: Request): Promise<Response> {
  const { sim } = deps;
  const url = new URL(request.url);
  const path = url.pathname.slice(deps.basePath.length) || '/';
  const method = request.method.toUpperCase();
  const record: RequestRecord = { at: sim.now(), method, path, query: url.search, status: 0, auth: '' };
  const done = (res: Response): Response => {
    record.status = res.type === 'error' ? 0 : res.status;
    deps.log(record);
    return res;
  };
  const fault = deps.faults.take(method, path);
  if (fault) {
    record.fault = fault.kind;
    if (fault.kind === 'delay') await delay(fault.ms);
    else return done(faultResponse(fault, sim.now()));
  }
  const auth = deps.authenticate(request.headers.get('authorization'));
  record.auth = auth.label;
  const found = findRoute(deps, method, path);
  if (found === undefined) return done(jiraError(404, [`null for uri: ${request.url}`]));
  if (found === 'method') return done(jiraError(405, [`Method ${method} is not allowed for ${path}.`]));
  const { route, params } = found;
  if (auth.kind !== 'ok' && (auth.kind === 'rejected' || !route.anonymous)) return done(unauthorized(route, auth));
  const user = auth.kind === 'ok' ? auth.user : null;
  const api: '2' | '3' = params.v === '3' ? '3' : '2';
  let res: Response;
  try {
    res = await route.handle(sim, { request, url, path, params, api: route.jsm && sim.flavor === 'cloud' ? '3' : api, user });
  } catch (err) {
    if (err instanceof FieldErrors) res = route.jsm ? jsmError(400, err.message) : jiraError(400, [], err.errors);
    else if (err instanceof JqlError) res = jiraError(400, [err.message]);
    else res = route.jsm ? jsmError(500, String(err)) : jiraError(500, [`Internal server error: ${String(err)}`]);
  }
  // The trap: a dead token on an anonymous-capable endpoint still gets 200, only this header tells.
  if (auth.kind === 'revoked') res = withHeader(res, SERAPH, 'AUTHENTICATED_FAILED');
  return done(res);
}
