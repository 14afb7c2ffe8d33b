// The reads the Jira connector needs, as one interface both flavours implement
// (jira-cloud-api.ts, jira-dc-api.ts), plus the checks they share.

import { ChangegateError } from '../../src/errors.ts';
import type { CallContext } from './jira-http.ts';

export type RawIssue = Record<string, unknown>;

export interface SearchRequest {
  /** Bounded JQL. */
  jql: string;
  fields: readonly string[];
  expand: readonly string[];
  maxResults: number;
}

/** Where a search continues: Cloud's opaque nextPageToken, or Data Center's offset. */
export type SearchPosition = { kind: 'token'; token: string } | { kind: 'offset'; startAt: number };

export interface SearchPage {
  issues: RawIssue[];
  /** Null on the last page. */
  next: SearchPosition | null;
  /** Data Center reports the match count; the enhanced Cloud search does not. */
  total: number | null;
}

/** One page of an offset-paged list (changelog, comments, approvals). */
export interface ListPage {
  values: unknown[];
  /** Offset of the next page; null on the last. */
  next: number | null;
  total: number | null;
}

export interface FieldInfo {
  id: string;
  name: string;
  untranslatedName: string | null;
  custom: boolean;
  /** `schema.type` (`option`, `datetime`, `array`, …); null for fields without a schema. */
  schemaType: string | null;
}

export interface IssueTypeStatuses {
  issueType: string;
  statuses: { id: string; name: string }[];
}

export interface JiraClient {
  readonly instanceId: string;
  readonly flavor: 'cloud' | 'datacenter';
  /** The calling user; throws CG_JIRA_AUTH_REJECTED when Jira answers as anonymous. */
  myself(ctx: CallContext): Promise<Record<string, unknown>>;
  fields(ctx: CallContext): Promise<FieldInfo[]>;
  search(req: SearchRequest, from: SearchPosition | null, ctx: CallContext): Promise<SearchPage>;
  /** Null when the issue does not exist or the user may not see it. */
  issue(idOrKey: string, fields: readonly string[], expand: readonly string[], ctx: CallContext): Promise<RawIssue | null>;
  changelog(idOrKey: string, startAt: number, ctx: CallContext): Promise<ListPage>;
  comments(idOrKey: string, startAt: number, ctx: CallContext): Promise<ListPage>;
  /** JSM approvals; an issue that is no service request has none (Jira answers 404). */
  approvals(idOrKey: string, start: number, ctx: CallContext): Promise<ListPage>;
  projectStatuses(projectKey: string, ctx: CallContext): Promise<IssueTypeStatuses[]>;
}

/** Issue ids and keys go into URL paths: nothing else is let through. */
const ISSUE_REF = /^(\d{1,18}|[A-Z][A-Z0-9_]*-\d{1,12})$/;
const PROJECT_KEY = /^[A-Z][A-Z0-9_]*$/;

export function checkIssueRef(instanceId: string, idOrKey: string): string {
  if (!ISSUE_REF.test(idOrKey)) {
    throw new ChangegateError('CG_INPUT_INVALID', `"${idOrKey}" is not a Jira issue id or key`, { details: { instance: instanceId, nativeId: idOrKey } });
  }
  return idOrKey;
}

export function checkProjectKey(instanceId: string, key: string): string {
  if (!PROJECT_KEY.test(key)) throw new ChangegateError('CG_INPUT_INVALID', `"${key}" is not a Jira project key`, { details: { instance: instanceId, project: key } });
  return key;
}

export function badShape(instanceId: string, url: string, why: string): ChangegateError {
  return new ChangegateError('CG_JIRA_BAD_RESPONSE', `${instanceId}: Jira answered ${url} with ${why}`, { details: { instance: instanceId, url } });
}

export function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

export function toFieldInfo(raw: unknown): FieldInfo | null {
  const f = asRecord(raw);
  if (f === null || typeof f['id'] !== 'string' || typeof f['name'] !== 'string') return null;
  const schema = asRecord(f['schema']);
  return {
    id: f['id'],
    name: f['name'],
    untranslatedName: typeof f['untranslatedName'] === 'string' ? f['untranslatedName'] : null,
    custom: f['custom'] === true,
    schemaType: typeof schema?.['type'] === 'string' ? schema['type'] : null,
  };
}

/** A user record that names nobody is what Jira gives an anonymous caller. */
export function checkNotAnonymous(instanceId: string, url: string, user: unknown): Record<string, unknown> {
  const u = asRecord(user);
  const id = u?.['accountId'] ?? u?.['key'] ?? u?.['name'];
  if (u === null || typeof id !== 'string' || id === '') throw badShapeOrAnonymous(instanceId, url);
  return u;
}

function badShapeOrAnonymous(instanceId: string, url: string): ChangegateError {
  return new ChangegateError(
    'CG_JIRA_AUTH_REJECTED',
    `${instanceId}: Jira answered ${url} with no user: the credentials were not accepted (a revoked API token or PAT reads as anonymous); create a new one and update the instance's auth`,
    { details: { instance: instanceId, url } },
  );
}

/** `GET /project/{key}/statuses`: issue types, each with the statuses its workflow uses. */
export function toIssueTypeStatuses(instanceId: string, url: string, list: unknown): IssueTypeStatuses[] {
  if (!Array.isArray(list)) throw badShape(instanceId, url, 'something other than a list of issue types');
  return list.flatMap((raw) => {
    const t = asRecord(raw);
    const statuses = t?.['statuses'];
    if (t === null || typeof t['name'] !== 'string' || !Array.isArray(statuses)) return [];
    const named = statuses.flatMap((s) => {
      const r = asRecord(s);
      return r !== null && typeof r['name'] === 'string' ? [{ id: String(r['id'] ?? ''), name: r['name'] }] : [];
    });
    return [{ issueType: t['name'], statuses: named }];
  });
}

export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

/** An offset page from what the source said: `isLast` when given, else `total`, else "an empty page ends it". */
export function offsetPage(values: unknown[], startAt: number, total: number | null, isLast: boolean | null): ListPage {
  const end = startAt + values.length;
  const last = isLast ?? (total === null ? values.length === 0 : end >= total);
  return { values, next: last || values.length === 0 ? null : end, total };
}
