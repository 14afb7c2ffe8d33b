// The contract between the simulator core and its route tables, plus Jira's
// response conventions: platform errors are `{errorMessages, errors}`, JSM
// errors are `{errorMessage, i18nErrorMessage}`.

import { HttpResponse } from 'msw';
import type { Workflow } from './change-workflow.ts';
import type { FieldCatalog } from './field-catalog.ts';
import type { IssueStore } from './issue-store.ts';
import type { RenderContext } from './issue-renderer.ts';
import type { JqlEnv } from './jql-eval.ts';
import type { Flavor, SimIssue, SimProject, SimUser } from './sim-types.ts';
import type { UserDirectory } from './user-directory.ts';

export interface SimContext {
  flavor: Flavor;
  baseUrl: string;
  timeZone: string;
  now(): number;
  store: IssueStore;
  catalog: FieldCatalog;
  workflow: Workflow;
  users: UserDirectory;
  projects: SimProject[];
  /** Largest file an upload may carry, in bytes (`GET /attachment/meta` → `uploadLimit`). */
  attachmentUploadLimit: number;
  /** Most comments one `POST /comment/list` answers (its `maxResults`). */
  commentListMaxResults: number;
  render(api: '2' | '3'): RenderContext;
  jqlEnv(user: SimUser | null): JqlEnv;
}

export interface RouteRequest {
  request: Request;
  url: URL;
  /** Path below the base URL. */
  path: string;
  params: Record<string, string>;
  /** REST API version of this call; JSM routes get the flavour's native one. */
  api: '2' | '3';
  /** Null for an anonymous (or revoked-token) caller on an anonymous-capable route. */
  user: SimUser | null;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Segments; `:name` captures, `:v` must be an API version the flavour serves. */
  pattern: string;
  flavors?: Flavor[];
  /** Answers anonymous callers itself (with what an anonymous user may see). */
  anonymous?: boolean;
  /** JSM error body style. */
  jsm?: boolean;
  handle(sim: SimContext, r: RouteRequest): Response | Promise<Response>;
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return HttpResponse.json(body as never, { status, headers });
}

export function jiraError(status: number, errorMessages: string[], errors: Record<string, string> = {}, headers: Record<string, string> = {}): Response {
  return json({ errorMessages, errors }, status, headers);
}

export function jsmError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json({ errorMessage: message, i18nErrorMessage: { i18nKey: 'sd.simulator.error', parameters: [] } }, status, headers);
}

export function noContent(status = 204): Response {
  return new HttpResponse(null, { status });
}

export const ISSUE_NOT_FOUND = 'Issue does not exist or you do not have permission to see it.';

/** Finds the issue named in the path, or the 404 Jira answers (also what an anonymous caller gets). */
export function issueOr404(sim: SimContext, r: RouteRequest, jsm = false): SimIssue | Response {
  const issue = r.user ? sim.store.find(r.params.key ?? '') : undefined;
  if (issue) return issue;
  return jsm ? jsmError(404, ISSUE_NOT_FOUND) : jiraError(404, [ISSUE_NOT_FOUND]);
}

/** Values of a query parameter given as a comma list, repeated, or both. */
export function listParam(url: URL, name: string): string[] {
  return url.searchParams.getAll(name).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
}

export function intParam(url: URL, name: string, fallback: number): number {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  return Number.isInteger(n) ? n : Number.NaN;
}

export async function readJson(request: Request): Promise<Record<string, unknown> | Response> {
  const text = await request.text();
  if (text.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to Jira's wording
  }
  return jiraError(400, ['Unexpected character in the request body: it is not valid JSON.']);
}

export function matchPattern(pattern: string, path: string, versions: string[]): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    const val = decodeURIComponent(s[i] as string);
    if (seg === ':v') {
      if (!versions.includes(val)) return null;
      params.v = val;
    } else if (seg.startsWith(':')) {
      if (val === '') return null;
      params[seg.slice(1)] = val;
    } else if (seg !== val) return null;
  }
  return params;
}
