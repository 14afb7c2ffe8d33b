// Payload builders for msw tests of the Jira connector, shaped after the samples
// in test/fixtures/jira (search and GET issue spec examples, the field capture,
// JSM approvals). The site's custom field ids are deliberately NOT the ones in
// the samples (customfield_10005…): the connector must find them by name.

import { http, HttpResponse, type RequestHandler } from 'msw';

export const BASE = 'https://acme.atlassian.net';
export const API = `${BASE}/rest/api/3`;

type Obj = Record<string, unknown>;

/** Field ids on this fake site, by the name the default mapping uses. */
export const SITE_IDS = {
  'Change type': 'customfield_20105',
  'Change risk': 'customfield_20106',
  Impact: 'customfield_20104',
  'Change reason': 'customfield_20107',
  'Change start date': 'customfield_20108',
  'Change completion date': 'customfield_20109',
  Approvers: 'customfield_20103',
  Urgency: 'customfield_20144',
  'Affected services': 'customfield_20145',
  'Implementation plan': 'customfield_20146',
  'Backout plan': 'customfield_20147',
  'Test plan': 'customfield_20148',
} as const;

const SYSTEM = ['Summary', 'Description', 'Status', 'Issue Type', 'Project', 'Reporter', 'Assignee', 'Created', 'Updated', 'Resolution', 'Comment'];

/** `GET /rest/api/3/field` of this site: system fields plus the JSM change fields under their own ids. */
export function siteFields(ids: Record<string, string> = SITE_IDS): Obj[] {
  const system = SYSTEM.map((name) => {
    const id = name === 'Issue Type' ? 'issuetype' : name.toLowerCase();
    return { id, key: id, name, custom: false, orderable: true, navigable: true, searchable: true, clauseNames: [id], schema: { type: 'string', system: id } };
  });
  const custom = Object.entries(ids).map(([name, id]) => ({
    id,
    key: id,
    name,
    untranslatedName: name,
    custom: true,
    orderable: true,
    navigable: true,
    searchable: true,
    clauseNames: [`cf[${id.slice('customfield_'.length)}]`, name],
    schema: { type: 'option', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:select', customId: Number(id.slice('customfield_'.length)) },
  }));
  return [...system, ...custom];
}

export interface IssueSpec {
  n: number;
  /** Jira timestamp, e.g. `2026-03-12T10:00:07.250+0000`. */
  updated: string;
  status?: string;
  project?: string;
  fields?: Obj;
  histories?: Obj[];
  /** Changelog total when more histories exist than are shown. */
  historyTotal?: number;
  comments?: Obj[];
  commentTotal?: number;
}

export function user(accountId: string, displayName: string): Obj {
  return { self: `${API}/user?accountId=${accountId}`, accountId, displayName, active: true, timeZone: 'UTC', accountType: 'atlassian' };
}

export function comment(id: string, created: string, text: string, extra: Obj = {}): Obj {
  const author = user('5b10a2844c20165700ede21g', 'Mia Krystof');
  return {
    self: `${API}/issue/10010/comment/${id}`,
    id,
    author,
    body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] },
    updateAuthor: author,
    created,
    updated: created,
    jsdPublic: true,
    ...extra,
  };
}

export function statusHistory(id: string, created: string, to: string): Obj {
  return { id, author: user('5b10a2844c20165700ede21g', 'Mia Krystof'), created, items: [{ field: 'status', fieldtype: 'jira', fieldId: 'status', from: '1', fromString: 'x', to: '2', toString: to }] };
}

/** A change issue as `/search/jql` (fields requested, expand=changelog) returns it. */
export function changeIssue(spec: IssueSpec): Obj {
  const project = spec.project ?? 'ITSM';
  const histories = spec.histories ?? [];
  const comments = spec.comments ?? [];
  const id = String(10_000 + spec.n);
  return {
    expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
    id,
    self: `${API}/issue/${id}`,
    key: `${project}-${spec.n}`,
    fields: {
      summary: `Change ${spec.n}`,
      status: { self: `${API}/status/1`, name: spec.status ?? 'Planning', id: '10201', statusCategory: { id: 2, key: 'new', name: 'To Do' } },
      issuetype: { id: '10100', name: '[System] Change', subtask: false },
      project: { id: '10000', key: project, name: 'IT Service Management' },
      reporter: user('712020:aaaa', 'Alice Requester'),
      assignee: null,
      created: '2026-03-01T08:00:00.000+0000',
      updated: spec.updated,
      comment: { comments, self: `${API}/issue/${id}/comment`, maxResults: comments.length, total: spec.commentTotal ?? comments.length, startAt: 0 },
      [SITE_IDS['Change type']]: { self: `${API}/customFieldOption/1`, value: 'Normal', id: '1' },
      [SITE_IDS['Change risk']]: { self: `${API}/customFieldOption/2`, value: 'High', id: '2' },
      ...spec.fields,
    },
    changelog: { startAt: 0, maxResults: histories.length, total: spec.historyTotal ?? histories.length, histories },
  };
}

/** The `/myself` of the integration user (optionally in another time zone). */
export function myselfHandler(timeZone = 'UTC'): RequestHandler {
  return http.get(`${API}/myself`, () => HttpResponse.json({ ...user('712020:svc', 'changegate'), timeZone, locale: 'en_US' }));
}

export function fieldsHandler(fields: Obj[] = siteFields()): RequestHandler {
  return http.get(`${API}/field`, () => HttpResponse.json(fields));
}

/** JSM approvals: none for every issue unless a test adds its own handler first. */
export function noApprovalsHandler(): RequestHandler {
  return http.get(`${BASE}/rest/servicedeskapi/request/:key/approval`, () => HttpResponse.json({ _expands: [], size: 0, start: 0, limit: 100, isLastPage: true, _links: {}, values: [] }));
}
