// Jira Service Management endpoints: approvals (answering a decided approval
// is 409), the request's status history, and public/internal comments. JSM
// pages are `{start, limit, size, isLastPage, _links, values}` and JSM errors
// `{errorMessage, i18nErrorMessage}`.

import { textToAdf, adfToText } from './adf.ts';
import { jsmDate } from './jira-time.ts';
import { approvalDto, userDto } from './jsm-dto.ts';
import { intParam, issueOr404, json, jsmError, readJson, type Route, type RouteRequest, type SimContext } from './sim-http.ts';
import type { SimApproval, SimComment, SimIssue, SimUser } from './sim-types.ts';

function page(sim: SimContext, r: RouteRequest, values: unknown[], path: string): Record<string, unknown> {
  const start = Math.max(0, intParam(r.url, 'start', 0) || 0);
  const limit = Math.max(1, intParam(r.url, 'limit', 50) || 50);
  const slice = values.slice(start, start + limit);
  const base = `${sim.baseUrl}/rest/servicedeskapi`;
  const links: Record<string, string> = { base, context: '' };
  const isLastPage = start + slice.length >= values.length;
  if (!isLastPage) links.next = `${base}${path}?start=${start + limit}&limit=${limit}`;
  if (start > 0) links.prev = `${base}${path}?start=${Math.max(0, start - limit)}&limit=${limit}`;
  return { _expands: [], size: slice.length, start, limit, isLastPage, _links: links, values: slice };
}

function commentDto(sim: SimContext, issue: SimIssue, c: SimComment): Record<string, unknown> {
  return {
    id: c.id,
    body: adfToText(c.body),
    public: !c.internal,
    author: userDto(sim, sim.users.find(c.authorId)),
    created: jsmDate(c.created, sim.timeZone),
    _links: { self: `${sim.baseUrl}/rest/servicedeskapi/request/${issue.id}/comment/${c.id}` },
  };
}

function listApprovals(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r, true);
  if (issue instanceof Response) return issue;
  return json(page(sim, r, issue.approvals.map((a) => approvalDto(sim, issue, a, r.user)), `/request/${issue.key}/approval`));
}

function findApproval(issue: SimIssue, id: string | undefined): SimApproval | undefined {
  return issue.approvals.find((a) => a.id === id);
}

function getApproval(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r, true);
  if (issue instanceof Response) return issue;
  const a = findApproval(issue, r.params.id);
  return a ? json(approvalDto(sim, issue, a, r.user)) : jsmError(404, `The approval with ID ${r.params.id ?? ''} does not exist.`);
}

async function answerApproval(sim: SimContext, r: RouteRequest): Promise<Response> {
  const issue = issueOr404(sim, r, true);
  if (issue instanceof Response) return issue;
  const a = findApproval(issue, r.params.id);
  if (!a) return jsmError(404, `The approval with ID ${r.params.id ?? ''} does not exist.`);
  const body = await readJson(r.request);
  if (body instanceof Response) return jsmError(400, 'The request body is not valid JSON.');
  if (body.decision !== 'approve' && body.decision !== 'decline') return jsmError(400, "The decision must be 'approve' or 'decline'.");
  const caller = r.user as SimUser;
  if (a.finalDecision !== 'pending') return jsmError(409, 'This approval has already been completed.');
  const mine = a.approvers.find((x) => x.accountId === caller.accountId);
  if (!mine) return jsmError(403, 'You are not an approver of this request.');
  if (mine.decision !== 'pending') return jsmError(409, 'You have already answered this approval.');
  sim.store.decide(issue, a, caller.accountId, body.decision, { actorId: caller.accountId });
  return json(approvalDto(sim, issue, a, caller));
}

function statusHistory(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r, true);
  if (issue instanceof Response) return issue;
  const entries: { statusId: string; at: number }[] = [];
  let first: string | null = null;
  for (const h of issue.histories) {
    for (const it of h.items) {
      if (it.fieldId !== 'status') continue;
      first ??= it.from;
      entries.push({ statusId: it.to ?? '', at: h.created });
    }
  }
  entries.unshift({ statusId: first ?? (issue.state.fields.status as string), at: issue.created });
  const values = entries.toReversed().map((e) => {
    const s = sim.workflow.status(e.statusId);
    return { status: s?.name ?? e.statusId, statusCategory: s?.category === 'done' ? 'DONE' : s?.category === 'indeterminate' ? 'INDETERMINATE' : 'NEW', statusDate: jsmDate(e.at, sim.timeZone) };
  });
  return json(page(sim, r, values, `/request/${issue.key}/status`));
}

async function addRequestComment(sim: SimContext, r: RouteRequest): Promise<Response> {
  const issue = issueOr404(sim, r, true);
  if (issue instanceof Response) return issue;
  const body = await readJson(r.request);
  if (body instanceof Response || typeof body.body !== 'string' || body.body.trim() === '') return jsmError(400, 'The comment body must not be empty.');
  const isPublic = body.public !== false;
  const c = sim.store.comment(issue, textToAdf(body.body), !isPublic, { actorId: (r.user as SimUser).accountId });
  return json(commentDto(sim, issue, c), 201);
}

function listRequestComments(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r, true);
  if (issue instanceof Response) return issue;
  const internal = r.url.searchParams.get('internal') !== 'false';
  const pub = r.url.searchParams.get('public') !== 'false';
  const shown = issue.comments.filter((c) => (c.internal ? internal : pub));
  return json(page(sim, r, shown.map((c) => commentDto(sim, issue, c)), `/request/${issue.key}/comment`));
}

export const jsmRoutes: Route[] = [
  { method: 'GET', pattern: '/rest/servicedeskapi/request/:key/approval', jsm: true, handle: listApprovals },
  { method: 'GET', pattern: '/rest/servicedeskapi/request/:key/approval/:id', jsm: true, handle: getApproval },
  { method: 'POST', pattern: '/rest/servicedeskapi/request/:key/approval/:id', jsm: true, handle: answerApproval },
  { method: 'GET', pattern: '/rest/servicedeskapi/request/:key/status', jsm: true, handle: statusHistory },
  { method: 'GET', pattern: '/rest/servicedeskapi/request/:key/comment', jsm: true, handle: listRequestComments },
  { method: 'POST', pattern: '/rest/servicedeskapi/request/:key/comment', jsm: true, handle: addRequestComment },
];
