// Renders stored issues in each dialect: Cloud v3 (ADF rich text, accountId
// users), Cloud v2 and Data Center (plain/wiki strings; DC users by name/key),
// and webhook bodies (v2 shape with /rest/api/2/ self URLs).

import { adfToText } from './adf.ts';
import { STATUS_CATEGORIES, type Workflow } from './change-workflow.ts';
import { ISSUE_TYPES, PRIORITIES, REQUEST_TYPES, type FieldCatalog, type FieldDef } from './field-catalog.ts';
import { jiraTimestamp, jsmDate } from './jira-time.ts';
import { approvalDto } from './jsm-dto.ts';
import type { IssueView } from './jql-eval.ts';
import type { AdfDoc, Flavor, HistoryItem, SimAttachment, SimComment, SimHistory, SimIssue, SimUser } from './sim-types.ts';
import type { UserDirectory } from './user-directory.ts';

export interface RenderContext {
  baseUrl: string;
  flavor: Flavor;
  api: '2' | '3';
  timeZone: string;
  users: UserDirectory;
  workflow: Workflow;
  catalog: FieldCatalog;
}

export interface FieldSelection {
  idOnly: boolean;
  includes(def: FieldDef): boolean;
}

/** Parses `fields` (comma lists, repeated params, `*all`, `*navigable`, `-exclusions`). */
export function parseFieldSelection(raw: string[], fallback: '*all' | '*navigable' | 'id'): FieldSelection {
  const items = raw.flatMap((r) => r.split(',')).map((s) => s.trim()).filter(Boolean);
  const list = items.length > 0 ? items : [fallback];
  const include = new Set(list.filter((f) => !f.startsWith('-')));
  const exclude = new Set(list.filter((f) => f.startsWith('-')).map((f) => f.slice(1)));
  const all = include.has('*all');
  const navigable = include.has('*navigable');
  const idOnly = !all && !navigable && [...include].every((f) => f === 'id');
  return {
    idOnly,
    includes: (def) => !exclude.has(def.id) && def.kind !== 'key' && (all || (navigable && def.navigable) || include.has(def.id) || include.has(def.name)),
  };
}

const api = (ctx: RenderContext): string => `${ctx.baseUrl}/rest/api/${ctx.api}`;

function avatarUrls(ctx: RenderContext, seed: string): Record<string, string> {
  const u = `${ctx.baseUrl}/secure/useravatar?ownerId=${encodeURIComponent(seed)}`;
  return { '48x48': u, '24x24': `${u}&size=small`, '16x16': `${u}&size=xsmall`, '32x32': `${u}&size=medium` };
}

export function renderUser(u: SimUser | undefined, ctx: RenderContext): Record<string, unknown> | null {
  if (!u) return null;
  if (ctx.flavor === 'datacenter') {
    return { self: `${api(ctx)}/user?username=${encodeURIComponent(u.name)}`, name: u.name, key: u.key, emailAddress: u.emailAddress, avatarUrls: avatarUrls(ctx, u.key), displayName: u.displayName, active: u.active, timeZone: u.timeZone };
  }
  return {
    self: `${api(ctx)}/user?accountId=${encodeURIComponent(u.accountId)}`,
    accountId: u.accountId,
    emailAddress: u.emailAddress,
    avatarUrls: avatarUrls(ctx, u.accountId),
    displayName: u.displayName,
    active: u.active,
    timeZone: u.timeZone,
    accountType: 'atlassian',
  };
}

export function renderStatus(statusId: string, ctx: RenderContext): Record<string, unknown> {
  const s = ctx.workflow.status(statusId);
  const cat = STATUS_CATEGORIES[s?.category ?? 'new'];
  return {
    self: `${api(ctx)}/status/${statusId}`,
    description: '',
    iconUrl: `${ctx.baseUrl}/images/icons/statuses/generic.png`,
    name: s?.name ?? statusId,
    id: statusId,
    statusCategory: { self: `${api(ctx)}/statuscategory/${cat.id}`, id: cat.id, key: cat.key, colorName: cat.colorName, name: cat.name },
  };
}

function richText(doc: unknown, ctx: RenderContext): unknown {
  if (doc === null || doc === undefined) return null;
  return ctx.api === '3' ? doc : adfToText(doc as AdfDoc);
}

export function renderComment(c: SimComment, issue: SimIssue, ctx: RenderContext): Record<string, unknown> {
  const author = renderUser(ctx.users.find(c.authorId), ctx);
  const out: Record<string, unknown> = {
    self: `${api(ctx)}/issue/${issue.id}/comment/${c.id}`,
    id: c.id,
    author,
    body: richText(c.body, ctx),
    updateAuthor: author,
    created: jiraTimestamp(c.created, ctx.timeZone),
    updated: jiraTimestamp(c.updated, ctx.timeZone),
  };
  if (ctx.flavor === 'cloud') out.jsdPublic = !c.internal;
  return out;
}

export function renderAttachment(a: SimAttachment, ctx: RenderContext): Record<string, unknown> {
  return {
    self: `${api(ctx)}/attachment/${a.id}`,
    id: a.id,
    filename: a.filename,
    author: renderUser(ctx.users.find(a.authorId), ctx),
    created: jiraTimestamp(a.created, ctx.timeZone),
    size: a.size,
    mimeType: a.mimeType,
    content: `${api(ctx)}/attachment/content/${a.id}`,
  };
}

/** REST changelog items; the `tmp*AccountId` keys only appear in webhook bodies. */
export function renderHistory(h: SimHistory, ctx: RenderContext, webhook = false): Record<string, unknown> {
  const items = webhook ? h.items : h.items.map(({ tmpFromAccountId: _f, tmpToAccountId: _t, ...rest }): HistoryItem => rest);
  return { id: h.id, author: renderUser(ctx.users.find(h.authorId), ctx), created: jiraTimestamp(h.created, ctx.timeZone), items };
}

function renderRequestType(id: string, view: IssueView, ctx: RenderContext): unknown {
  const { issue, state } = view;
  const rt = REQUEST_TYPES.find((r) => r.id === id);
  if (!rt) return null;
  const status = ctx.workflow.status(state.fields.status as string);
  const sd = `${ctx.baseUrl}/rest/servicedeskapi`;
  return {
    _links: { jiraRest: `${api(ctx)}/issue/${issue.id}`, web: `${ctx.baseUrl}/servicedesk/customer/portal/${issue.project.serviceDeskId}/${issue.key}`, self: `${sd}/request/${issue.id}` },
    requestType: { _links: { self: `${sd}/servicedesk/${issue.project.serviceDeskId}/requesttype/${rt.id}` }, id: rt.id, name: rt.name, description: '', helpText: '', issueTypeId: rt.issueTypeId, serviceDeskId: issue.project.serviceDeskId, groupIds: [] },
    currentStatus: {
      status: status?.name ?? '',
      statusCategory: status?.category === 'done' ? 'DONE' : status?.category === 'indeterminate' ? 'INDETERMINATE' : 'NEW',
      statusDate: jsmDate(state.fields.statuscategorychangedate as number, ctx.timeZone),
    },
  };
}

/** The changelog and comments of the version a view shows (a lagging search shows an older one). */
export function versionOf(view: IssueView): { histories: SimHistory[]; comments: SimComment[] } {
  return { histories: view.issue.histories.slice(0, view.state.histories), comments: view.issue.comments.slice(0, view.state.comments) };
}

export function renderFieldValue(def: FieldDef, value: unknown, view: IssueView, ctx: RenderContext, commentCap: number): unknown {
  const { issue } = view;
  switch (def.kind) {
    case 'richtext':
      return richText(value, ctx);
    case 'option': {
      const o = value as { id: string; value: string } | null;
      return o ? { self: `${api(ctx)}/customFieldOption/${o.id}`, value: o.value, id: o.id } : null;
    }
    case 'datetime':
    case 'timestamp':
      return typeof value === 'number' ? jiraTimestamp(value, ctx.timeZone) : null;
    case 'user':
      return typeof value === 'string' ? renderUser(ctx.users.find(value), ctx) : null;
    case 'users': {
      const ids = (value as string[] | undefined) ?? [];
      return ids.length > 0 ? ids.map((id) => renderUser(ctx.users.find(id), ctx)) : null;
    }
    case 'services': {
      const list = (value as { id: string; name: string }[] | undefined) ?? [];
      return list.length > 0 ? list.map((s) => ({ id: s.id, name: s.name })) : null;
    }
    case 'status':
      return renderStatus(value as string, ctx);
    case 'issuetype': {
      const t = ISSUE_TYPES.find((x) => x.id === value) ?? ISSUE_TYPES[0];
      return t ? { self: `${api(ctx)}/issuetype/${t.id}`, id: t.id, description: t.description, iconUrl: `${ctx.baseUrl}/secure/viewavatar?size=medium&avatarId=10300&avatarType=issuetype`, name: t.name, subtask: false, hierarchyLevel: 0 } : null;
    }
    case 'project': {
      const p = issue.project;
      return { self: `${api(ctx)}/project/${p.id}`, id: p.id, key: p.key, name: p.name, projectTypeKey: 'service_desk', simplified: false, avatarUrls: avatarUrls(ctx, `project-${p.id}`) };
    }
    case 'priority': {
      const p = PRIORITIES.find((x) => x.id === value);
      return p ? { self: `${api(ctx)}/priority/${p.id}`, iconUrl: `${ctx.baseUrl}/images/icons/priorities/${p.name.toLowerCase()}.svg`, name: p.name, id: p.id } : null;
    }
    case 'resolution': {
      const r = value as { id: string; name: string } | null;
      return r ? { self: `${api(ctx)}/resolution/${r.id}`, id: r.id, description: '', name: r.name } : null;
    }
    case 'requesttype':
      return typeof value === 'string' ? renderRequestType(value, view, ctx) : null;
    case 'comments': {
      const { comments } = versionOf(view);
      const shown = commentCap > 0 ? comments.slice(-commentCap) : [];
      return { comments: shown.map((c) => renderComment(c, issue, ctx)), self: `${api(ctx)}/issue/${issue.id}/comment`, maxResults: shown.length, total: comments.length, startAt: comments.length - shown.length };
    }
    case 'attachments':
      return issue.attachments.map((a) => renderAttachment(a, ctx));
    case 'approvals':
      // Rendered for no particular caller, so canAnswerApproval reads false; empty like other custom fields: null.
      return issue.approvals.length > 0 ? issue.approvals.map((a) => approvalDto(ctx, issue, a, null)) : null;
    default:
      return value ?? null;
  }
}

export interface IssueRenderOptions {
  fields: FieldSelection;
  expand: Set<string>;
  properties: string[];
  /** Histories included with expand=changelog: 100 on GET issue, 20 in search results. */
  changelogCap: number;
  commentCap: number;
  /** Webhooks carry the real capture's `/rest/api/2/<id>` self URL (no `issue/` segment). */
  webhook?: boolean;
}

export function renderIssue(view: IssueView, ctx: RenderContext, o: IssueRenderOptions): Record<string, unknown> {
  const { issue, state } = view;
  if (o.fields.idOnly && o.expand.size === 0 && o.properties.length === 0) return { id: issue.id };
  const fields: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  const schema: Record<string, unknown> = {};
  for (const def of ctx.catalog.list) {
    if (!o.fields.includes(def)) continue;
    fields[def.id] = renderFieldValue(def, state.fields[def.id], view, ctx, o.commentCap);
    names[def.id] = def.name;
    if (def.schema) schema[def.id] = def.schema;
  }
  const out: Record<string, unknown> = {
    expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
    id: issue.id,
    self: o.webhook ? `${ctx.baseUrl}/rest/api/2/${issue.id}` : `${api(ctx)}/issue/${issue.id}`,
    key: issue.key,
  };
  if (!o.fields.idOnly) out.fields = fields;
  if (o.expand.has('names')) out.names = names;
  if (o.expand.has('schema')) out.schema = schema;
  if (o.expand.has('changelog')) {
    const { histories } = versionOf(view);
    const shown = o.changelogCap > 0 ? histories.slice(-o.changelogCap) : [];
    out.changelog = { startAt: histories.length - shown.length, maxResults: shown.length, total: histories.length, histories: shown.map((h) => renderHistory(h, ctx)) };
  }
  if (o.properties.length > 0) {
    const props: Record<string, unknown> = {};
    const all = o.properties.includes('*all');
    for (const [k, v] of issue.properties) if (all || o.properties.includes(k)) props[k] = v;
    out.properties = props;
  }
  return out;
}

export function renderTransition(t: { id: string; name: string; to: string; from: string[] | '*'; approvalOnly?: boolean }, ctx: RenderContext, withFields: boolean): Record<string, unknown> {
  const to = ctx.workflow.status(t.to);
  const out: Record<string, unknown> = {
    id: t.id,
    name: t.name,
    to: renderStatus(to?.id ?? t.to, ctx),
    hasScreen: false,
    isGlobal: t.from === '*',
    isInitial: false,
    // Approval-step transitions are guarded by a condition only the approval satisfies.
    isAvailable: !t.approvalOnly,
    isConditional: t.approvalOnly === true,
  };
  if (withFields) out.fields = {};
  return out;
}
