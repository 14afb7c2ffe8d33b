// Issue search. Cloud: the enhanced `/search/jql` (bounded JQL, `fields`
// default `id`, nextPageToken paging with no `total`, eventual consistency),
// `/search/approximate-count`, and the removed `/search` answering 410 Gone.
// Data Center: the classic `/rest/api/2/search` with startAt/maxResults/total.

import { randomUUID } from 'node:crypto';
import { parseFieldSelection, renderIssue } from './issue-renderer.ts';
import { compileJql, JqlError, type IssueView } from './jql-eval.ts';
import { intParam, jiraError, json, listParam, readJson, type Route, type RouteRequest, type SimContext } from './sim-http.ts';
import type { SimUser } from './sim-types.ts';

export const LEGACY_SEARCH_410 = {
  errorMessages: [
    'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046',
  ],
  errors: {},
};

const UNBOUNDED = 'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.';
const BAD_TOKEN = 'The provided next page token is invalid or expired.';
const SEARCH_CHANGELOG_CAP = 20;
const SEARCH_COMMENT_CAP = 20;

interface Snapshot {
  views: IssueView[];
  query: string;
}

/** Result sets behind nextPageTokens, oldest evicted first (Jira's tokens expire too). */
const snapshots = new WeakMap<SimContext, Map<string, Snapshot>>();

function snapshotStore(sim: SimContext): Map<string, Snapshot> {
  let m = snapshots.get(sim);
  if (!m) {
    m = new Map();
    snapshots.set(sim, m);
  }
  return m;
}

interface SearchParams {
  jql: string;
  nextPageToken: string | undefined;
  maxResults: number;
  fields: string[];
  expand: Set<string>;
  properties: string[];
  reconcile: Set<string>;
  /** Data Center offset paging only. */
  startAt: number;
}

function asList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

async function readParams(r: RouteRequest): Promise<SearchParams | Response> {
  if (r.request.method === 'POST') {
    const body = await readJson(r.request);
    if (body instanceof Response) return body;
    const max = body.maxResults === undefined ? 50 : Number(body.maxResults);
    return {
      jql: typeof body.jql === 'string' ? body.jql : '',
      nextPageToken: typeof body.nextPageToken === 'string' ? body.nextPageToken : undefined,
      maxResults: max,
      fields: asList(body.fields),
      expand: new Set(asList(body.expand)),
      properties: asList(body.properties),
      reconcile: new Set(asList(body.reconcileIssues)),
      startAt: body.startAt === undefined ? 0 : Number(body.startAt),
    };
  }
  const u = r.url;
  return {
    jql: u.searchParams.get('jql') ?? '',
    nextPageToken: u.searchParams.get('nextPageToken') ?? undefined,
    maxResults: intParam(u, 'maxResults', 50),
    fields: listParam(u, 'fields'),
    expand: new Set(listParam(u, 'expand')),
    properties: listParam(u, 'properties'),
    reconcile: new Set(listParam(u, 'reconcileIssues')),
    startAt: intParam(u, 'startAt', 0),
  };
}

/** Matching issue views, sorted, as the (possibly lagging) index sees them now. */
function runSearch(sim: SimContext, user: SimUser | null, jql: string, reconcile: Set<string>, requireBounded: boolean): IssueView[] | Response {
  let compiled;
  try {
    compiled = compileJql(jql, sim.jqlEnv(user));
  } catch (err) {
    if (err instanceof JqlError) return jiraError(400, [err.message]);
    throw err;
  }
  if (requireBounded && !compiled.bounded) return jiraError(400, [UNBOUNDED]);
  // Anonymous callers (and revoked tokens) see no issue of a service project.
  if (!user) return [];
  const now = sim.now();
  const views: IssueView[] = [];
  for (const issue of sim.store.all) {
    const v = sim.store.view(issue, now, reconcile.has(issue.id));
    if (v && compiled.matches(v)) views.push(v);
  }
  return views.toSorted(compiled.compare);
}

function namesAndSchema(sim: SimContext, fieldsRaw: string[], fallback: '*all' | '*navigable' | 'id', expand: Set<string>): Record<string, unknown> {
  const sel = parseFieldSelection(fieldsRaw, fallback);
  const out: Record<string, unknown> = {};
  const chosen = sim.catalog.list.filter((d) => sel.includes(d));
  if (expand.has('names')) out.names = Object.fromEntries(chosen.map((d) => [d.id, d.name]));
  if (expand.has('schema')) out.schema = Object.fromEntries(chosen.filter((d) => d.schema).map((d) => [d.id, d.schema]));
  return out;
}

async function searchJql(sim: SimContext, r: RouteRequest): Promise<Response> {
  const p = await readParams(r);
  if (p instanceof Response) return p;
  if (!Number.isInteger(p.maxResults) || p.maxResults < 1 || p.maxResults > 5000) return jiraError(400, ['maxResults must be between 1 and 5000.']);
  if (p.properties.length > 5) return jiraError(400, ['A maximum of 5 issue property keys can be specified.']);
  if (p.reconcile.size > 50) return jiraError(400, ['A maximum of 50 issue ids can be reconciled.']);
  const selection = parseFieldSelection(p.fields, 'id');
  const onlyIds = p.fields.length === 0 || p.fields.every((f) => f === 'id' || f === 'key');
  const pageSize = Math.min(p.maxResults, onlyIds ? 5000 : 100);
  const store = snapshotStore(sim);
  let snap: Snapshot | undefined;
  let offset = 0;
  if (p.nextPageToken) {
    try {
      const t = JSON.parse(Buffer.from(p.nextPageToken, 'base64url').toString('utf8')) as { s: string; o: number };
      snap = store.get(t.s);
      offset = t.o;
    } catch {
      snap = undefined;
    }
    if (!snap || snap.query !== p.jql) return jiraError(400, [BAD_TOKEN]);
  } else {
    const views = runSearch(sim, r.user, p.jql, p.reconcile, true);
    if (views instanceof Response) return views;
    snap = { views, query: p.jql };
  }
  const page = snap.views.slice(offset, offset + pageSize);
  const ctx = sim.render(r.api);
  const issueExpand = new Set([...p.expand].filter((e) => e !== 'names' && e !== 'schema'));
  const issues = page.map((v) =>
    renderIssue(v, ctx, { fields: selection, expand: issueExpand, properties: p.properties, changelogCap: SEARCH_CHANGELOG_CAP, commentCap: SEARCH_COMMENT_CAP }),
  );
  const isLast = offset + page.length >= snap.views.length;
  const body: Record<string, unknown> = { issues, isLast };
  if (!isLast) {
    const id = randomUUID();
    store.set(id, snap);
    if (store.size > 64) store.delete(store.keys().next().value as string);
    body.nextPageToken = Buffer.from(JSON.stringify({ s: id, o: offset + page.length })).toString('base64url');
  }
  return json({ ...body, ...namesAndSchema(sim, p.fields, 'id', p.expand) });
}

async function approximateCount(sim: SimContext, r: RouteRequest): Promise<Response> {
  const body = await readJson(r.request);
  if (body instanceof Response) return body;
  const views = runSearch(sim, r.user, typeof body.jql === 'string' ? body.jql : '', new Set(), true);
  return views instanceof Response ? views : json({ count: views.length });
}

/** Data Center's offset-paged search: a fresh query per page, `total` included. */
async function dcSearch(sim: SimContext, r: RouteRequest): Promise<Response> {
  const p = await readParams(r);
  if (p instanceof Response) return p;
  const { startAt } = p;
  if (!Number.isInteger(startAt) || startAt < 0) return jiraError(400, ["The 'startAt' parameter must be a non-negative integer."]);
  const maxResults = Math.min(Math.max(Number.isInteger(p.maxResults) ? p.maxResults : 50, 0), 1000);
  const views = runSearch(sim, r.user, p.jql, new Set(), false);
  if (views instanceof Response) return views;
  const ctx = sim.render('2');
  const selection = parseFieldSelection(p.fields, '*navigable');
  const issues = views.slice(startAt, startAt + maxResults).map((v) =>
    renderIssue(v, ctx, { fields: selection, expand: p.expand, properties: p.properties, changelogCap: 100, commentCap: 100 }),
  );
  return json({ expand: 'schema,names', startAt, maxResults, total: views.length, issues, ...namesAndSchema(sim, p.fields, '*navigable', p.expand) });
}

const gone = (): Response => json(LEGACY_SEARCH_410, 410);

export const searchRoutes: Route[] = [
  { method: 'GET', pattern: '/rest/api/:v/search/jql', flavors: ['cloud'], anonymous: true, handle: searchJql },
  { method: 'POST', pattern: '/rest/api/:v/search/jql', flavors: ['cloud'], anonymous: true, handle: searchJql },
  { method: 'POST', pattern: '/rest/api/:v/search/approximate-count', flavors: ['cloud'], anonymous: true, handle: approximateCount },
  { method: 'GET', pattern: '/rest/api/:v/search', flavors: ['cloud'], anonymous: true, handle: gone },
  { method: 'POST', pattern: '/rest/api/:v/search', flavors: ['cloud'], anonymous: true, handle: gone },
  { method: 'GET', pattern: '/rest/api/:v/search', flavors: ['datacenter'], anonymous: true, handle: dcSearch },
  { method: 'POST', pattern: '/rest/api/:v/search', flavors: ['datacenter'], anonymous: true, handle: dcSearch },
];
