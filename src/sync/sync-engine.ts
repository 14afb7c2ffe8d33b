// The one sync loop every connector shares. It owns cursors, the overlap
// re-read, the signpost, ACL-short pages and persistence; connectors only read
// one page at a time. Who runs an instance is not this object's decision: the
// run lock keeps two runs apart within a process, and the instance's lease
// (lease-keeper.ts) keeps processes sharing a store apart and fences their
// page writes.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConnectorInstance, PageResult, StreamCursor, StreamItem } from '../kit/connector.ts';
import { changeId } from '../domain/change.ts';
import { asChangegateError, ChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../observability/metrics.ts';
import { Readiness } from '../observability/readiness.ts';
import type { ApplyResult, ChangeStore } from '../store/change-store.ts';
import { InProcessRunLocks } from '../store/in-process-run-locks.ts';
import type { RunLocks } from '../store/run-locks.ts';
import { DEFAULT_RUN_LOCK_TTL_MS, HeldRunLock } from './held-run-lock.ts';
import type { HeldLease, LeaseKeeper } from './lease-keeper.ts';

export interface SyncProgress {
  instance: string;
  stream: string;
  /** Records read so far in this stream. */
  records: number;
  /** Rows the source said match from where this run started (null if unknown). */
  total: number | null;
  /** Since this stream began (its rate and ETA are the stream's own, not diluted by the streams before it). */
  elapsedMs: number;
}

export interface StreamReport {
  stream: string;
  pages: number;
  apiCalls: number;
  records: number;
  written: number;
  unchanged: number;
  stale: number;
  invalid: number;
  /** The invalid records by error code: how many, and the first one's message (what to fix). */
  rejected: { code: string; count: number; example: string }[];
}

export interface SyncReport {
  instance: string;
  full: boolean;
  startedAt: string;
  finishedAt: string;
  streams: StreamReport[];
}

export interface SyncOptions {
  full?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: SyncProgress) => void;
}

export interface SyncEngineDeps {
  store: ChangeStore;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
  /** Who may run an instance now (default: locks held in this process only). */
  runLocks?: RunLocks;
  /**
   * Which process syncs an instance when several share the store: a run
   * starts only under the instance's lease, stops at the next page once the
   * lease is lost, and writes every page under its fence (refused by the
   * store once a newer holder wrote). Absent: the run lock alone decides.
   */
  leases?: LeaseKeeper;
  /** How long a run's lock holds without renewal; renewed after every page (default 15 min). */
  runLockTtlMs?: number;
  /** The lock owner this engine presents (default: host, process id and a random suffix). */
  owner?: string;
  /** Where run starts, finishes and failures are written for /readyz (default: a state of its own). */
  readiness?: Readiness;
  /**
   * Told after a run that stored anything, in chunks of at most OWED_CHUNK, which
   * changes of the instance are owed an assessment: those it wrote, their
   * approvals and journal included, and any a crash or a failed assessment left
   * owed (read from the store, so a run holds no list of what it wrote); also
   * after a run that failed midway. Per webhook re-fetch, the changes it wrote.
   *
   * During the run's last stream, also after each page it stored, with
   * `midRun: true`: the streams before it brought these changes' approvals and
   * journal, so each page's changes hold all the run brings them and may be
   * judged while the next page is fetched. What a change's verdict reads of other
   * changes (its neighbours) may still be on a later page: the listener leaves
   * such changes owed, for the end of the run.
   * Errors are logged, never fail the sync.
   */
  onChangesWritten?: (instance: string, changeIds: string[], context?: { midRun: boolean }) => Promise<void>;
}

export interface InstanceSettings {
  connector: ConnectorInstance;
  pageSize: number;
  overlapMs: number;
  /** How long the mirror may go without a successful sync before /readyz reports it stale (default 15 min). */
  staleAfterMs?: number;
  /** Whether a stale mirror makes /readyz answer 503 (the instance set `unreadyAfter`); default false. */
  unreadyWhenStale?: boolean;
}

/** Owed changes read from the store per call of `onChangesWritten` after a run (the store's page limit). */
export const OWED_CHUNK = 1_000;

function minusMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) - ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Never bookmark past the signpost: a record stamped in the source's future is read again next run. */
function bookmark(last: StreamCursor, signpost: string): StreamCursor {
  return Date.parse(last.updatedAt) <= Date.parse(signpost) ? last : { updatedAt: signpost, id: '' };
}

export class SyncEngine {
  readonly #deps: SyncEngineDeps;
  readonly #instances = new Map<string, InstanceSettings>();
  /** This process's run of each instance, for a caller that asks to `join` it and for `idle()`; exclusion is the run lock's. */
  readonly #running = new Map<string, Promise<SyncReport>>();
  readonly #locks: RunLocks;
  readonly #owner: string;
  readonly #readiness: Readiness;
  /** Aborted by `stop()`: every run in flight stops at its next request or page, and no run starts after it. */
  readonly #stopping = new AbortController();

  constructor(deps: SyncEngineDeps) {
    this.#deps = deps;
    this.#locks = deps.runLocks ?? new InProcessRunLocks();
    this.#owner = deps.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#readiness = deps.readiness ?? new Readiness(() => this.#now());
  }

  /** Run state per instance, written by this engine; read by /readyz and the validate endpoint. */
  get readiness(): Readiness {
    return this.#readiness;
  }

  register(settings: InstanceSettings): void {
    this.#instances.set(settings.connector.instanceId, settings);
    this.#readiness.registered(settings.connector.instanceId, settings.staleAfterMs, settings.unreadyWhenStale);
  }

  instanceIds(): string[] {
    return [...this.#instances.keys()];
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    await Promise.allSettled(this.#running.values());
  }

  /**
   * For shutdown: each run in flight stops at once (its request in flight is
   * aborted; what its pages stored stays stored, cursor included, so the next
   * run resumes there) and fails with CG_SHUTTING_DOWN; a run asked for after
   * this is refused the same way. The pass over what a stopped run left owed is
   * skipped: those changes stay owed in the store, for the next process's owed
   * pass. Resolves once no run is in progress.
   */
  async stop(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort(new ChangegateError('CG_SHUTTING_DOWN', 'the process is shutting down: the sync stopped; what it stored stays stored and the next run resumes from its cursor'));
    }
    await this.idle();
  }

  /** A run of the instance is in progress in this process. */
  isRunning(instance: string): boolean {
    return this.#readiness.isSyncing(instance);
  }

  /** When the last run of the instance succeeded; null when none has since this process started. */
  lastSuccessAt(instance: string): Date | null {
    return this.#readiness.lastSuccessAt(instance);
  }

  /**
   * One run at a time per instance, wherever it runs: the run lock decides. A
   * second caller gets CG_SYNC_BUSY unless it asks to `join` a run in progress
   * in this process.
   */
  sync(instance: string, options: SyncOptions & { join?: boolean } = {}): Promise<SyncReport> {
    const settings = this.#instances.get(instance);
    if (!settings) {
      return Promise.reject(new ChangegateError('CG_INSTANCE_UNKNOWN', `no configured instance "${instance}"`, { details: { instance } }));
    }
    const current = this.#running.get(instance);
    if (current && options.join) return current;
    if (this.#stopping.signal.aborted) {
      return Promise.reject(new ChangegateError('CG_SHUTTING_DOWN', `the process is shutting down: no sync of "${instance}" starts`, { details: { instance } }));
    }
    const run = this.#locked(settings, options);
    if (current === undefined) {
      this.#running.set(instance, run);
      run
        .finally(() => {
          if (this.#running.get(instance) === run) this.#running.delete(instance);
        })
        .catch(() => undefined);
    }
    return run;
  }

  #now(): Date {
    return this.#deps.clock?.() ?? new Date();
  }

  /** Takes the instance's run lock, runs, and lets it go; a lock held elsewhere is CG_SYNC_BUSY. */
  async #locked(settings: InstanceSettings, options: SyncOptions): Promise<SyncReport> {
    const instance = settings.connector.instanceId;
    const held = await HeldRunLock.take(this.#locks, instance, this.#owner, this.#deps.runLockTtlMs ?? DEFAULT_RUN_LOCK_TTL_MS, this.#now());
    if (held === null) {
      this.#deps.metrics.syncRuns.inc({ instance, outcome: 'busy' });
      throw new ChangegateError('CG_SYNC_BUSY', `a sync of "${instance}" is already running`, { details: { instance } });
    }
    let lease: HeldLease | null = null;
    if (this.#deps.leases !== undefined) {
      lease = await this.#deps.leases.ensure(instance).catch(async (err: unknown) => {
        await held.release().catch(() => undefined);
        throw err;
      });
      if (lease === null) {
        await held.release().catch(() => undefined);
        const holder = await this.#deps.leases.currentHolder(instance);
        this.#deps.metrics.syncRuns.inc({ instance, outcome: 'busy' });
        throw new ChangegateError('CG_SYNC_BUSY', `"${instance}" is synced by another process${holder === null ? '' : ` (${holder})`} holding its lease`, { details: { instance, ...(holder === null ? {} : { holder }) } });
      }
    }
    this.#readiness.runStarted(instance);
    try {
      // Stopped by whichever comes first: the caller, a lost lease, shutdown.
      const signals = [this.#stopping.signal, ...(options.signal ? [options.signal] : []), ...(lease === null ? [] : [lease.signal])];
      const report = await this.#run(settings, { ...options, signal: AbortSignal.any(signals) }, held, lease);
      this.#readiness.runFinished(instance, this.#now());
      return report;
    } catch (err) {
      this.#readiness.runFinished(instance, this.#now(), { code: asChangegateError(err).code });
      throw err;
    } finally {
      await held.release().catch((err: unknown) => {
        const error = asChangegateError(err);
        this.#deps.logger.warn({ instance, code: error.code, err: error }, `releasing the run lock of ${instance} failed; it lapses on its own: ${error.message}`);
      });
    }
  }

  /** Re-fetch one record (a webhook's or a reconcile's) and store it; the payload that triggered it is never trusted. */
  async syncOne(instance: string, nativeId: string): Promise<ApplyResult | null> {
    const settings = this.#instances.get(instance);
    if (!settings) throw new ChangegateError('CG_INSTANCE_UNKNOWN', `no configured instance "${instance}"`, { details: { instance } });
    const items = await settings.connector.fetchOne(nativeId);
    if (!items) return null;
    const result = await this.#deps.store.applyPage(instance, 'webhook', items, null);
    this.#count(instance, 'webhook', items, result);
    const written = new Set<string>();
    this.#collect(settings.connector, items, result, written);
    await this.#notify(instance, written);
    return result;
  }

  async #run(settings: InstanceSettings, options: SyncOptions, held: HeldRunLock, lease: HeldLease | null): Promise<SyncReport> {
    const { connector } = settings;
    const instance = connector.instanceId;
    const clock = (): Date => this.#now();
    const started = clock();
    const log = this.#deps.logger.child({ instance });
    const stopTimer = this.#deps.metrics.syncDuration.startTimer({ instance });
    if (options.full) await this.#deps.store.resetCursors(instance);
    const streams: StreamReport[] = [];
    const stored = { any: false };
    try {
      for (const [i, stream] of connector.streams.entries()) {
        const last = i === connector.streams.length - 1;
        streams.push(await this.#syncStream(settings, stream.name, started, options, stored, held, lease, last));
      }
    } catch (err) {
      // A lost lease or shutdown is why the run stopped, whatever the aborted request threw.
      const error = asChangegateError(lease?.signal.aborted === true ? lease.signal.reason : this.#stopping.signal.aborted ? this.#stopping.signal.reason : err);
      if (error.code === 'CG_SHUTTING_DOWN') {
        this.#deps.metrics.syncRuns.inc({ instance, outcome: 'stopped' });
        log.info({ code: error.code }, `sync of ${instance} stopped for shutdown; what it stored stays stored, and the next run resumes from its cursor`);
        throw error;
      }
      // The store saw a newer fence: the keeper lets the lease go, so this process stops seeking to work the instance under it.
      if (lease !== null && error.code === 'CG_LEASE_LOST') this.#deps.leases?.refused(instance, lease.fence);
      this.#deps.metrics.syncRuns.inc({ instance, outcome: 'failed' });
      this.#deps.metrics.syncErrors.inc({ instance, code: error.code });
      log.error({ code: error.code, kind: error.kind, details: error.details, err: error }, `sync of ${instance} failed: ${error.message}`);
      throw error;
    } finally {
      stopTimer();
      // After every stream, so a change is judged with the approvals and notes this run brought
      // (on shutdown, not at all or only in part: see #notifyOwed).
      if (stored.any) await this.#notifyOwed(instance);
    }
    this.#deps.metrics.syncRuns.inc({ instance, outcome: 'ok' });
    const succeeded = clock();
    this.#deps.metrics.lastSuccess.set({ instance }, succeeded.getTime() / 1000);
    // For the other processes sharing the store: their validate endpoint judges the mirror's staleness by it.
    await this.#deps.store.noteSyncSucceeded(instance, succeeded).catch((err: unknown) => {
      const error = asChangegateError(err);
      log.warn({ code: error.code, err: error }, `recording the successful sync of ${instance} in the store failed: ${error.message}`);
    });
    this.#deps.metrics.mirroredChanges.set({ instance }, await this.#deps.store.countChanges(instance));
    const report: SyncReport = { instance, full: options.full ?? false, startedAt: started.toISOString(), finishedAt: clock().toISOString(), streams };
    log.info({ streams }, `sync of ${instance} finished`);
    return report;
  }

  async #syncStream(
    settings: InstanceSettings,
    stream: string,
    started: Date,
    options: SyncOptions,
    stored: { any: boolean },
    held: HeldRunLock,
    lease: HeldLease | null,
    lastStream: boolean,
  ): Promise<StreamReport> {
    const { connector, pageSize, overlapMs } = settings;
    const instance = connector.instanceId;
    const store = this.#deps.store;
    const streamStarted = Date.now();
    const signpost = started.toISOString().replace(/\.\d{3}Z$/, 'Z');
    // Stop chasing the head once past the signpost by more than the overlap:
    // what is newer is read next run, and the overlap absorbs clock skew.
    const horizon = Date.parse(signpost) + overlapMs;
    const saved = await store.getCursor(instance, stream);
    let after: StreamCursor | null = saved ? { updatedAt: minusMs(saved.updatedAt, overlapMs), id: '' } : null;
    let offset = 0;
    let total: number | null = null;
    const report: StreamReport = { stream, pages: 0, apiCalls: 0, records: 0, written: 0, unchanged: 0, stale: 0, invalid: 0, rejected: [] };
    const read = (from: StreamCursor | null, skip: number): Promise<PageResult> => {
      options.signal?.throwIfAborted();
      const request = connector.readPage({ stream, after: from, offset: skip, pageSize, ...(options.signal ? { signal: options.signal } : {}) });
      // If storing the current page fails first, this rejection must not go unhandled.
      request.catch(() => undefined);
      return request;
    };
    // The next page's position is known as soon as a page arrives, so it is
    // fetched while the current one is mapped and stored: the sync costs about
    // the larger of the two, not their sum.
    let pending: Promise<PageResult> | null = read(after, offset);
    while (pending) {
      const page: PageResult = await pending;
      pending = null;
      report.pages += 1;
      report.apiCalls += page.apiCalls;
      if (total === null) total = page.total;
      if (page.hasMore) {
        if (page.last === null) {
          // Every row of the page was hidden (ServiceNow applies ACLs after the limit): skip past them.
          offset += pageSize;
          pending = read(after, offset);
        } else if (Date.parse(page.last.updatedAt) <= horizon) {
          after = page.last;
          offset = 0;
          pending = read(after, offset);
        }
      }
      // Saved in the same step as the page's items, never before them.
      // A lease lost while the page was read: nothing of it is stored (the next holder reads it again).
      options.signal?.throwIfAborted();
      const result = await store.applyPage(instance, stream, page.items, page.last ? bookmark(page.last, signpost) : null, lease === null ? {} : { fence: lease.fence });
      this.#count(instance, stream, page.items, result);
      if (result.changesWritten + result.approvalsWritten + result.journalWritten > 0) stored.any = true;
      report.records += page.items.length;
      report.written += result.changesWritten + result.approvalsWritten + result.journalWritten;
      report.unchanged += result.changesUnchanged;
      report.stale += result.changesStale;
      report.invalid += result.invalid;
      for (const item of page.items) {
        if (item.kind !== 'invalid') continue;
        const known = report.rejected.find((r) => r.code === item.error.code);
        if (known) known.count += 1;
        else report.rejected.push({ code: item.error.code, count: 1, example: `${item.ref}: ${item.error.message}` });
      }
      if (lastStream) {
        // Judged while the next page is on its way (it was requested above).
        const written = new Set<string>();
        this.#collect(connector, page.items, result, written, true);
        await this.#notify(instance, written, { midRun: true });
      }
      options.onProgress?.({ instance, stream, records: report.records, total, elapsedMs: Date.now() - streamStarted });
      // Still ours? (A lapsed lock stops the run: another may hold the instance now.)
      await held.renew(this.#now());
    }
    return report;
  }

  /** The changes a stored page may have touched (the store reports counts, not ids; unchanged ones are cheap for the listener to skip). */
  #collect(connector: ConnectorInstance, items: readonly StreamItem[], result: ApplyResult, into: Set<string>, changesOnly = false): void {
    if (this.#deps.onChangesWritten === undefined || result.changesWritten + result.approvalsWritten + result.journalWritten === 0) return;
    for (const item of items) {
      if (item.kind === 'change') into.add(item.change.id);
      // Mid-run, a change told is one whose own record is on the page: a child's parent may be on a later page.
      else if (item.kind !== 'invalid' && !changesOnly) into.add(changeId(connector.system, connector.instanceId, item.changeNativeId));
    }
  }

  /** What the run left owed, read back from the store a chunk at a time: memory stays flat however many changes a run wrote. */
  async #notifyOwed(instance: string): Promise<void> {
    const hook = this.#deps.onChangesWritten;
    if (hook === undefined) return;
    try {
      // By id, after the last one told: a change whose assessment fails stays owed without being told again in this run.
      let after: string | undefined;
      // On shutdown the pass does not start, or stops between chunks: what it has not reached stays owed, for the next process.
      while (!this.#stopping.signal.aborted) {
        const ids = await this.#deps.store.listOwedAssessments({ instance, limit: OWED_CHUNK, ...(after === undefined ? {} : { after }) });
        if (ids.length === 0) break;
        await hook(instance, ids);
        after = ids.at(-1);
      }
    } catch (err) {
      const error = asChangegateError(err);
      this.#deps.logger.error({ instance, code: error.code, err: error }, `handling the changes a sync of ${instance} wrote failed: ${error.message}`);
    }
  }

  async #notify(instance: string, written: Set<string>, context?: { midRun: boolean }): Promise<void> {
    const hook = this.#deps.onChangesWritten;
    if (hook === undefined || written.size === 0) return;
    try {
      await hook(instance, [...written], ...(context === undefined ? [] : [context]));
    } catch (err) {
      const error = asChangegateError(err);
      this.#deps.logger.error({ instance, code: error.code, err: error }, `handling the changes a sync of ${instance} wrote failed: ${error.message}`);
    }
  }

  #count(instance: string, stream: string, items: readonly StreamItem[], result: ApplyResult): void {
    const m = this.#deps.metrics.syncRecords;
    if (result.changesWritten) m.inc({ instance, stream, outcome: 'written' }, result.changesWritten);
    if (result.approvalsWritten) m.inc({ instance, stream, outcome: 'written' }, result.approvalsWritten);
    if (result.journalWritten) m.inc({ instance, stream, outcome: 'written' }, result.journalWritten);
    if (result.changesUnchanged) m.inc({ instance, stream, outcome: 'unchanged' }, result.changesUnchanged);
    if (result.changesStale) m.inc({ instance, stream, outcome: 'stale' }, result.changesStale);
    for (const item of items) {
      if (item.kind !== 'invalid') continue;
      m.inc({ instance, stream, outcome: 'invalid' });
      this.#deps.metrics.rejectedRecords.inc({ instance, stream, code: item.error.code });
      this.#deps.logger.error(
        { instance, stream, ref: item.ref, code: item.error.code, details: item.error.details },
        `record ${item.ref} rejected: ${item.error.message}`,
      );
    }
  }
}
