// A stateful, local stand-in for a ServiceNow instance: the Table API, OAuth,
// rate limits and injected faults, written once as msw handlers for in-process
// tests (setupServer) and real HTTP (connectors/simulator-http.ts).

import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'msw';
import { ChangegateError } from '../../../src/errors.ts';
import { AttachmentApi, DEFAULT_ATTACHMENT_MAX_BYTES, SYS_ATTACHMENT } from './attachment-api.ts';
import { bulkChangeRows, type BulkOptions } from './bulk-changes.ts';
import { CHANGE_REQUEST } from './change-request-schema.ts';
import { ensureReferenceData } from './demo-catalog.ts';
import { assertTimeZone } from './glide-time.ts';
import { SimStore, SimTable, type TieOrder } from './record-store.ts';
import { stableSysId } from './seeded-random.ts';
import { RecordSerializer } from './record-serializer.ts';
import { RecordWriter, type ChildRowsNamed, type SimWriteEvent, type WriteContext, type WriteResult } from './record-writer.ts';
import { SimAuth, type BasicCredential, type OAuthClient } from './sim-auth.ts';
import { SimFaults } from './sim-faults.ts';
import { buildHandlers, type LoggedRequest } from './sim-handlers.ts';
import { SimRateLimit, type RateLimitOptions } from './sim-rate-limit.ts';
import { CMN_SCHEDULE, CMN_SCHEDULE_SPAN } from './schedule-tables.ts';
import { TableApi } from './table-api.ts';
import * as schemas from './table-schema.ts';
import type { CustomField, Row } from './table-schema.ts';
import { insertFleet } from './skewed-fleet.ts';

export type { CustomField, Row } from './table-schema.ts';
export type { SimFault, FaultFilter } from './sim-faults.ts';
export type { LoggedRequest } from './sim-handlers.ts';
export type { ChildRowsNamed, SimWriteEvent } from './record-writer.ts';
export type { RateLimitOptions } from './sim-rate-limit.ts';
export type { TieOrder } from './record-store.ts';

export interface ServiceNowSimulatorOptions {
  /** Instance URL the handlers answer for, e.g. `https://acme.service-now.com`. */
  baseUrl: string;
  auth?: {
    basic?: BasicCredential[];
    oauth?: OAuthClient[];
    /** `expires_in` of issued access tokens; default 1799. */
    tokenExpiresInSec?: number;
  };
  /** IANA zone of the API user, for display values; default America/Los_Angeles. */
  timeZone?: string;
  /**
   * How a literal date-time in an encoded query (`sys_updated_on>=2026-03-01 10:00:00`) is read:
   * 'utc', as the stored value (what reference §1.3 infers, unverified), or 'user', as a wall time
   * in the API user's `timeZone`. Default 'utc'.
   */
  queryDates?: 'utc' | 'user';
  clock?: () => Date;
  /** ACL emulation: rows for which this returns true are invisible to the API. */
  hidden?: (record: Row, table: string) => boolean;
  /** Field-level write ACL emulation: fields for which this returns true are ignored in API writes (200, not written). */
  writeDenied?: (field: string, table: string) => boolean;
  rateLimit?: RateLimitOptions;
  /** Answer requests for any host (useful behind a proxy); default false. */
  anyOrigin?: boolean;
  /**
   * Custom string columns on change_request, e.g. `['u_repositories', 'u_commits']`; give
   * `{ name, maxLength }` for a column whose longer values the instance cuts to its `max_length`.
   * A field the instance does not have is ignored in writes (200) and left out of answers.
   */
  customFields?: CustomField[];
  /** `com.glide.attachment.max_size` in bytes; default 1024 MB. */
  attachmentMaxBytes?: number;
  /** The order of rows an ORDERBY leaves tied (ServiceNow promises none); default `inserted`, oldest first. */
  tieOrder?: TieOrder;
  /**
   * The table a change of an extension class (`sys_class_name` other than change_request) names in its
   * journal rows (`sys_journal_field.name`) and approvals (`sysapproval_approver.source_table`): `table`,
   * change_request (default), or `class`, its class. Unverified either way (reference §3.1, §4).
   */
  childRowsNamed?: ChildRowsNamed;
}

export interface DriverOptions {
  /** Time of the write; default the simulator clock. */
  at?: Date;
  /** user_name recorded as sys_updated_by / journal author; default `admin`. */
  user?: string;
  /** Approvals re-derive the change's `approval`; journal entries bump the change. Default true. */
  touchParent?: boolean;
}

/** The sys_id of `admin` in every demo instance (change_request_table_api_record.json). */
export const ADMIN_SYS_ID = '6816f79cc0a8016401c5a33be04be441';

export class ServiceNowSimulator {
  readonly store: SimStore;
  readonly faults: SimFaults;
  readonly timeZone: string;
  /** Every request the handlers saw, faulted ones included. */
  readonly requests: LoggedRequest[] = [];
  hidden: ((record: Row, table: string) => boolean) | undefined;
  writeDenied: ((field: string, table: string) => boolean) | undefined;
  private base: URL;
  private readonly anyOrigin: boolean;
  private readonly clock: () => Date;
  private readonly auth: SimAuth;
  private limiter: SimRateLimit | undefined;
  private readonly writer: RecordWriter;
  private readonly listeners = new Set<(event: SimWriteEvent) => void>();
  private readonly liveHandlers: RequestHandler[];
  private readonly attachmentApi: AttachmentApi;
  /** `com.glide.attachment.max_size`, in bytes. */
  attachmentMaxBytes: number;

  constructor(options: ServiceNowSimulatorOptions) {
    this.base = new URL(options.baseUrl);
    this.store = new SimStore({ tieOrder: options.tieOrder ?? 'inserted' });
    this.anyOrigin = options.anyOrigin ?? false;
    this.clock = options.clock ?? (() => new Date());
    this.timeZone = options.timeZone ?? 'America/Los_Angeles';
    assertTimeZone(this.timeZone);
    this.hidden = options.hidden;
    this.writeDenied = options.writeDenied;
    const now = () => this.clock();
    this.faults = new SimFaults(now);
    const basic = options.auth?.basic ?? [{ username: 'admin', password: 'admin' }];
    this.auth = new SimAuth(
      {
        basic,
        oauth: options.auth?.oauth ?? [{ clientId: 'changegate-demo', clientSecret: 'demo-secret' }],
        expiresInSec: options.auth?.tokenExpiresInSec ?? 1799,
        refreshExpiresInSec: 8_640_000,
      },
      now,
    );
    this.limiter = options.rateLimit ? new SimRateLimit(options.rateLimit, now) : undefined;
    this.store.add(new SimTable(schemas.withCustomFields(CHANGE_REQUEST, options.customFields ?? [])));
    this.store.add(new SimTable(schemas.SYSAPPROVAL_APPROVER, ['sysapproval']));
    this.store.add(new SimTable(schemas.SYS_JOURNAL_FIELD, ['element_id']));
    this.store.add(new SimTable(schemas.SYS_USER, ['user_name']));
    this.store.add(new SimTable(schemas.SYS_USER_GROUP));
    this.store.add(new SimTable(schemas.SYS_USER_GRMEMBER));
    this.store.add(new SimTable(schemas.CMDB_CI));
    this.store.add(new SimTable(schemas.CMDB_CI_SERVICE));
    this.store.add(new SimTable(schemas.STD_CHANGE_PRODUCER_VERSION));
    this.store.add(new SimTable(CMN_SCHEDULE));
    this.store.add(new SimTable(CMN_SCHEDULE_SPAN, ['schedule']));
    this.store.add(new SimTable(SYS_ATTACHMENT, ['table_sys_id']));
    this.attachmentMaxBytes = options.attachmentMaxBytes ?? DEFAULT_ATTACHMENT_MAX_BYTES;
    this.writer = new RecordWriter(
      this.store,
      () => randomUUID().replaceAll('-', ''),
      (e) => {
        for (const l of this.listeners) l(e);
      },
      options.childRowsNamed,
    );
    for (const { username } of basic) {
      const isAdmin = username === 'admin';
      this.insertRecord('sys_user', {
        sys_id: isAdmin ? ADMIN_SYS_ID : stableSysId(`sys_user:${username}`),
        user_name: username,
        name: isAdmin ? 'System Administrator' : username,
        first_name: isAdmin ? 'System' : username,
        last_name: isAdmin ? 'Administrator' : '',
        active: 'true',
      });
    }
    const serializer = new RecordSerializer(this.store);
    const tableApi = new TableApi({
      store: this.store,
      writer: this.writer,
      serializer,
      timeZone: this.timeZone,
      queryDates: options.queryDates ?? 'utc',
      instanceUrl: () => this.baseUrl,
      now,
      isHidden: (row, table) => this.hidden?.(row, table) === true,
      isWriteDenied: (field, table) => this.writeDenied?.(field, table) === true,
    });
    this.attachmentApi = new AttachmentApi({
      store: this.store,
      writer: this.writer,
      serializer,
      tableApi,
      instanceUrl: () => this.baseUrl,
      now,
      maxBytes: () => this.attachmentMaxBytes,
      isHidden: (row, table) => this.hidden?.(row, table) === true,
    });
    this.liveHandlers = buildHandlers({
      relativePath: (url) => this.relativePath(url),
      faults: this.faults,
      auth: this.auth,
      rateLimit: () => this.limiter,
      tableApi,
      attachmentApi: this.attachmentApi,
      now,
      log: (entry) => this.requests.push(entry),
    });
  }

  /** Instance URL without a trailing slash. */
  get baseUrl(): string {
    return this.base.href.replace(/\/$/, '');
  }

  /** Re-points the handlers, e.g. at the URL `startSimulatorServer` picked. */
  setBaseUrl(url: string): void {
    this.base = new URL(url);
  }

  now(): Date {
    return this.clock();
  }

  /** The msw handlers. The same array every call; faults live inside it, so a copy taken by setupServer still sees them. */
  handlers(): RequestHandler[] {
    return this.liveHandlers;
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  /** Invalidates issued access tokens (and refresh tokens with `includeRefresh`). */
  revokeTokens(options: { includeRefresh?: boolean } = {}): void {
    this.auth.revokeTokens(options);
  }

  setRateLimit(options: RateLimitOptions | undefined): void {
    this.limiter = options ? new SimRateLimit(options, () => this.clock()) : undefined;
  }

  /** Subscribes to every committed write (to emulate outbound webhooks, for instance). */
  onWrite(listener: (event: SimWriteEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  createChange(fields: Record<string, unknown>, opts: DriverOptions = {}): Row {
    return { ...this.writer.insert('change_request', fields, this.context(opts)) };
  }

  /** Updates like a trusted script: no business rules unless `enforceRules` (then a violation throws CG_TRANSITION_BLOCKED). */
  updateChange(sysId: string, fields: Record<string, unknown>, opts: DriverOptions & { enforceRules?: boolean } = {}): Row {
    const ctx = { ...this.context(opts), enforceRules: opts.enforceRules ?? false };
    return this.unwrap(this.writer.update('change_request', sysId, fields, ctx), 'change_request', sysId);
  }

  /** Adds an approver row for a change; `approver` may be a sys_id or a user_name. */
  addApproval(changeSysId: string, fields: Record<string, unknown>, opts: DriverOptions = {}): Row {
    if (!this.store.require('change_request').get(changeSysId)) throw this.notFound('change_request', changeSysId);
    const approver = this.userRef(fields.approver);
    const row = this.writer.insert('sysapproval_approver', { ...fields, approver, sysapproval: changeSysId, document_id: changeSysId }, this.context(opts));
    return { ...row };
  }

  updateApproval(sysId: string, fields: Record<string, unknown>, opts: DriverOptions = {}): Row {
    return this.unwrap(this.writer.update('sysapproval_approver', sysId, fields, this.context(opts)), 'sysapproval_approver', sysId);
  }

  /** Appends a work note or comment the way a journal write does (the change is updated too). */
  addJournal(changeSysId: string, element: 'work_notes' | 'comments', text: string, author?: string, opts: DriverOptions = {}): Row {
    const ctx = this.context(author === undefined ? opts : { ...opts, user: author });
    return this.unwrap(this.writer.appendJournal('change_request', changeSysId, element, text, ctx), 'change_request', changeSysId);
  }

  getChange(sysId: string): Row | undefined {
    const row = this.store.require('change_request').get(sysId);
    return row ? { ...row } : undefined;
  }

  listChanges(): Row[] {
    return [...this.store.require('change_request').values()].map((r) => ({ ...r }));
  }

  approvalsFor(changeSysId: string): Row[] {
    return this.store.require('sysapproval_approver').lookup('sysapproval', changeSysId).map((r) => ({ ...r }));
  }

  journalFor(sysId: string): Row[] {
    return this.store.require('sys_journal_field').lookup('element_id', sysId).map((r) => ({ ...r }));
  }

  /** The sys_attachment records of a record (any table), oldest first. */
  attachmentsFor(tableSysId: string): Row[] {
    return this.store.require('sys_attachment').lookup('table_sys_id', tableSysId).map((r) => ({ ...r }));
  }

  /** The bytes stored for an attachment. */
  attachmentContent(attachmentSysId: string): Uint8Array | undefined {
    return this.attachmentApi.content(attachmentSysId);
  }

  /** Rows of any table, e.g. `rows('sys_user')`. */
  rows(table: string): Row[] {
    return [...this.store.require(table).values()].map((r) => ({ ...r }));
  }

  /** Inserts into any held table with the usual defaults (users, groups, CIs for demo data). */
  insertRecord(table: string, fields: Record<string, unknown>, opts: DriverOptions = {}): Row {
    return { ...this.writer.insert(table, fields, this.context(opts)) };
  }

  /** Stores `record` exactly as given (no sys_id, malformed dates, non-string values): for bad-input tests. */
  insertRawChange(record: Record<string, unknown>): void {
    this.store.require('change_request').put(record as Row);
  }

  /** Creates `n` varied, realistic changes fast (50,000 in about a second); deterministic per seed. */
  /** The skewed fleets whose CI records this simulator holds (bulkCreateChanges inserts each once). */
  private readonly fleets = new WeakSet<object>();

  bulkCreateChanges(n: number, options: BulkOptions = {}): Row[] {
    ensureReferenceData(this);
    if (options.fleet !== undefined && !this.fleets.has(options.fleet)) {
      insertFleet(this, options.fleet);
      this.fleets.add(options.fleet);
    }
    const table = this.store.require('change_request');
    const now = this.clock();
    const ctx = { template: this.writer.changeTemplate('admin', now), firstNumber: this.writer.reserveChangeNumbers(n), now };
    const rows = bulkChangeRows(n, ctx, options);
    for (const row of rows) table.put(row);
    return rows;
  }

  private context(opts: DriverOptions): WriteContext {
    return { user: opts.user ?? 'admin', at: opts.at ?? this.clock(), trusted: true, enforceRules: false, touchParent: opts.touchParent ?? true };
  }

  private unwrap(result: WriteResult, table: string, sysId: string): Row {
    if (result.ok) return { ...result.row };
    if (result.status === 404) throw this.notFound(table, sysId);
    throw new ChangegateError('CG_TRANSITION_BLOCKED', `Business Rule '${result.rule}' aborted the update: ${result.reason}`, {
      details: { table, sysId, rule: result.rule },
    });
  }

  private notFound(table: string, sysId: string): ChangegateError {
    return new ChangegateError('CG_NOT_FOUND', `simulator has no ${table} record ${sysId}`, { details: { table, sysId } });
  }

  private userRef(value: unknown): unknown {
    if (typeof value !== 'string' || this.store.require('sys_user').get(value)) return value;
    return this.writer.userSysId(value) || value;
  }

  private relativePath(url: URL): string | undefined {
    if (!this.anyOrigin && url.origin !== this.base.origin) return undefined;
    const prefix = this.base.pathname.replace(/\/$/, '');
    if (prefix && !url.pathname.startsWith(prefix)) return undefined;
    return url.pathname.slice(prefix.length) || '/';
  }
}
