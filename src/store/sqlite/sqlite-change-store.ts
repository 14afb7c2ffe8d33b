// The embedded store: one SQLite file (WAL) through the built-in `node:sqlite`.
// A page is one transaction: its items, then its cursor, or nothing at all
// (written by sqlite-page-writer.ts); the reads answer from the read cache
// while the mirror is unchanged.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StreamCursor, StreamItem } from '../../kit/connector.ts';
import type { Approval, Change, JournalEntry, MirroredChange, NeighbourChange } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import { diffChanges } from '../change-diff.ts';
import type {
  ApplyPageOptions,
  ApplyResult,
  ApprovalHistoryQuery,
  ChangePage,
  ChangeQuery,
  ChangeStore,
  FieldDiff,
  GetChangeOptions,
  HistoryApproval,
  RejectedRecord,
  Revision,
  IndexedQuery,
  RevisionAuthor,
  RevisionHistoryQuery,
  TouchingQuery,
} from '../change-store.ts';
import { clampLimit, sinceKey } from '../list-params.ts';
import { deepFreeze, MirrorReadCache, type MirrorReadCacheOptions, type ReadCacheStats } from '../mirror-read-cache.ts';
import { SqliteNeighbours } from './sqlite-neighbours.ts';
import { SqlitePageWriter } from './sqlite-page-writer.ts';
import { decodeListCursor, encodeListCursor } from '../list-cursor.ts';
import { SqliteConnection, type SqliteConnectionOptions } from './sqlite-connection.ts';
import { migrate } from './sqlite-schema.ts';
import { prepareStatements, type ChangeRow, type RejectedRow, type RevisionRow, type Statements } from './sqlite-statements.ts';


// Per instance, the greatest lease fence its pages were written under (see
// ChangeStore.applyPage) and when its last sync succeeded (epoch ms). Created
// beside the migrations, idempotently: an older file gains it on open, and an
// instance without a row takes any fence.
const INSTANCE_SYNC_TABLE = 'CREATE TABLE IF NOT EXISTS instance_sync (instance TEXT NOT NULL PRIMARY KEY, fence INTEGER NOT NULL DEFAULT 0, last_success_at INTEGER) WITHOUT ROWID';


export class SqliteChangeStore implements ChangeStore {
  readonly #db: DatabaseSync;
  readonly #conn: SqliteConnection;
  readonly #stmt: Statements;
  /** Statements whose SQL depends on the call's shape (filters, list lengths), prepared on first use. */
  readonly #listStatements = new Map<string, StatementSync>();

  /** Parsed cores and children while the mirror is unchanged (validation reads the same active changes again and again). */
  readonly #cache: MirrorReadCache;
  readonly #neighbours: SqliteNeighbours;
  readonly #pages: SqlitePageWriter;
  readonly #fenceOf: StatementSync;
  readonly #noteSynced: StatementSync;
  readonly #lastSynced: StatementSync;

  private constructor(conn: SqliteConnection, cache: MirrorReadCacheOptions) {
    const db = conn.db;
    this.#conn = conn;
    this.#db = db;
    this.#stmt = prepareStatements(db);
    const generation = this.#stmt.mirrorGeneration;
    generation.setReturnArrays(true);
    this.#cache = new MirrorReadCache(() => (generation.get() as unknown as [number])[0], cache);
    this.#neighbours = new SqliteNeighbours(db, this.#cache, (id) => this.#coreById(id));
    this.#pages = new SqlitePageWriter(db, this.#stmt);
    this.#fenceOf = db.prepare('SELECT fence FROM instance_sync WHERE instance = ?');
    this.#noteSynced = db.prepare(
      'INSERT INTO instance_sync (instance, last_success_at) VALUES (?, ?) ON CONFLICT (instance) DO UPDATE SET last_success_at = excluded.last_success_at WHERE last_success_at IS NULL OR excluded.last_success_at > last_success_at',
    );
    this.#lastSynced = db.prepare('SELECT last_success_at FROM instance_sync WHERE instance = ?');
  }

  /** The greatest fence the instance's pages were written under; 0 before any fenced write (the in-process leases count on from it). */
  async fenceOf(instance: string): Promise<number> {
    return this.#conn.read('fenceOf', { instance }, () => (this.#fenceOf.get(instance) as { fence: number } | undefined)?.fence ?? 0);
  }

  /** A change without its payload by id, from the read cache or parsed once into it. */
  #coreById(id: string): Change | undefined {
    const cached = this.#cache.byId(id);
    if (cached !== undefined) return cached.change;
    const row = this.#stmt.coreById.get(id) as ChangeRow | undefined;
    return row === undefined ? undefined : this.#cache.add(JSON.parse(row.json) as Change, row.instance, row.native_id, row.json.length).change;
  }

  /**
   * Opens (creating the file and its parent directories if needed) and migrates. `':memory:'` gives a
   * private in-memory store. `cache` tunes the read cache of parsed changes (see mirror-read-cache.ts);
   * the defaults suit the service; `connection` the retry plumbing (sqlite-connection.ts).
   */
  static open(path: string, options: { cache?: MirrorReadCacheOptions; connection?: SqliteConnectionOptions } = {}): SqliteChangeStore {
    const setUp = (db: DatabaseSync): void => {
      migrate(db, path);
      db.exec(INSTANCE_SYNC_TABLE);
    };
    const conn = SqliteConnection.open(path, 'the SQLite store', options.connection ?? {}, setUp, { enableForeignKeyConstraints: false });
    return new SqliteChangeStore(conn, options.cache ?? {});
  }

  async applyPage(instance: string, stream: string, items: readonly StreamItem[], cursor: StreamCursor | null, options: ApplyPageOptions = {}): Promise<ApplyResult> {
    const observedAt = new Date().toISOString();
    // The page's work below is synchronous. Yielding first lets I/O the caller
    // just started (the engine requests the next page before storing this one)
    // leave the process, so the network wait overlaps with this work.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      // One transaction, retried whole while another process holds the lock (BEGIN IMMEDIATE: a busy store fails here, before any item).
      return await this.#conn.run('applyPage', { instance, stream }, () => {
        this.#db.exec('BEGIN IMMEDIATE');
        const result = this.#pages.write(instance, stream, items, cursor, options.fence, observedAt);
        this.#db.exec('COMMIT');
        return result;
      });
    } catch (err) {
      // A busy or faulty store keeps its own code (CG_STORE_BUSY, CG_STORE_UNAVAILABLE): readiness and the sync report it.
      if (!(err instanceof ChangegateError) || err.code !== 'CG_STORE_FAILED') throw err;
      const index = this.#pages.failedAt;
      const item = index >= 0 ? items[index] : undefined;
      throw new ChangegateError('CG_STORE_FAILED', `storing a page of ${instance}/${stream} failed; nothing of it was stored: ${messageOf(err.cause ?? err)}`, {
        cause: err.cause ?? err,
        details: { instance, stream, ...(item === undefined ? {} : { item: index, ref: itemRef(item) }) },
      });
    } finally {
      // Whatever the outcome, cached reads start over from what SQLite holds.
      this.#cache.invalidate();
    }
  }

  async noteSyncSucceeded(instance: string, at: Date): Promise<void> {
    await this.#conn.run('noteSyncSucceeded', { instance }, () => this.#noteSynced.run(instance, at.getTime()));
  }

  async lastSyncSucceeded(instance: string): Promise<Date | null> {
    const ms = await this.#conn.read('lastSyncSucceeded', { instance }, () => (this.#lastSynced.get(instance) as { last_success_at: number | null } | undefined)?.last_success_at ?? null);
    return ms === null ? null : new Date(ms);
  }

  async getCursor(instance: string, stream: string): Promise<StreamCursor | null> {
    return this.#conn.read('getCursor', { instance, stream }, () => {
      const row = this.#stmt.getCursor.get(instance, stream) as { updated_at: string; id: string } | undefined;
      return row === undefined ? null : { updatedAt: row.updated_at, id: row.id };
    });
  }

  async resetCursors(instance: string): Promise<void> {
    await this.#guard('resetCursors', { instance }, () => this.#stmt.resetCursors.run(instance));
  }

  async getChange(idOrKey: string, options: GetChangeOptions = {}): Promise<MirroredChange | null> {
    return this.#conn.read('getChange', { idOrKey }, () => {
      if (options.withoutRaw === true) return this.#getCore(idOrKey, options.instance, options.children, options.keep ?? true);
      const s = this.#stmt;
      const row = this.#findRow(idOrKey, options.instance, [s.changeById, s.changeByKey, s.changeByKeyOn]);
      if (row === undefined) return null;
      const change = JSON.parse(row.json) as Change;
      const wanted = options.children;
      if (wanted === undefined || (wanted.approvals && wanted.journal)) {
        return { change, ...children(s.childrenOf.all(row.instance, row.native_id, row.instance, row.native_id) as { kind: number; json: string }[]) };
      }
      return { change, approvals: wanted.approvals ? this.#approvalsOf(row.instance, row.native_id) : [], journal: wanted.journal ? this.#journalOf(row.instance, row.native_id) : [] };
    });
  }

  /** A change without its payload, from the read cache when the mirror has not changed since it was read. */
  #getCore(idOrKey: string, instance: string | undefined, wanted: GetChangeOptions['children'], keep: boolean): MirroredChange | null {
    this.#cache.refresh();
    let entry = idOrKey.includes(':') ? this.#cache.byId(idOrKey) : undefined;
    if (entry !== undefined && instance !== undefined && entry.instance !== instance) entry = undefined;
    entry ??= this.#cache.byKey(idOrKey, instance);
    const { approvals = true, journal = true } = wanted ?? {};
    if (entry === undefined) {
      const s = this.#stmt;
      const row = this.#findRow(idOrKey, instance, [s.coreById, s.coreByKey, s.coreByKeyOn]);
      if (row === undefined) return null;
      const change = JSON.parse(row.json) as Change;
      if (!keep) {
        return { change, approvals: approvals ? this.#approvalsOf(row.instance, row.native_id) : [], journal: journal ? this.#journalOf(row.instance, row.native_id) : [] };
      }
      entry = this.#cache.add(change, row.instance, row.native_id, row.json.length);
      if (entry.change.id !== idOrKey) this.#cache.rememberKey(idOrKey, instance, entry.change.id);
    }
    // Only what the caller reads: most validations need neither list and skip the statements entirely.
    if (approvals) entry.approvals ??= deepFreeze(this.#approvalsOf(entry.instance, entry.nativeId));
    if (journal) entry.journal ??= deepFreeze(this.#journalOf(entry.instance, entry.nativeId));
    // Shared, frozen records: the types say mutable, the objects refuse it (see mirror-read-cache.ts).
    return { change: entry.change, approvals: (approvals ? entry.approvals : []) as Approval[], journal: (journal ? entry.journal : []) as JournalEntry[] };
  }

  /** Canonical ids are `system:instance:nativeId`; a key (`CHG0030001`, `ITSM-42`) has no colon and skips the id lookup. */
  #findRow(idOrKey: string, instance: string | undefined, [byId, byKey, byKeyOn]: readonly [StatementSync, StatementSync, StatementSync]): ChangeRow | undefined {
    let row = idOrKey.includes(':') ? (byId.get(idOrKey) as ChangeRow | undefined) : undefined;
    if (row !== undefined && instance !== undefined && row.instance !== instance) row = undefined;
    row ??= (instance === undefined ? byKey.get(idOrKey) : byKeyOn.get(idOrKey, instance)) as ChangeRow | undefined;
    return row;
  }

  #approvalsOf(instance: string, nativeId: string): Approval[] {
    return (this.#stmt.approvalsOf.all(instance, nativeId) as { json: string }[]).map((r) => JSON.parse(r.json) as Approval);
  }

  #journalOf(instance: string, nativeId: string): JournalEntry[] {
    return (this.#stmt.journalOf.all(instance, nativeId) as { json: string }[]).map((r) => JSON.parse(r.json) as JournalEntry);
  }

  async listChanges(query: ChangeQuery): Promise<ChangePage> {
    const limit = clampLimit(query.limit);
    const after = query.cursor === undefined ? null : decodeListCursor(query.cursor);
    const updatedSince = query.updatedSince === undefined ? undefined : sinceKey(query.updatedSince);
    return this.#conn.read('listChanges', {}, () => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      const filter = (sql: string, value: string | undefined): void => {
        if (value === undefined) return;
        where.push(sql);
        params.push(value);
      };
      filter('instance = ?', query.instance);
      filter('system = ?', query.system);
      filter('state = ?', query.state);
      filter('updated_at >= ?', updatedSince);
      if (after !== null) {
        where.push('(updated_at, id) > (?, ?)');
        params.push(after.updatedAt, after.id);
      }
      const sql = `SELECT json, updated_at, id FROM changes ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY updated_at, id LIMIT ?`;
      let stmt = this.#listStatements.get(sql);
      if (stmt === undefined) {
        stmt = this.#db.prepare(sql);
        this.#listStatements.set(sql, stmt);
      }
      // One row more than asked tells whether another page exists without a count.
      const rows = stmt.all(...params, limit + 1) as { json: string; updated_at: string; id: string }[];
      const more = rows.length > limit;
      const pageRows = more ? rows.slice(0, limit) : rows;
      const last = pageRows.at(-1);
      return {
        items: pageRows.map((r) => JSON.parse(r.json) as Change),
        nextCursor: more && last !== undefined ? encodeListCursor({ updatedAt: last.updated_at, id: last.id }) : null,
      };
    });
  }

  async listActiveChangesTouching(query: TouchingQuery): Promise<Change[]> {
    const limit = clampLimit(query.limit);
    return this.#conn.read('listActiveChangesTouching', { instance: query.instance }, () => this.#neighbours.find(query, limit));
  }

  async listNeighbours(query: TouchingQuery): Promise<NeighbourChange[]> {
    const limit = clampLimit(query.limit);
    return this.#conn.read('listNeighbours', { instance: query.instance }, () => this.#neighbours.views(query, limit));
  }

  async listActiveChangesIndexed(query: IndexedQuery): Promise<Change[]> {
    const limit = clampLimit(query.limit);
    return this.#conn.read('listActiveChangesIndexed', { instance: query.instance }, () => this.#neighbours.indexed(query, limit));
  }

  async listApprovalsForHistory(instance: string, changeNativeId: string, query: ApprovalHistoryQuery): Promise<HistoryApproval[]> {
    return this.#conn.read('listApprovalsForHistory', { instance, changeNativeId }, () => {
      const statements = this.#stmt.approvalsHistory[query.order];
      const limit = Math.max(1, Math.trunc(query.limit));
      const rows = query.after === undefined
        ? statements.first.all({ instance, change: changeNativeId, limit })
        : statements.after.all({ instance, change: changeNativeId, limit, at: query.after.firstAt, id: query.after.id });
      return (rows as { json: string; first_at: string }[]).map((r) => ({ approval: JSON.parse(r.json) as Approval, firstAt: r.first_at }));
    });
  }

  async countApprovals(instance: string, changeNativeId: string): Promise<number> {
    return this.#conn.read('countApprovals', { instance, changeNativeId }, () => (this.#stmt.countApprovals.get(instance, changeNativeId) as { n: number }).n);
  }

  async listRevisions(changeId: string, options: { after?: number } = {}): Promise<Revision[]> {
    return this.#conn.read('listRevisions', { changeId }, () => {
      const after = options.after;
      const rows = (after === undefined ? this.#stmt.revisionsOf.all(changeId) : this.#stmt.revisionsAfter.all(changeId, after)) as unknown as RevisionRow[];
      return rows.map((row) => this.#revision(row));
    });
  }

  async listRevisionsForHistory(changeId: string, query: RevisionHistoryQuery): Promise<Revision[]> {
    return this.#conn.read('listRevisionsForHistory', { changeId }, () => {
      const statements = this.#stmt.revisionsHistory[query.order];
      const limit = Math.max(1, Math.trunc(query.limit));
      const rows = query.after === undefined
        ? statements.first.all({ change: changeId, limit })
        : statements.after.all({ change: changeId, limit, at: query.after.at, seq: query.after.seq });
      return (rows as unknown as RevisionRow[]).map((row) => this.#revision(row));
    });
  }

  async countRevisions(changeId: string): Promise<number> {
    return this.#conn.read('countRevisions', { changeId }, () => (this.#stmt.countRevisions.get(changeId) as { n: number }).n);
  }

  #revision(row: RevisionRow): Revision {
    return {
      changeId: row.change_id,
      seq: row.seq,
      nativeRevision: row.native_revision,
      updatedAt: row.updated_at,
      observedAt: row.observed_at,
      hash: row.hash,
      diff: row.diff === null ? this.#firstDiff(row) : (JSON.parse(row.diff) as FieldDiff[]),
      ...authorOf(row),
    };
  }

  async lastRevisionSeq(changeId: string): Promise<number> {
    return this.#conn.read('lastRevisionSeq', { changeId }, () => (this.#stmt.lastSeq.get(changeId) as { last_seq: number } | undefined)?.last_seq ?? 0);
  }

  #firstDiff(row: RevisionRow): FieldDiff[] {
    const json = row.snapshot ?? (this.#stmt.changeJson.get(row.change_id) as { json: string } | undefined)?.json;
    return json === undefined ? [] : diffChanges(null, JSON.parse(json) as Change);
  }

  async mirrorVersion(instance: string): Promise<number> {
    return this.#conn.read('mirrorVersion', { instance }, () => (this.#stmt.instanceGeneration.get(instance) as { n: number } | undefined)?.n ?? 0);
  }

  async noteAssessed(changeId: string, seq: number, asOf?: number): Promise<void> {
    this.#guard('noteAssessed', { changeId }, () => this.#stmt.noteAssessed.run({ id: changeId, seq, asOf: asOf ?? null }));
  }

  async listOwedAssessments(query: { instance?: string; after?: string; limit: number }): Promise<string[]> {
    const limit = clampLimit(query.limit);
    const after = query.after ?? '';
    return this.#conn.read('listOwedAssessments', {}, () => {
      const rows = query.instance === undefined ? this.#stmt.owedAssessments.all({ after, limit }) : this.#stmt.owedAssessmentsOf.all({ instance: query.instance, after, limit });
      return (rows as { id: string }[]).map((r) => r.id);
    });
  }

  readCacheStats(): ReadCacheStats {
    return this.#cache.stats();
  }

  async countChanges(instance?: string): Promise<number> {
    return this.#conn.read('countChanges', {}, () => {
      const row = (instance === undefined ? this.#stmt.countAll.get() : this.#stmt.countOf.get(instance)) as { n: number };
      return row.n;
    });
  }

  async listRejected(instance?: string): Promise<RejectedRecord[]> {
    return this.#conn.read('listRejected', {}, () => {
      const rows = (instance === undefined ? this.#stmt.listRejectedAll.all() : this.#stmt.listRejectedOf.all(instance)) as unknown as RejectedRow[];
      return rows.map((r) => ({
        instance: r.instance,
        stream: r.stream,
        ref: r.ref,
        code: r.code,
        message: r.message,
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
      }));
    });
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  /** One statement or transaction, retried while the store is busy (sqlite-connection.ts). */
  #guard<T>(op: string, details: Record<string, unknown>, fn: () => T): Promise<T> {
    return this.#conn.run(op, details, fn);
  }
}

function authorOf(row: RevisionRow): Pick<Revision, 'author' | 'authorUnknown'> {
  if (row.author_recorded === 0) return { author: null, authorUnknown: 'not-recorded' };
  const author = row.author === null ? null : (JSON.parse(row.author) as RevisionAuthor | null);
  return author === null ? { author: null, authorUnknown: 'not-named' } : { author };
}

function itemRef(item: StreamItem): string {
  switch (item.kind) {
    case 'change':
      return item.change.id;
    case 'approval':
      return item.approval.id;
    case 'journal':
      return item.entry.id;
    case 'invalid':
      return item.ref;
  }
}


function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function children(rows: readonly { kind: number; json: string }[]): { approvals: Approval[]; journal: JournalEntry[] } {
  const approvals: Approval[] = [];
  const journal: JournalEntry[] = [];
  for (const row of rows) {
    if (row.kind === 0) approvals.push(JSON.parse(row.json) as Approval);
    else journal.push(JSON.parse(row.json) as JournalEntry);
  }
  return { approvals, journal };
}
