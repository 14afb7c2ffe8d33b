// The simulator's issues and every mutation on them. Each mutation records a
// changelog history the way Jira does, bumps `updated` (millisecond
// precision), keeps the lagging search snapshot, and emits one event that the
// webhook dispatcher turns into a delivery.

import type { Workflow, WorkflowStatus } from './change-workflow.ts';
import type { FieldCatalog, FieldDef } from './field-catalog.ts';
import { coerceFieldInput, historyItem, sameValue, type CoerceContext, type DisplayContext } from './field-values.ts';
import type { IssueView } from './jql-eval.ts';
import type { AdfDoc, Flavor, HistoryItem, SimApproval, SimAttachment, SimComment, SimEvent, SimHistory, SimIssue, SimProject } from './sim-types.ts';
import type { UserDirectory } from './user-directory.ts';

/** Field-level validation failures; REST answers them as `{errorMessages:[], errors:{field: message}}`. */
export class FieldErrors extends Error {
  readonly errors: Record<string, string>;
  constructor(errors: Record<string, string>) {
    super(Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; '));
    this.name = 'FieldErrors';
    this.errors = errors;
  }
}

export interface StoreOptions {
  flavor: Flavor;
  timeZone: string;
  clock: () => number;
  searchLagMs: number;
  projects: SimProject[];
  catalog: FieldCatalog;
  workflow: Workflow;
  users: UserDirectory;
}

export interface WriteOptions {
  actorId: string;
  at?: number;
  /** False for bulk seeding: no webhook events. */
  emit?: boolean;
}

const RESOLUTIONS: Record<string, { id: string; name: string }> = {
  completed: { id: '10000', name: 'Done' },
  failed: { id: '10001', name: "Won't Do" },
  canceled: { id: '10002', name: 'Declined' },
};

export class IssueStore {
  readonly byKey = new Map<string, SimIssue>();
  readonly byId = new Map<string, SimIssue>();
  /** Creation order; search filters over this. */
  readonly all: SimIssue[] = [];
  private readonly listeners: ((e: SimEvent) => void)[] = [];
  private readonly counters = new Map<string, number>();
  private seq = { issue: 10000, history: 100000, comment: 10000, attachment: 10000, approval: 1 };
  readonly opts: StoreOptions;
  readonly display: DisplayContext;

  constructor(opts: StoreOptions) {
    this.opts = opts;
    this.display = {
      flavor: opts.flavor,
      timeZone: opts.timeZone,
      user: (id) => opts.users.find(id),
      statusName: (id) => opts.workflow.status(id)?.name ?? id,
    };
  }

  onEvent(listener: (e: SimEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: SimEvent, opts: WriteOptions): void {
    if (opts.emit === false) return;
    for (const l of this.listeners) l(e);
  }

  find(keyOrId: string): SimIssue | undefined {
    return this.byKey.get(keyOrId.toUpperCase()) ?? this.byId.get(keyOrId);
  }

  coerceContext(mode: 'rest' | 'driver', apiVersion: '2' | '3'): CoerceContext {
    return { flavor: this.opts.flavor, mode, apiVersion, findUser: (ref) => this.opts.users.find(ref) };
  }

  /** Resolves keys (id or, in driver mode, display name) and coerces values; collects every error. */
  coerce(input: Record<string, unknown>, ctx: CoerceContext): Map<FieldDef, unknown> {
    const out = new Map<FieldDef, unknown>();
    const errors: Record<string, string> = {};
    for (const [k, raw] of Object.entries(input)) {
      const def = ctx.mode === 'driver' ? this.opts.catalog.resolve(k) : this.opts.catalog.get(k);
      if (!def) {
        errors[k] = `Field '${k}' cannot be set. It is not on the appropriate screen, or unknown.`;
        continue;
      }
      const c = coerceFieldInput(def, raw, ctx);
      if (c.ok) out.set(def, c.value);
      else errors[def.id] = c.error;
    }
    if (Object.keys(errors).length > 0) throw new FieldErrors(errors);
    return out;
  }

  private touch(issue: SimIssue, at: number): void {
    const lag = this.opts.searchLagMs;
    // The state that has been visible to search for a full lag period becomes the snapshot search keeps serving.
    if (lag > 0 && issue.lastWriteAt <= at - lag) issue.indexed = { ...issue.state, fields: { ...issue.state.fields } };
    issue.lastWriteAt = at;
  }

  /** The issue's new current version: `fields`, with every history and comment recorded so far. */
  private commit(issue: SimIssue, fields: Record<string, unknown>): void {
    issue.state = { fields, histories: issue.histories.length, comments: issue.comments.length };
  }

  /** What search sees now: the lagging snapshot while the last write is younger than searchLagMs. */
  view(issue: SimIssue, now: number, reconcile = false): IssueView | null {
    if (reconcile || this.opts.searchLagMs <= 0 || now - issue.lastWriteAt >= this.opts.searchLagMs) return { issue, state: issue.state };
    return issue.indexed ? { issue, state: issue.indexed } : null;
  }

  create(projectKey: string, values: Map<FieldDef, unknown>, opts: WriteOptions): SimIssue {
    const project = this.opts.projects.find((p) => p.key === projectKey.toUpperCase() || p.id === projectKey);
    if (!project) throw new FieldErrors({ project: 'Specify a valid project ID or key' });
    const summary = [...values].find(([d]) => d.id === 'summary')?.[1];
    if (typeof summary !== 'string' || summary.trim() === '') throw new FieldErrors({ summary: 'You must specify a summary of the issue.' });
    const at = opts.at ?? this.opts.clock();
    const num = (this.counters.get(project.key) ?? 0) + 1;
    this.counters.set(project.key, num);
    const id = String(++this.seq.issue);
    const initial = this.opts.workflow.initial();
    const fields: Record<string, unknown> = {
      issuetype: '10100',
      project: project.key,
      status: initial.id,
      priority: '3',
      reporter: opts.actorId,
      creator: opts.actorId,
      assignee: null,
      labels: [],
      resolution: null,
      resolutiondate: null,
      created: at,
      updated: at,
      statuscategorychangedate: at,
      customfield_10002: [],
      customfield_10003: [],
      customfield_10010: '10',
      customfield_10045: [],
    };
    for (const [def, v] of values) fields[def.id] = v;
    const issue: SimIssue = {
      id,
      key: `${project.key}-${num}`,
      num,
      project,
      created: at,
      state: { fields, histories: 0, comments: 0 },
      indexed: null,
      lastWriteAt: at,
      histories: [],
      comments: [],
      properties: new Map(),
      attachments: [],
      approvals: [],
    };
    this.byKey.set(issue.key, issue);
    this.byId.set(id, issue);
    this.all.push(issue);
    if (opts.emit !== false) {
      const items: HistoryItem[] = [];
      for (const def of this.opts.catalog.list) {
        const v = fields[def.id];
        if (def.kind === 'timestamp' || def.kind === 'project' || def.kind === 'issuetype' || v === null || v === undefined) continue;
        if (Array.isArray(v) && v.length === 0) continue;
        const item = historyItem(def, null, v, this.display);
        // The real issue_created capture spells this one "Status".
        if (def.id === 'status') item.field = 'Status';
        items.push(item);
      }
      this.emit({ type: 'created', issue, actorId: opts.actorId, items, historyId: String(++this.seq.history) }, opts);
    }
    return issue;
  }

  private record(issue: SimIssue, items: HistoryItem[], opts: WriteOptions, at: number): SimHistory {
    const history: SimHistory = { id: String(++this.seq.history), authorId: opts.actorId, created: at, items };
    issue.histories.push(history);
    return history;
  }

  /** Applies internal-form values; returns the history, or null when nothing changed. */
  edit(issue: SimIssue, values: Map<FieldDef, unknown>, opts: WriteOptions): SimHistory | null {
    const at = opts.at ?? this.opts.clock();
    const items: HistoryItem[] = [];
    const next = { ...issue.state.fields };
    for (const [def, v] of values) {
      if (sameValue(next[def.id], v)) continue;
      items.push(historyItem(def, next[def.id] ?? null, v, this.display));
      next[def.id] = v;
    }
    if (items.length === 0) return null;
    this.touch(issue, at);
    next.updated = at;
    const history = this.record(issue, items, opts, at);
    this.commit(issue, next);
    this.emit({ type: 'updated', issue, actorId: opts.actorId, history }, opts);
    return history;
  }

  /** Moves the issue to `to`, with status (and resolution) changelog items; opens an approval on an approval step. */
  moveTo(issue: SimIssue, to: WorkflowStatus, opts: WriteOptions): SimHistory {
    const at = opts.at ?? this.opts.clock();
    const wf = this.opts.workflow;
    const fromId = issue.state.fields.status as string;
    const from = wf.status(fromId);
    const next: Record<string, unknown> = { ...issue.state.fields, status: to.id, updated: at };
    const statusDef = this.opts.catalog.get('status') as FieldDef;
    const items = [historyItem(statusDef, fromId, to.id, this.display)];
    if (from?.category !== to.category) next.statuscategorychangedate = at;
    const resolution = to.category === 'done' ? (RESOLUTIONS[to.name.toLowerCase()] ?? RESOLUTIONS.completed) : null;
    if (!sameValue(next.resolution, resolution)) {
      const prev = next.resolution as { id: string; name: string } | null;
      items.push({ field: 'resolution', fieldtype: 'jira', fieldId: 'resolution', from: prev?.id ?? null, fromString: prev?.name ?? null, to: resolution?.id ?? null, toString: resolution?.name ?? null });
      next.resolution = resolution;
      next.resolutiondate = resolution ? at : null;
    }
    this.touch(issue, at);
    const history = this.record(issue, items, opts, at);
    this.commit(issue, next);
    this.emit({ type: 'transitioned', issue, actorId: opts.actorId, history }, opts);
    const step = wf.approvalStep(to.id);
    if (step) {
      const approvers = (next.customfield_10003 as string[] | undefined) ?? [];
      this.addApproval(issue, { name: step.name, approvers, required: step.required }, at);
    }
    return history;
  }

  comment(issue: SimIssue, body: AdfDoc, internal: boolean, opts: WriteOptions): SimComment {
    const at = opts.at ?? this.opts.clock();
    const c: SimComment = { id: String(++this.seq.comment), authorId: opts.actorId, body, created: at, updated: at, internal };
    this.touch(issue, at);
    issue.comments.push(c);
    this.commit(issue, { ...issue.state.fields, updated: at });
    this.emit({ type: 'commented', issue, actorId: opts.actorId, comment: c }, opts);
    return c;
  }

  attach(issue: SimIssue, file: { filename: string; mimeType: string; content: Uint8Array }, opts: WriteOptions): SimAttachment {
    const at = opts.at ?? this.opts.clock();
    const a: SimAttachment = { id: String(++this.seq.attachment), ...file, size: file.content.byteLength, created: at, authorId: opts.actorId };
    issue.attachments.push(a);
    this.touch(issue, at);
    const item: HistoryItem = { field: 'Attachment', fieldtype: 'jira', fieldId: 'attachment', from: null, fromString: null, to: a.id, toString: a.filename };
    const history = this.record(issue, [item], opts, at);
    this.commit(issue, { ...issue.state.fields, updated: at });
    this.emit({ type: 'updated', issue, actorId: opts.actorId, history }, opts);
    return a;
  }

  addApproval(issue: SimIssue, spec: { name: string; approvers: string[]; required?: number }, at = this.opts.clock()): SimApproval {
    const approval: SimApproval = {
      id: String(this.seq.approval++),
      name: spec.name,
      created: at,
      completed: null,
      required: Math.max(1, spec.required ?? 1),
      approvers: spec.approvers.map((accountId) => ({ accountId, decision: 'pending' as const })),
      finalDecision: 'pending',
    };
    issue.approvals.push(approval);
    return approval;
  }

  /** Records one approver's decision; a final decision fires the approval step's transition. */
  decide(issue: SimIssue, approval: SimApproval, accountId: string, decision: 'approve' | 'decline', opts: WriteOptions): SimApproval {
    const at = opts.at ?? this.opts.clock();
    let entry = approval.approvers.find((a) => a.accountId === accountId);
    if (!entry) {
      entry = { accountId, decision: 'pending' };
      approval.approvers.push(entry);
    }
    entry.decision = decision === 'approve' ? 'approved' : 'declined';
    const approvedCount = approval.approvers.filter((a) => a.decision === 'approved').length;
    const needed = Math.min(approval.required, approval.approvers.length);
    if (entry.decision === 'declined') approval.finalDecision = 'declined';
    else if (approvedCount >= needed) approval.finalDecision = 'approved';
    if (approval.finalDecision === 'pending') return approval;
    approval.completed = at;
    const step = this.opts.workflow.approvalStep(issue.state.fields.status as string);
    if (step) {
      const target = this.opts.workflow.status(approval.finalDecision === 'approved' ? step.onApprove : step.onDecline);
      if (target) this.moveTo(issue, target, { ...opts, at });
    }
    return approval;
  }
}
