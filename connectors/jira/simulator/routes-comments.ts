// Comments (ADF on v3, strings on v2), issue properties (≤ 32768 chars of
// JSON: the home for machine-readable verdicts) and attachments (multipart,
// refused without `X-Atlassian-Token: no-check`).

import { isAdfDoc, textToAdf } from './adf.ts';
import { renderAttachment, renderComment } from './issue-renderer.ts';
import { intParam, issueOr404, jiraError, json, listParam, noContent, readJson, type Route, type RouteRequest, type SimContext } from './sim-http.ts';
import type { AdfDoc, SimComment, SimIssue } from './sim-types.ts';

const PROPERTY_MAX = 32768;
/**
 * Jira refuses a comment body longer than this. Whether a v3 body counts its
 * serialised ADF or only its text is [UNVERIFIED] (reference §6): the
 * simulator counts the stricter, the ADF as JSON.
 */
const COMMENT_MAX = 32767;
const COMMENT_TOO_LONG = `The entered text is too long. It exceeds the allowed limit of ${COMMENT_MAX.toLocaleString('en-US')} characters.`;
/** "more than 60 files are requested to be uploaded" answers 413 (addAttachment in the platform spec). */
const MAX_FILES_PER_UPLOAD = 60;

/** A comment body as the caller's API version writes it, or the 400 message. */
function commentBody(raw: unknown, api: '2' | '3'): AdfDoc | string {
  if (api === '3') return isAdfDoc(raw) ? raw : 'Comment body is not valid! It must be an Atlassian Document (see the Atlassian Document Format).';
  return typeof raw === 'string' && raw.trim() !== '' ? textToAdf(raw) : 'Comment body can not be empty!';
}

/** JSM's internal-note convention on the platform endpoint: property `sd.public.comment` = `{internal: true}`. */
function isInternal(properties: unknown): boolean {
  if (!Array.isArray(properties)) return false;
  return properties.some((p: { key?: unknown; value?: { internal?: unknown } }) => p?.key === 'sd.public.comment' && p.value?.internal === true);
}

/** `properties: [{key, value}]` as sent with a new comment (entries without a string key are dropped). */
function entityProperties(raw: unknown): { key: string; value: unknown }[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((p: { key?: unknown; value?: unknown }) => (typeof p?.key === 'string' ? [{ key: p.key, value: p.value }] : []));
}

/** `expand=properties` adds the comment's entity properties. */
function withCommentProperties(rendered: Record<string, unknown>, c: SimComment, expand: boolean): Record<string, unknown> {
  return expand ? { ...rendered, properties: c.properties ?? [] } : rendered;
}

/** `update.comment: [{add: {body}}]` on edit and transition. */
export function addCommentFromUpdate(sim: SimContext, r: RouteRequest, issue: SimIssue, body: Record<string, unknown>, actorId: string): void {
  const ops = (body.update as { comment?: unknown } | undefined)?.comment;
  if (!Array.isArray(ops)) return;
  for (const op of ops as { add?: { body?: unknown } }[]) {
    const b = op.add ? commentBody(op.add.body, r.api) : null;
    if (b && typeof b !== 'string') sim.store.comment(issue, b, false, { actorId });
  }
}

function listComments(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const startAt = intParam(r.url, 'startAt', 0);
  const maxResults = Math.min(intParam(r.url, 'maxResults', 100), 5000);
  const order = r.url.searchParams.get('orderBy');
  const sorted = order === '-created' ? issue.comments.toReversed() : issue.comments;
  const ctx = sim.render(r.api);
  const comments = sorted.slice(startAt, startAt + maxResults).map((c) => renderComment(c, issue, ctx));
  return json({ startAt, maxResults, total: issue.comments.length, comments });
}

function getComment(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const c = issue.comments.find((x) => x.id === r.params.id);
  return c ? json(renderComment(c, issue, sim.render(r.api))) : jiraError(404, ['Can not find a comment for the id: ' + (r.params.id ?? '') + '.']);
}

async function addComment(sim: SimContext, r: RouteRequest): Promise<Response> {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const body = await readJson(r.request);
  if (body instanceof Response) return body;
  const b = commentBody(body.body, r.api);
  if (typeof b === 'string') return jiraError(400, [], { comment: b });
  const length = typeof body.body === 'string' ? body.body.length : JSON.stringify(body.body).length;
  if (length > COMMENT_MAX) return jiraError(400, [], { comment: COMMENT_TOO_LONG });
  const c = sim.store.comment(issue, b, isInternal(body.properties), { actorId: (r.user as NonNullable<typeof r.user>).accountId });
  const properties = entityProperties(body.properties);
  if (properties.length > 0) c.properties = properties;
  return json(renderComment(c, issue, sim.render(r.api)), 201);
}

/**
 * `POST /comment/list` (Get comments by IDs): `{ids}` → a PageBeanComment of
 * the comments the caller can see, in id order, with their entity properties
 * under `expand=properties`. The operation has no `startAt`: a site whose page
 * cap (`commentListMaxResults`) is below the number found answers the first
 * page only, `isLast: false`, and the caller asks again for the rest.
 */
async function commentsByIds(sim: SimContext, r: RouteRequest): Promise<Response> {
  const body = await readJson(r.request);
  if (body instanceof Response) return body;
  const ids = Array.isArray(body.ids) ? body.ids.map(String) : null;
  if (ids === null || ids.length === 0) return jiraError(400, ['ids must be a non-empty list of comment ids.']);
  if (ids.length > 1000) return jiraError(400, ['A maximum of 1000 comment ids can be requested.']);
  const wanted = new Set(ids);
  const withProperties = listParam(r.url, 'expand').includes('properties');
  const ctx = sim.render(r.api);
  const found = sim.store.all
    .flatMap((issue) => issue.comments.filter((c) => wanted.has(c.id)).map((c) => ({ c, issue })))
    .toSorted((a, b) => Number(a.c.id) - Number(b.c.id));
  const maxResults = sim.commentListMaxResults;
  const values = found.slice(0, maxResults).map(({ c, issue }) => withCommentProperties(renderComment(c, issue, ctx), c, withProperties));
  return json({ maxResults, startAt: 0, total: found.length, isLast: found.length <= maxResults, values });
}

function propertyKeys(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const base = `${sim.baseUrl}/rest/api/${r.api}/issue/${issue.id}/properties`;
  return json({ keys: [...issue.properties.keys()].map((key) => ({ self: `${base}/${encodeURIComponent(key)}`, key })) });
}

function getProperty(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const key = r.params.prop ?? '';
  if (!issue.properties.has(key)) return jiraError(404, [`The property with key '${key}' does not exist.`]);
  return json({ key, value: issue.properties.get(key) });
}

async function setProperty(sim: SimContext, r: RouteRequest): Promise<Response> {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const key = r.params.prop ?? '';
  if (key.length > 255) return jiraError(400, ['The property key cannot be longer than 255 characters.']);
  const text = await r.request.text();
  if (text.length > PROPERTY_MAX) return jiraError(400, [`The property '${key}' exceeds the maximum allowed length of ${PROPERTY_MAX} characters.`]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return jiraError(400, ['The property value must be a valid, non-empty JSON.']);
  }
  const existed = issue.properties.has(key);
  issue.properties.set(key, value);
  return noContent(existed ? 200 : 201);
}

function deleteProperty(sim: SimContext, r: RouteRequest): Response {
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  const key = r.params.prop ?? '';
  if (!issue.properties.delete(key)) return jiraError(404, [`The property with key '${key}' does not exist.`]);
  return noContent();
}

async function addAttachments(sim: SimContext, r: RouteRequest): Promise<Response> {
  const token = r.request.headers.get('x-atlassian-token')?.toLowerCase();
  if (token !== 'no-check' && token !== 'nocheck') return new Response('XSRF check failed', { status: 403, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  const issue = issueOr404(sim, r);
  if (issue instanceof Response) return issue;
  let form: FormData;
  try {
    form = await r.request.formData();
  } catch {
    return jiraError(400, ['The request is not a multipart/form-data upload.']);
  }
  const files = form.getAll('file').filter((f): f is File => typeof f !== 'string');
  if (files.length === 0) return jiraError(400, ['No file named "file" was found in the multipart request.']);
  if (files.length > MAX_FILES_PER_UPLOAD) return jiraError(413, [`At most ${MAX_FILES_PER_UPLOAD} files can be uploaded in one request.`]);
  // The spec names the 413; its wording is the simulator's [UNVERIFIED against a live site].
  const tooLarge = files.find((f) => f.size > sim.attachmentUploadLimit);
  if (tooLarge) return jiraError(413, [`The file ${tooLarge.name} is ${tooLarge.size} bytes, larger than the maximum attachment size of ${sim.attachmentUploadLimit} bytes.`]);
  const ctx = sim.render(r.api);
  const out = [];
  for (const f of files) {
    const content = new Uint8Array(await f.arrayBuffer());
    const a = sim.store.attach(issue, { filename: f.name || 'attachment', mimeType: f.type || 'application/octet-stream', content }, { actorId: (r.user as NonNullable<typeof r.user>).accountId });
    out.push(renderAttachment(a, ctx));
  }
  return json(out);
}

/** `GET /attachment/meta`: whether attachments are on and the upload limit, in bytes. */
function attachmentMeta(sim: SimContext): Response {
  return json({ enabled: true, uploadLimit: sim.attachmentUploadLimit });
}

function attachmentContent(sim: SimContext, r: RouteRequest): Response {
  for (const issue of sim.store.all) {
    const a = issue.attachments.find((x) => x.id === r.params.id);
    if (a) return new Response(a.content.slice(), { status: 200, headers: { 'content-type': a.mimeType } });
  }
  return jiraError(404, [`The attachment with id '${r.params.id ?? ''}' does not exist.`]);
}

export const commentRoutes: Route[] = [
  { method: 'GET', pattern: '/rest/api/:v/issue/:key/comment', handle: listComments },
  { method: 'POST', pattern: '/rest/api/:v/issue/:key/comment', handle: addComment },
  { method: 'GET', pattern: '/rest/api/:v/issue/:key/comment/:id', handle: getComment },
  { method: 'POST', pattern: '/rest/api/:v/comment/list', handle: commentsByIds },
  { method: 'GET', pattern: '/rest/api/:v/issue/:key/properties', handle: propertyKeys },
  { method: 'GET', pattern: '/rest/api/:v/issue/:key/properties/:prop', handle: getProperty },
  { method: 'PUT', pattern: '/rest/api/:v/issue/:key/properties/:prop', handle: setProperty },
  { method: 'DELETE', pattern: '/rest/api/:v/issue/:key/properties/:prop', handle: deleteProperty },
  { method: 'POST', pattern: '/rest/api/:v/issue/:key/attachments', handle: addAttachments },
  { method: 'GET', pattern: '/rest/api/:v/attachment/content/:id', handle: attachmentContent },
  { method: 'GET', pattern: '/rest/api/:v/attachment/meta', handle: attachmentMeta },
];
