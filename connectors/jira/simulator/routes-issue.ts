// Issue read/write: GET/PUT/POST issue, the changelog page, transitions.
// Served on /rest/api/3 (ADF) and /rest/api/2 (strings) on Cloud, /rest/api/2
// only on Data Center.

import type { FieldDef } from './field-catalog.ts';
import { ISSUE_TYPES } from './field-catalog.ts';
import { FieldErrors } from './issue-store.ts';
import { parseFieldSelection, renderHistory, renderIssue, renderTransition } from './issue-renderer.ts';
import { intParam, issueOr404, jiraError, json, listParam, noContent, readJson, type Route, type RouteRequest, type SimContext } from './sim-http.ts';
import type { SimIssue } from './sim-types.ts';
import { addCommentFromUpdate } from './routes-comments.ts';

function getIssue(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const view = { issue, state: issue.state };
  const body = renderIssue(view, sim.render(r.api), {
    fields: parseFieldSelection(listParam(r.url, 'fields'), '*all'),
    expand: new Set(listParam(r.url, 'expand')),
    properties: listParam(r.url, 'properties'),
    changelogCap: 100,
    commentCap: 5000,
  });
  if (listParam(r.url, 'expand').includes('transitions')) {
    body.transitions = sim.workflow.available(issue.state.fields.status as string).map((t) => renderTransition(t, sim.render(r.api), false));
  }
  return json(body);
}

/** `fields` plus the `update` verbs (set/add/remove) folded into one set of internal values. */
function collectEdits(sim: SimContext, r: RouteRequest, issue: SimIssue, body: Record<string, unknown>): Map<FieldDef, unknown> {
  const fields = (body.fields ?? {}) as Record<string, unknown>;
  const update = (body.update ?? {}) as Record<string, unknown>;
  const input: Record<string, unknown> = { ...fields };
  const errors: Record<string, string> = {};
  for (const [id, ops] of Object.entries(update)) {
    if (id === 'comment') continue;
    if (id in fields) {
      errors[id] = `Field '${id}' cannot be set in both 'fields' and 'update'.`;
      continue;
    }
    let current = issue.state.fields[id];
    for (const op of Array.isArray(ops) ? (ops as Record<string, unknown>[]) : []) {
      if ('set' in op) current = op.set;
      else if ('add' in op && Array.isArray(current)) current = [...current, op.add];
      else if ('remove' in op && Array.isArray(current)) current = current.filter((x) => JSON.stringify(x) !== JSON.stringify(op.remove));
      else if ('add' in op) current = [op.add];
    }
    input[id] = current;
  }
  if (Object.keys(errors).length > 0) throw new FieldErrors(errors);
  return sim.store.coerce(input, sim.store.coerceContext('rest', r.api));
}

async function editIssue(sim: SimContext, r: RouteRequest): Promise<Response> {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const body = await readJson(r.request);
  if (body instanceof Response) return body;
  const actorId = (r.user as NonNullable<typeof r.user>).accountId;
  const values = collectEdits(sim, r, issue, body);
  sim.store.edit(issue, values, { actorId });
  addCommentFromUpdate(sim, r, issue, body, actorId);
  if (r.url.searchParams.get('returnIssue') === 'true') return getIssue(sim, r);
  return noContent();
}

async function createIssue(sim: SimContext, r: RouteRequest): Promise<Response> {
  const body = await readJson(r.request);
  if (body instanceof Response) return body;
  const { project, issuetype, ...rest } = (body.fields ?? {}) as Record<string, unknown>;
  const p = project as { key?: string; id?: string } | undefined;
  const t = issuetype as { name?: string; id?: string } | undefined;
  const type = ISSUE_TYPES.find((x) => x.id === t?.id || x.name === t?.name);
  const errors: Record<string, string> = {};
  if (!p?.key && !p?.id) errors.project = 'Specify a valid project ID or key';
  if (!type) errors.issuetype = 'Specify an issue type';
  if (Object.keys(errors).length > 0) return jiraError(400, [], errors);
  const values = sim.store.coerce(rest, sim.store.coerceContext('rest', r.api));
  if (type) values.set(sim.catalog.get('issuetype') as FieldDef, type.id);
  const issue = sim.store.create(p?.key ?? p?.id ?? '', values, { actorId: (r.user as NonNullable<typeof r.user>).accountId });
  return json({ id: issue.id, key: issue.key, self: `${sim.baseUrl}/rest/api/${r.api}/issue/${issue.id}` }, 201);
}

function getChangelog(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const startAt = intParam(r.url, 'startAt', 0);
  const maxResults = Math.min(intParam(r.url, 'maxResults', 100), 100);
  if (!Number.isInteger(startAt) || startAt < 0 || !Number.isInteger(maxResults) || maxResults < 0) return jiraError(400, ['startAt and maxResults must be non-negative integers.']);
  const ctx = sim.render(r.api);
  const values = issue.histories.slice(startAt, startAt + maxResults).map((h) => renderHistory(h, ctx));
  const total = issue.histories.length;
  const base = `${sim.baseUrl}/rest/api/${r.api}/issue/${issue.key}/changelog`;
  const page: Record<string, unknown> = { self: `${base}?startAt=${startAt}&maxResults=${maxResults}`, maxResults, startAt, total, isLast: startAt + values.length >= total, values };
  if (!page.isLast) page.nextPage = `${base}?startAt=${startAt + values.length}&maxResults=${maxResults}`;
  return json(page);
}

function getTransitions(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const only = r.url.searchParams.get('transitionId');
  const withFields = listParam(r.url, 'expand').includes('transitions.fields');
  const withUnavailable = r.url.searchParams.get('includeUnavailableTransitions') === 'true';
  const list = sim.workflow.available(issue.state.fields.status as string, withUnavailable).filter((t) => !only || t.id === only);
  return json({ expand: 'transitions', transitions: list.map((t) => renderTransition(t, sim.render(r.api), withFields)) });
}

async function doTransition(sim: SimContext, r: RouteRequest): Promise<Response> {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const body = await readJson(r.request);
  if (body instanceof Response) return body;
  const id = String((body.transition as { id?: unknown } | undefined)?.id ?? '');
  const t = sim.workflow.available(issue.state.fields.status as string).find((x) => x.id === id);
  if (!t) return jiraError(400, [`Transition id '${id}' is not valid for this issue.`]);
  const actorId = (r.user as NonNullable<typeof r.user>).accountId;
  const values = collectEdits(sim, r, issue, body);
  sim.store.edit(issue, values, { actorId });
  const to = sim.workflow.status(t.to);
  if (to) sim.store.moveTo(issue, to, { actorId });
  addCommentFromUpdate(sim, r, issue, body, actorId);
  return noContent();
}

export const issueRoutes: Route[] = [
  { method: 'POST', pattern: '/rest/api/:v/issue', handle: createIssue },
  { method: 'GET', pattern: '/rest/api/:v/issue/:key', anonymous: true, handle: getIssue },
  { method: 'PUT', pattern: '/rest/api/:v/issue/:key', handle: editIssue },
  { method: 'GET', pattern: '/rest/api/:v/issue/:key/changelog', handle: getChangelog },
  { method: 'GET', pattern: '/rest/api/:v/issue/:key/transitions', handle: getTransitions },
  { method: 'POST', pattern: '/rest/api/:v/issue/:key/transitions', handle: doTransition },
];
