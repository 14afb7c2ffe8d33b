// The Jira connector (Cloud and Data Center): one stream, `changes`, read by a
// bounded JQL search from the engine's cursor, and a re-fetch of one issue for
// webhooks. Each issue yields its change, JSM approvals and comments.
//
// Paging keeps the engine's contract: every readPage is a fresh search from
// `after`. JQL compares `updated` only to the minute (in the API user's zone), so
// the search starts at the cursor's minute and re-reads the rows of that minute
// already stored; rows provably stored (strictly before the cursor in the search
// order) are skipped, which guarantees progress, and the rest is absorbed by
// idempotent upserts. Cloud's nextPageToken is followed only inside one
// readPage, to get past a page made entirely of such rows.
//
// Search is eventually consistent: an issue updated a moment ago can be missing
// from a result (or show its previous version) and turn up later with an
// `updated` behind the cursor. The engine's overlap re-reads that window on the
// next run, so such an issue is picked up then; a webhook usually fetches it first.

import type { ConnectorInstance, PageRequest, PageResult, StreamCursor, StreamDeclaration, StreamItem } from '../../src/kit/connector.ts';
import { isTimeZone } from '../../src/kit/instance-config.ts';
import type { JiraInstance } from './jira-config.ts';
import { ChangegateError } from '../../src/errors.ts';
import type { RequestInfo } from '../../src/http/http-client.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { RetryPolicy } from '../../src/http/retry-classifier.ts';
import type { ResponseValidation } from './jira-cloud-api.ts';
import { checkIssueRef } from './jira-api.ts';
import { createJiraClient, type CallContext, type JiraClient, type RawIssue, type SearchPosition, type SearchRequest } from './jira-client.ts';
import { jqlLowerBound, parseJiraDateTime } from './jira-date.ts';
import { createFieldResolver, type FieldResolution, type FieldResolver } from './jira-fields.ts';
import { createIssueReader } from './jira-issue-reader.ts';
import type { JiraMapContext } from './jira-issue-mapper.ts';
import { changesJql, compareIssueKeys } from './jira-jql.ts';
import type { JiraMapping } from './jira-mapping.ts';
import { createJiraWebhook } from './jira-webhook.ts';

export interface JiraConnectorDeps {
  mapping: JiraMapping;
  logger: Logger;
  onRequest?: (info: RequestInfo) => void;
  /** Defaults to a client built from the instance config. */
  client?: JiraClient;
  retry?: Partial<RetryPolicy>;
  responseValidation?: ResponseValidation;
  /** Issues whose children are read at once (approvals, comments, long changelogs). */
  concurrency?: number;
  /** Shared with the writer, so the site's field list is fetched once; defaults to one over `client`. */
  resolver?: FieldResolver;
}

export const JIRA_STREAMS: readonly StreamDeclaration[] = [
  { name: 'changes', description: 'change issues by (updated, issue id), each with its JSM approvals and comments' },
];

/** Fields every read needs whatever the mapping says: identity, workflow, cursor, scope, journal. */
const SYSTEM_FIELDS = ['summary', 'status', 'issuetype', 'project', 'created', 'updated', 'comment'] as const;

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);

interface RowKey {
  id: string;
  key: string;
  updatedMs: number;
  updatedAt: string;
}

function rowKey(issue: RawIssue): RowKey | null {
  const id = issue['id'];
  const key = issue['key'];
  let updatedAt: string | null;
  try {
    updatedAt = parseJiraDateTime(asObj(issue['fields'])?.['updated'], 'updated');
  } catch {
    return null;
  }
  if ((typeof id !== 'string' && typeof id !== 'number') || updatedAt === null) return null;
  return { id: String(id), key: typeof key === 'string' ? key : '', updatedMs: Date.parse(updatedAt), updatedAt };
}

function fieldIds(resolution: FieldResolution): string[] {
  const ids = new Set<string>(SYSTEM_FIELDS);
  for (const field of resolution.byRef.values()) if (field !== null) ids.add(field.id);
  if (resolution.approvals !== null) ids.add(resolution.approvals.id);
  return [...ids];
}

/** The search behind one page of changes from `after` (exported so the mirror benchmark's baseline sends the very same). */
export function changesSearch(
  instance: Pick<JiraInstance, 'projects' | 'issueTypes'>,
  resolution: FieldResolution,
  after: StreamCursor | null,
  zones: readonly string[],
  pageSize: number,
  flavor: JiraClient['flavor'],
): SearchRequest {
  return {
    jql: changesJql(instance.projects, instance.issueTypes, after === null ? null : jqlLowerBound(after.updatedAt, zones)),
    fields: fieldIds(resolution),
    expand: ['changelog'],
    // Atlassian's hard caps (5000 ids on Cloud, 1000 by default on DC); a larger page size would be a 400.
    maxResults: Math.min(pageSize, flavor === 'cloud' ? 5000 : 1000),
  };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function createJiraConnector(instance: JiraInstance, deps: JiraConnectorDeps): ConnectorInstance {
  const { logger, mapping } = deps;
  const client =
    deps.client ??
    createJiraClient(instance, {
      logger,
      ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
      ...(deps.retry ? { retry: deps.retry } : {}),
      ...(deps.responseValidation ? { responseValidation: deps.responseValidation } : {}),
    });
  const resolver = deps.resolver ?? createFieldResolver(client, mapping.fieldRefs, { logger, mappingFile: mapping.file });
  const reader = createIssueReader(client, logger);
  const concurrency = deps.concurrency ?? 4;
  let zones: string[] = [instance.siteTimeZone];
  /** The last row this connector handed the engine as `last`, with its key (the cursor carries only the id). */
  let lastEmitted: RowKey | null = null;

  /** Once per run: a revoked token answers searches with anonymous, empty results, so ask who we are. */
  async function checkCaller(ctx: CallContext): Promise<void> {
    const me = await client.myself(ctx);
    const zone = me['timeZone'];
    if (typeof zone !== 'string' || zone === instance.siteTimeZone || zones.includes(zone)) return;
    if (!isTimeZone(zone)) return;
    zones = [instance.siteTimeZone, zone];
    logger.warn(
      { instance: instance.id, siteTimeZone: instance.siteTimeZone, userTimeZone: zone },
      'the API user\'s profile time zone differs from siteTimeZone; JQL reads dates in the user\'s zone, so searches start early enough for both',
    );
  }

  function mapContext(resolution: FieldResolution): JiraMapContext {
    return { instance: instance.id, siteUrl: instance.baseUrl, mapping, fields: resolution, timeZone: instance.siteTimeZone };
  }

  /** Rows the engine provably stored already: before the cursor in (updated, key) order, or the cursor row itself. */
  function alreadyStored(row: RowKey, after: StreamCursor | null): boolean {
    if (after === null || after.id === '') return false;
    const afterMs = Date.parse(after.updatedAt);
    if (row.updatedMs !== afterMs) return row.updatedMs < afterMs;
    if (row.id === after.id) return true;
    // Same instant: only the key order says who came first, and only when we know the cursor row's key.
    return lastEmitted !== null && lastEmitted.id === after.id && lastEmitted.updatedMs === afterMs && compareIssueKeys(row.key, lastEmitted.key) < 0;
  }

  async function readChanges(request: PageRequest): Promise<PageResult> {
    const ctx: CallContext = { calls: 0, ...(request.signal ? { signal: request.signal } : {}) };
    const { after } = request;
    if (after === null || after.id === '') await checkCaller(ctx);
    const resolution = await resolver.resolve(ctx);
    const query = changesSearch(instance, resolution, after, zones, request.pageSize, client.flavor);
    let position: SearchPosition | null = null;
    const fresh: RawIssue[] = [];
    let total: number | null = null;
    let hasMore = false;
    // The engine asks for an offset only after a page that gave it no cursor key (rows without `updated`).
    let skip = request.offset;
    for (;;) {
      request.signal?.throwIfAborted();
      const page = await client.search(query, position, ctx);
      total ??= page.total;
      for (const issue of page.issues) {
        const key = rowKey(issue);
        if (key !== null && alreadyStored(key, after)) continue;
        if (skip > 0) skip--;
        else fresh.push(issue);
      }
      hasMore = page.next !== null;
      // A page of rows the engine already has makes no progress: look further in the same search.
      if (fresh.length > 0 || page.next === null) break;
      position = page.next;
    }
    const map = mapContext(resolution);
    const items = (await mapLimit(fresh, concurrency, (issue) => reader.itemsFor(issue, map, ctx))).flat();
    let last: RowKey | null = null;
    for (const issue of fresh) last = rowKey(issue) ?? last;
    if (last !== null) lastEmitted = last;
    return { items, last: last === null ? null : { updatedAt: last.updatedAt, id: last.id }, total, hasMore, apiCalls: ctx.calls };
  }

  function inScope(issue: RawIssue): boolean {
    const fields = asObj(issue['fields']);
    const project = asObj(fields?.['project'])?.['key'];
    const type = asObj(fields?.['issuetype'])?.['name'];
    return typeof project === 'string' && instance.projects.includes(project) && typeof type === 'string' && instance.issueTypes.includes(type);
  }

  return {
    system: 'jira',
    instanceId: instance.id,
    streams: JIRA_STREAMS,
    webhook: createJiraWebhook(instance),

    async readPage(request) {
      if (request.stream !== 'changes') {
        throw new ChangegateError('CG_INTERNAL', `${instance.id}: Jira has no stream "${request.stream}"`, { details: { instance: instance.id, stream: request.stream } });
      }
      return readChanges(request);
    },

    async fetchOne(nativeId, signal): Promise<StreamItem[] | null> {
      const ctx: CallContext = { calls: 0, ...(signal ? { signal } : {}) };
      const resolution = await resolver.resolve(ctx);
      const issue = await client.issue(checkIssueRef(instance.id, nativeId), fieldIds(resolution), ['changelog'], ctx);
      if (issue === null) return null;
      if (!inScope(issue)) {
        // A webhook for an issue of another project or type: not a change this instance mirrors.
        logger.debug({ instance: instance.id, nativeId }, 'issue is outside the configured projects and issue types');
        return null;
      }
      return reader.itemsFor(issue, mapContext(resolution), ctx);
    },
  };
}
