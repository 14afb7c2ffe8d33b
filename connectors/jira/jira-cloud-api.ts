// Jira Cloud through jira.js v6. The library supplies the endpoints (paths,
// parameters, bodies) and the response schemas; the transport is ours, handed
// to each call as a jira.js `Client`. Why not jira.js's own fetch transport
// (6.2.0): it shows no response headers on a 2xx (so the revoked-token header
// is invisible), keeps only Retry-After on errors (RateLimit-Reason and
// X-RateLimit-Reset are lost), takes no AbortSignal or timeout, and never
// retries 429. One OAuth2Manager per instance still holds the single token state.

import type { Client, SendRequestOptions } from 'jira.js/core';
import type { z } from 'zod';
import { ChangegateError } from '../../src/errors.ts';
import type { Logger } from '../../src/kit/logger.ts';
import { asRecord, badShape, checkIssueRef, checkNotAnonymous, checkProjectKey, num, offsetPage, toFieldInfo, toIssueTypeStatuses, bool, type FieldInfo, type JiraClient } from './jira-api.ts';
import { isNotFound, pathTemplate, type CallContext, type JiraHttp } from './jira-http.ts';

export type ResponseValidation = 'warn' | 'throw' | 'off';

const LIST_PAGE = 100;

// jira.js/cloud builds every schema of the platform API on import (about a second);
// a configuration without a Cloud instance never pays for it.
let cloudModule: Promise<typeof import('jira.js/cloud')> | null = null;
let deskModule: Promise<typeof import('jira.js/serviceDesk')> | null = null;
const cloud = (): Promise<typeof import('jira.js/cloud')> => (cloudModule ??= import('jira.js/cloud'));
const desk = (): Promise<typeof import('jira.js/serviceDesk')> => (deskModule ??= import('jira.js/serviceDesk'));

/** jira.js's query serialisation: lists of strings as repeated keys, objects as JSON, empty values dropped. */
export function toQuery(params: Record<string, unknown> | undefined): string {
  if (params === undefined) return '';
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) search.append(key, typeof item === 'object' ? JSON.stringify(item) : String(item));
    else search.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

function schemaIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

export function createCloudApi(instanceId: string, http: JiraHttp, options: { logger: Logger; validation: ResponseValidation }): JiraClient {
  const warned = new Set<string>();

  function check(schema: z.ZodType | undefined, data: unknown, endpoint: string): void {
    if (schema === undefined || data === undefined || options.validation === 'off') return;
    const result = schema.safeParse(data);
    if (result.success) return;
    const issues = schemaIssues(result.error);
    if (options.validation === 'throw') throw badShape(instanceId, endpoint, `a body its schema does not describe: ${issues.join('; ')}`);
    if (warned.has(endpoint)) return;
    warned.add(endpoint);
    // Paths and messages only, never values: the body is site data.
    options.logger.warn({ instance: instanceId, endpoint, issues }, 'Jira response does not match the jira.js schema; using it as received');
  }

  /** A jira.js Client for one operation: its signal and request count ride along. */
  function clientFor(ctx: CallContext): Client {
    return {
      async sendRequest<T>(o: SendRequestOptions<T>): Promise<T> {
        const method = o.method ?? 'GET';
        if (method === 'HEAD' || method === 'OPTIONS') throw new ChangegateError('CG_INTERNAL', `jira.js asked for ${method} ${o.url}, which changegate does not send`);
        const data = await http.request(
          {
            method,
            path: `${o.url}${toQuery(o.searchParams)}`,
            pathTemplate: pathTemplate(o.url),
            ...(o.body !== undefined && o.body !== null ? { json: o.body } : {}),
            ...(o.headers ? { headers: o.headers } : {}),
          },
          ctx,
        );
        check(o.schema, data, `${method} ${pathTemplate(o.url)}`);
        // The schema is a check, not a filter: parsing would drop what it does not know (custom fields among them).
        return data as T;
      },
    };
  }

  return {
    instanceId,
    flavor: 'cloud',

    async myself(ctx) {
      const { getCurrentUser } = await cloud();
      return checkNotAnonymous(instanceId, '/rest/api/3/myself', await getCurrentUser(clientFor(ctx)));
    },

    async fields(ctx) {
      const { getFields } = await cloud();
      const list: unknown = await getFields(clientFor(ctx));
      if (!Array.isArray(list)) throw badShape(instanceId, '/rest/api/3/field', 'something other than a list of fields');
      return list.map(toFieldInfo).filter((f): f is FieldInfo => f !== null);
    },

    async search(req, from, ctx) {
      const { searchAndReconsileIssuesUsingJqlPost } = await cloud();
      if (from !== null && from.kind !== 'token') throw new ChangegateError('CG_INTERNAL', 'the Cloud search continues by nextPageToken only');
      const page = asRecord(
        await searchAndReconsileIssuesUsingJqlPost(clientFor(ctx), {
          jql: req.jql,
          fields: [...req.fields],
          maxResults: req.maxResults,
          ...(req.expand.length > 0 ? { expand: req.expand.join(',') } : {}),
          ...(from !== null ? { nextPageToken: from.token } : {}),
        }),
      );
      const issues = page?.['issues'] ?? [];
      if (!Array.isArray(issues)) throw badShape(instanceId, '/rest/api/3/search/jql', 'an "issues" that is not a list');
      const token = page?.['nextPageToken'];
      const more = page?.['isLast'] === false || (page?.['isLast'] === undefined && typeof token === 'string');
      return { issues: issues.map((i) => asRecord(i) ?? {}), next: more && typeof token === 'string' && token !== '' ? { kind: 'token', token } : null, total: null };
    },

    async issue(idOrKey, fields, expand, ctx) {
      const { getIssue } = await cloud();
      try {
        const issue = await getIssue(clientFor(ctx), {
          issueIdOrKey: checkIssueRef(instanceId, idOrKey),
          fields: [...fields],
          ...(expand.length > 0 ? { expand: expand.join(',') } : {}),
        });
        return asRecord(issue);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async changelog(idOrKey, startAt, ctx) {
      const { getChangeLogs } = await cloud();
      const page = asRecord(await getChangeLogs(clientFor(ctx), { issueIdOrKey: checkIssueRef(instanceId, idOrKey), startAt, maxResults: LIST_PAGE }));
      const values = page?.['values'];
      return offsetPage(Array.isArray(values) ? values : [], num(page?.['startAt']) ?? startAt, num(page?.['total']), bool(page?.['isLast']));
    },

    async comments(idOrKey, startAt, ctx) {
      const { getComments } = await cloud();
      const page = asRecord(await getComments(clientFor(ctx), { issueIdOrKey: checkIssueRef(instanceId, idOrKey), startAt, maxResults: LIST_PAGE, orderBy: 'created' }));
      const values = page?.['comments'];
      return offsetPage(Array.isArray(values) ? values : [], num(page?.['startAt']) ?? startAt, num(page?.['total']), null);
    },

    async approvals(idOrKey, start, ctx) {
      const { getApprovals } = await desk();
      try {
        const page = asRecord(await getApprovals(clientFor(ctx), { issueIdOrKey: checkIssueRef(instanceId, idOrKey), start, limit: LIST_PAGE }));
        const values = page?.['values'];
        return offsetPage(Array.isArray(values) ? values : [], num(page?.['start']) ?? start, null, bool(page?.['isLastPage']) ?? true);
      } catch (err) {
        if (isNotFound(err)) return { values: [], next: null, total: 0 };
        throw err;
      }
    },

    async projectStatuses(projectKey, ctx) {
      const { getAllStatuses } = await cloud();
      const list: unknown = await getAllStatuses(clientFor(ctx), { projectIdOrKey: checkProjectKey(instanceId, projectKey) });
      return toIssueTypeStatuses(instanceId, `/rest/api/3/project/${projectKey}/statuses`, list);
    },
  };
}
