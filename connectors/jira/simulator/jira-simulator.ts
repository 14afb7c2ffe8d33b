// A stateful stand-in for a Jira Cloud site with Jira Service Management (or,
// with `flavor: 'datacenter'`, a Jira Data Center server), written once as msw
// handlers: in-process through `setupServer(...sim.handlers())`, over real
// HTTP through `startSimulatorServer(sim.handlers(), …)`. Tests drive it with
// the methods below; clients talk to it over REST.

import { http, type RequestHandler } from 'msw';
import { isAdfDoc, textToAdf } from './adf.ts';
import { Workflow, type WorkflowDefinition } from './change-workflow.ts';
import { FaultInjector } from './fault-injector.ts';
import { defaultFields, FieldCatalog, ISSUE_TYPES, type FieldDef } from './field-catalog.ts';
import { IssueStore } from './issue-store.ts';
import type { RenderContext } from './issue-renderer.ts';
import { compileJql, type CompiledJql, type JqlEnv } from './jql-eval.ts';
import { commentRoutes } from './routes-comments.ts';
import { issueRoutes } from './routes-issue.ts';
import { jsmRoutes } from './routes-jsm.ts';
import { searchRoutes } from './routes-search.ts';
import { siteRoutes } from './routes-site.ts';
import { bulkCreateIssues, seedDemoData, type BulkOptions, type DemoSeedOptions } from './seed-data.ts';
import { authenticate } from './sim-auth.ts';
import { dispatch } from './sim-dispatch.ts';
import type { Route, SimContext } from './sim-http.ts';
import type { AdfDoc, Flavor, RequestRecord, SimApproval, SimAuthOptions, SimComment, SimIssue, SimProject, SimUser, WebhookOptions, WebhookStats } from './sim-types.ts';
import { UserDirectory } from './user-directory.ts';
import { WebhookDispatcher } from './webhook-dispatcher.ts';
import { webhookPayload } from './webhook-payload.ts';

export interface JiraSimulatorOptions {
  baseUrl: string;
  flavor?: Flavor;
  auth?: SimAuthOptions;
  /** Epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
  /** Site time zone (IANA): rendering offsets and JQL date literals. Default UTC. */
  timeZone?: string;
  projects?: { key: string; name: string; serviceDeskId?: string; id?: string }[];
  /** An issue written less than this ago is missing from search (new) or shows its previous version. */
  searchLagMs?: number;
  webhook?: WebhookOptions;
  workflow?: WorkflowDefinition;
  users?: SimUser[];
  /** False models a site whose field list has no JSM Approvals field (clients then read approvals per issue). Default true. */
  approvalsField?: boolean;
  /** The site's maximum attachment size in bytes (413 above it); default 10 MB. */
  attachmentUploadLimit?: number;
  /**
   * Most comments one `POST /comment/list` answers; more found come back as a
   * first page with `isLast: false`. Default 1000, the most ids it takes.
   */
  commentListMaxResults?: number;
}

export interface DriveOptions {
  /** Actor: accountId, username or email; defaults to the integration user. */
  as?: string;
  /** Timestamp of the change (epoch ms); defaults to the clock. */
  at?: number;
  /** Set false to skip the webhook delivery. */
  emit?: boolean;
}

const ROUTES: Route[] = [...searchRoutes, ...issueRoutes, ...commentRoutes, ...siteRoutes, ...jsmRoutes];

export class JiraSimulator implements SimContext {
  readonly flavor: Flavor;
  readonly timeZone: string;
  readonly catalog: FieldCatalog;
  readonly workflow: Workflow;
  readonly users: UserDirectory;
  readonly projects: SimProject[];
  readonly store: IssueStore;
  readonly faults = new FaultInjector();
  readonly requests: RequestRecord[] = [];
  attachmentUploadLimit: number;
  commentListMaxResults: number;
  private url: URL;
  private readonly clock: () => number;
  private readonly auth: SimAuthOptions | undefined;
  private readonly revoked = new Set<string>();
  private readonly handlerList: RequestHandler[] = [];
  private readonly webhooks: WebhookDispatcher | undefined;
  private webhookFilter: CompiledJql | undefined;

  constructor(opts: JiraSimulatorOptions) {
    this.url = new URL(opts.baseUrl);
    this.flavor = opts.flavor ?? 'cloud';
    this.timeZone = opts.timeZone ?? 'UTC';
    this.clock = opts.clock ?? Date.now;
    this.auth = opts.auth;
    this.attachmentUploadLimit = opts.attachmentUploadLimit ?? 10 * 1024 * 1024;
    this.commentListMaxResults = opts.commentListMaxResults ?? 1000;
    this.catalog = new FieldCatalog(opts.approvalsField === false ? defaultFields().filter((f) => f.kind !== 'approvals') : defaultFields());
    this.workflow = new Workflow(opts.workflow);
    this.users = new UserDirectory(opts.users, opts.auth?.basic ?? []);
    this.projects = (opts.projects ?? [{ key: 'ITSM', name: 'IT Service Management', serviceDeskId: '1' }]).map((p, i) => ({
      id: p.id ?? String(10000 + i),
      key: p.key.toUpperCase(),
      name: p.name,
      serviceDeskId: p.serviceDeskId ?? String(i + 1),
    }));
    this.store = new IssueStore({ flavor: this.flavor, timeZone: this.timeZone, clock: this.clock, searchLagMs: opts.searchLagMs ?? 0, projects: this.projects, catalog: this.catalog, workflow: this.workflow, users: this.users });
    if (opts.webhook) {
      const hook = opts.webhook;
      const dispatcher = new WebhookDispatcher(hook);
      this.webhooks = dispatcher;
      this.store.onEvent((e) => {
        if (hook.jqlFilter) {
          this.webhookFilter ??= compileJql(hook.jqlFilter, this.jqlEnv(null));
          if (!this.webhookFilter.matches({ issue: e.issue, state: e.issue.state })) return;
        }
        dispatcher.enqueue(JSON.stringify(webhookPayload(e, this.render('2'), this.clock())));
      });
    }
    this.handlerList.push(this.makeHandler());
  }

  // ---- SimContext -------------------------------------------------------------------------

  get baseUrl(): string {
    return this.url.href.replace(/\/$/, '');
  }

  now(): number {
    return this.clock();
  }

  render(api: '2' | '3'): RenderContext {
    return { baseUrl: this.baseUrl, flavor: this.flavor, api, timeZone: this.timeZone, users: this.users, workflow: this.workflow, catalog: this.catalog };
  }

  jqlEnv(user: SimUser | null): JqlEnv {
    return { catalog: this.catalog, workflow: this.workflow, projects: this.projects, timeZone: this.timeZone, now: this.clock(), currentUser: user, findUser: (ref) => this.users.find(ref) };
  }

  // ---- HTTP surface -----------------------------------------------------------------------

  private makeHandler(): RequestHandler {
    const basePath = this.url.pathname.replace(/\/$/, '');
    return http.all(
      ({ request }) => {
        const u = new URL(request.url);
        return u.origin === this.url.origin && u.pathname.startsWith(`${basePath}/rest/`);
      },
      ({ request }) =>
        dispatch(
          {
            sim: this,
            routes: ROUTES,
            faults: this.faults,
            basePath: this.url.pathname.replace(/\/$/, ''),
            authenticate: (header) => authenticate(header, this.auth, this.revoked, this.users, this.serviceUser()),
            log: (r) => this.requests.push(r),
          },
          request,
        ),
    );
  }

  /** The live handler list: hand it to `setupServer(...)` or `startSimulatorServer(...)`. */
  handlers(): RequestHandler[] {
    return this.handlerList;
  }

  /** Points the simulator at a new origin, e.g. the URL `startSimulatorServer` picked. */
  setBaseUrl(baseUrl: string): void {
    this.url = new URL(baseUrl);
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  /** From now on this API token or PAT no longer authenticates (the caller becomes anonymous). */
  revokeToken(token: string): void {
    this.revoked.add(token);
  }

  // ---- driving API ------------------------------------------------------------------------

  private serviceUser(): SimUser {
    const first = this.auth?.basic?.[0];
    return (first && this.users.find(first.accountId ?? first.email)) ?? this.users.byName('svc-changegate');
  }

  private actor(o: DriveOptions): { actorId: string; at?: number; emit?: boolean } {
    const out: { actorId: string; at?: number; emit?: boolean } = { actorId: o.as ? this.users.byName(o.as).accountId : this.serviceUser().accountId };
    if (o.at !== undefined) out.at = o.at;
    if (o.emit !== undefined) out.emit = o.emit;
    return out;
  }

  issue(key: string): SimIssue {
    const i = this.store.find(key);
    if (!i) throw new Error(`No issue ${key} in the simulator`);
    return i;
  }

  user(ref: string): SimUser {
    return this.users.byName(ref);
  }

  /** Field id for a display name ("Change risk" → customfield_10006). */
  fieldId(name: string): string {
    return this.catalog.idOf(name);
  }

  /** Fields by id or display name; shorthand values allowed ('Normal', user names, plain text). */
  createIssue(fields: Record<string, unknown>, opts: DriveOptions & { project?: string; issueType?: string } = {}): SimIssue {
    const values = this.store.coerce(fields, this.store.coerceContext('driver', '3'));
    if (opts.issueType) {
      const type = ISSUE_TYPES.find((t) => t.name === opts.issueType);
      if (!type) throw new Error(`Unknown issue type "${opts.issueType}"`);
      values.set(this.catalog.get('issuetype') as FieldDef, type.id);
    }
    return this.store.create(opts.project ?? (this.projects[0] as SimProject).key, values, this.actor(opts));
  }

  /** Appends one changelog history with an item per changed field; bumps `updated`. */
  editIssue(key: string, fields: Record<string, unknown>, opts: DriveOptions = {}): SimIssue {
    const issue = this.issue(key);
    this.store.edit(issue, this.store.coerce(fields, this.store.coerceContext('driver', '3')), this.actor(opts));
    return issue;
  }

  /** Follows the workflow transition into `toStatusName`; throws if none leads there from the current status. */
  transitionIssue(key: string, toStatusName: string, opts: DriveOptions = {}): SimIssue {
    const issue = this.issue(key);
    const t = this.workflow.transitionTo(issue.state.fields.status as string, toStatusName);
    const to = this.workflow.status(toStatusName);
    if (!t || !to) {
      const from = this.workflow.status(issue.state.fields.status as string)?.name;
      const hint = this.workflow.approvalStep(issue.state.fields.status as string) ? ' (an approval step: use decideApproval)' : '';
      throw new Error(`No transition from "${from ?? '?'}" to "${toStatusName}" for ${key}${hint}`);
    }
    this.store.moveTo(issue, to, this.actor(opts));
    return issue;
  }

  addComment(key: string, body: string | AdfDoc, opts: DriveOptions & { internal?: boolean } = {}): SimComment {
    const doc = typeof body === 'string' ? textToAdf(body) : body;
    if (!isAdfDoc(doc)) throw new Error('addComment needs text or an ADF document');
    return this.store.comment(this.issue(key), doc, opts.internal ?? false, this.actor(opts));
  }

  /** Someone deletes a comment: it is gone from the issue and from Get comments by IDs (no webhook). */
  deleteComment(key: string, id: string): void {
    const issue = this.issue(key);
    const at = issue.comments.findIndex((c) => c.id === id);
    if (at < 0) throw new Error(`No comment ${id} on ${key}`);
    issue.comments.splice(at, 1);
  }

  addApproval(key: string, spec: { name?: string; approvers: string[]; required?: number }, opts: DriveOptions = {}): SimApproval {
    const approvers = spec.approvers.map((a) => this.users.byName(a).accountId);
    const s: { name: string; approvers: string[]; required?: number } = { name: spec.name ?? 'Approval', approvers };
    if (spec.required !== undefined) s.required = spec.required;
    return this.store.addApproval(this.issue(key), s, opts.at ?? this.clock());
  }

  /** One approver's answer; a final decision fires the approval step's transition (a webhook too). */
  decideApproval(key: string, approvalId: string, approver: string, decision: 'approve' | 'decline', opts: DriveOptions = {}): SimApproval {
    const issue = this.issue(key);
    const a = issue.approvals.find((x) => x.id === approvalId);
    if (!a) throw new Error(`No approval ${approvalId} on ${key}`);
    if (a.finalDecision !== 'pending') throw new Error(`Approval ${approvalId} on ${key} is already ${a.finalDecision}`);
    const accountId = this.users.byName(approver).accountId;
    return this.store.decide(issue, a, accountId, decision, { ...this.actor(opts), actorId: accountId });
  }

  setIssueProperty(key: string, propertyKey: string, value: unknown): void {
    this.issue(key).properties.set(propertyKey, value);
  }

  /** Many issues fast (no webhooks), deterministic for a seed; returns the created keys. */
  bulkCreateIssues(n: number, opts: BulkOptions = {}): string[] {
    return bulkCreateIssues(this, n, opts);
  }

  /** A realistic spread: every change type, risk and status, approvals and comments. */
  seedDemoData(opts: DemoSeedOptions = {}): string[] {
    return seedDemoData(this, opts);
  }

  // ---- webhooks ---------------------------------------------------------------------------

  async flushWebhooks(): Promise<void> {
    await this.webhooks?.flush();
  }

  /** Points the admin webhook at a new URL, e.g. once the receiving service knows its port. No-op without `webhook`. */
  setWebhookUrl(url: string): void {
    this.webhooks?.setUrl(url);
  }

  get webhookStats(): WebhookStats {
    return this.webhooks?.stats ?? { emitted: 0, sent: 0, delivered: 0, dropped: 0, duplicated: 0, retried: 0, failed: 0 };
  }
}
