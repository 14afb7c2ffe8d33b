// The embedded store: one SQLite file (WAL) through the built-in `node:sqlite`.
// A page is one transaction: its items, then its cursor, or nothing at all.
// The hot path compares content hashes on indexed columns and never parses a
// stored change unless the hash differs.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StreamCursor, StreamItem } from '../../kit/connector.ts';
import type { Approval, Change, JournalEntry, MirroredChange, NeighbourChange } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import { diffChanges } from '../change-diff.ts';
import type {
  ApplyPageOptions,
  ApplyResult,
  ChangePage,
  ChangeQuery,
  ChangeStore,
  FieldDiff,
  GetChangeOptions,
  RejectedRecord,
  Revision,
  IndexedQuery,
  RevisionAuthor,
  TouchingQuery,
} from '../change-store.ts';
import { changeIndexKeys, changeRefKeys, INDEX_ONLY, isActiveState, windowDays } from '../change-refs.ts';
import { sha256Hex, stableStringify } from '../content-hash.ts';
import { instantKey } from '../instant-key.ts';
import { clampLimit, sinceKey } from '../list-params.ts';
import { deepFreeze, MirrorReadCache, type MirrorReadCacheOptions } from '../mirror-read-cache.ts';
import { SqliteNeighbours } from './sqlite-neighbours.ts';
import { decodeListCursor, encodeListCursor } from '../list-cursor.ts';
import { SqliteConnection, type SqliteConnectionOptions } from './sqlite-connection.ts';
import { migrate } from './sqlite-schema.ts';
import { prepareStatements, type ChangeHead, type ChangeRow, type RejectedRow, type RevisionRow, type Statements } from './sqlite-statements.ts';


// Per instance, the greatest lease fence its pages were written under (see
// ChangeStore.applyPage) and when its last sync succeeded (epoch ms). Created
// beside the migrations, idempotently: an older file gains it on open, and an
// instance without a row takes any fence.
const INSTANCE_SYNC_TABLE = 'CREATE TABLE IF NOT EXISTS instance_sync (instance TEXT NOT NULL PRIMARY KEY, fence INTEGER NOT NULL DEFAULT 0, last_success_at INTEGER) WITHOUT ROWID';

interface PageState {
  instance: string;
  stream: string;
  observedAt: string;
  /** Whether this stream has rejections a valid record could clear (saves a DELETE per item when not). */
  hasRejected: boolean;
  /** The instance's system, read on the first approval or note written (it spells their changes' ids); null when none is mirrored. */
  system?: string | null;
  result: ApplyResult;
}

export class SqliteChangeStore implements ChangeStore {
  readonly #db: DatabaseSync;
  readonly #conn: SqliteConnection;
  readonly #stmt: Statements;
  /** Statements whose SQL depends on the call's shape (filters, list lengths), prepared on first use. */
  readonly #listStatements = new Map<string, StatementSync>();

  /** Parsed cores and children while the mirror is unchanged (validation reads the same active changes again and again). */
  readonly #cache: MirrorReadCache;
  readonly #neighbours: SqliteNeighbours;
  readonly #fenceOf: StatementSync;
  readonly #raiseFence: StatementSync;
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
    this.#fenceOf = db.prepare('SELECT fence FROM instance_sync WHERE instance = ?');
    this.#raiseFence = db.prepare('INSERT INTO instance_sync (instance, fence) VALUES (?, ?) ON CONFLICT (instance) DO UPDATE SET fence = excluded.fence WHERE excluded.fence > fence');
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
    let index = -1;
    try {
      // One transaction, retried whole while another process holds the lock (BEGIN IMMEDIATE: a busy store fails here, before any item).
      return await this.#conn.run('applyPage', { instance, stream }, () => {
        const page: PageState = {
          instance,
          stream,
          observedAt,
          hasRejected: false,
          result: { changesWritten: 0, changesUnchanged: 0, changesStale: 0, approvalsWritten: 0, journalWritten: 0, invalid: 0 },
        };
        this.#db.exec('BEGIN IMMEDIATE');
        if (options.fence !== undefined) this.#checkFence(instance, stream, options.fence);
        page.hasRejected = this.#stmt.anyRejected.get(instance, stream) !== undefined;
        for (index = 0; index < items.length; index++) this.#applyItem(page, items[index] as StreamItem);
        index = -1;
        // The cursor moves only with the items it covers; a null cursor (an empty page) keeps the saved one.
        if (cursor !== null) this.#stmt.saveCursor.run(instance, stream, cursor.updatedAt, cursor.id, page.observedAt);
        this.#db.exec('COMMIT');
        return page.result;
      });
    } catch (err) {
      // A busy or faulty store keeps its own code (CG_STORE_BUSY, CG_STORE_UNAVAILABLE): readiness and the sync report it.
      if (!(err instanceof ChangegateError) || err.code !== 'CG_STORE_FAILED') throw err;
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

  /** Inside the page's transaction: a stale fence rolls it back whole. */
  #checkFence(instance: string, stream: string, fence: number): void {
    const newest = (this.#fenceOf.get(instance) as { fence: number } | undefined)?.fence ?? 0;
    if (newest > fence) {
      // Thrown inside the transaction: the connection rolls it back whole.
      throw new ChangegateError('CG_LEASE_LOST', `a page of ${instance}/${stream} was refused: it was written under fence ${fence} of the instance's lease, and a holder with fence ${newest} wrote since; nothing of it was stored`, {
        details: { instance, stream, fence, newest },
      });
    }
    this.#raiseFence.run(instance, fence);
  }

  #applyItem(page: PageState, item: StreamItem): void {
    switch (item.kind) {
      case 'change':
        this.#applyChange(page, item.change, item.author);
        if (page.hasRejected) this.#clearRejected(page, item.change.nativeId, item.change.key);
        return;
      case 'approval':
        this.#applyApproval(page, item.changeNativeId, item.approval);
        if (page.hasRejected) this.#clearRejected(page, item.approval.id);
        return;
      case 'journal':
        this.#applyJournal(page, item.changeNativeId, item.entry);
        if (page.hasRejected) this.#clearRejected(page, item.entry.id);
        return;
      case 'invalid':
        this.#stmt.upsertRejected.run(page.instance, page.stream, item.ref, item.error.code, item.error.message, page.observedAt, page.observedAt);
        page.hasRejected = true;
        page.result.invalid += 1;
        return;
    }
  }

  #applyChange(page: PageState, change: Change, author: RevisionAuthor | null | undefined): void {
    const json = stableStringify(change);
    const hash = sha256Hex(json);
    const updatedAt = instantKey(change.updatedAt);
    const head = this.#stmt.changeHead.get(change.id) as ChangeHead | undefined;
    const s = this.#stmt;
    if (head === undefined) {
      s.insertChange.run(change.id, change.instance, change.system, change.nativeId, change.key, change.state, updatedAt, change.nativeRevision, hash, json);
      s.upsertCore.run(change.id, change.instance, change.nativeId, change.key, updatedAt, coreJson(change));
      this.#indexRefs(change, null);
      // A first revision's diff is every field of the change row itself: derived on read (see sqlite-schema.ts).
      s.insertRevision.run(change.id, 1, change.nativeRevision, change.updatedAt, page.observedAt, hash, null, authorJson(author));
      page.result.changesWritten += 1;
      return;
    }
    if (head.native_revision > change.nativeRevision || (head.native_revision === change.nativeRevision && head.updated_at > updatedAt)) {
      page.result.changesStale += 1;
      return;
    }
    if (head.hash === hash) {
      page.result.changesUnchanged += 1;
      return;
    }
    const previousJson = (s.changeJson.get(change.id) as { json: string }).json;
    const previous = JSON.parse(previousJson) as Change;
    if (head.last_seq === 1) s.keepFirstSnapshot.run(previousJson, change.id);
    const seq = head.last_seq + 1;
    s.updateChange.run(change.key, change.state, updatedAt, change.nativeRevision, hash, seq, json, change.id);
    s.upsertCore.run(change.id, change.instance, change.nativeId, change.key, updatedAt, coreJson(change));
    this.#indexRefs(change, previous);
    s.insertRevision.run(change.id, seq, change.nativeRevision, change.updatedAt, page.observedAt, hash, JSON.stringify(diffChanges(previous, change)), authorJson(author));
    page.result.changesWritten += 1;
  }

  /**
   * Keeps `change_refs` in step: an active change is found under each of its
   * services and CIs on each day of its planned window, and under its index
   * keys (commits, service keys) on INDEX_ONLY without a window; a finished one
   * under none. Its rows carry the change's updated_at (the order lookups answer in),
   * so a new version of an active change rewrites them; a finished one has none.
   */
  #indexRefs(change: Change, previous: Change | null): void {
    if (previous !== null) {
      if (sameRefFacts(previous, change)) return;
      this.#stmt.deleteRefs.run(change.id);
    }
    if (!isActiveState(change.state)) return;
    const start = change.plannedStart === null ? null : instantKey(change.plannedStart);
    const end = change.plannedEnd === null ? null : instantKey(change.plannedEnd);
    const days = windowDays(change.plannedStart, change.plannedEnd);
    const updatedAt = instantKey(change.updatedAt);
    const params: (string | number | null)[] = [];
    for (const key of changeRefKeys(change)) {
      for (const day of days) params.push(change.instance, key, day, updatedAt, change.id, start, end);
    }
    for (const key of changeIndexKeys(change)) params.push(change.instance, key, INDEX_ONLY, updatedAt, change.id, null, null);
    // One statement for all of a change's rows: per-statement cost dominates on this hot path.
    for (let at = 0; at < params.length; at += REF_ROWS_PER_INSERT * REF_COLUMNS) {
      const chunk = params.slice(at, at + REF_ROWS_PER_INSERT * REF_COLUMNS);
      this.#insertRefsStatement(chunk.length / REF_COLUMNS).run(...chunk);
    }
  }

  #insertRefsStatement(rows: number): StatementSync {
    const shape = `refs:${rows}`;
    let stmt = this.#listStatements.get(shape);
    if (stmt === undefined) {
      const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ');
      stmt = this.#db.prepare(`INSERT OR IGNORE INTO change_refs (instance, ref, day, updated_at, change_id, planned_start, planned_end) VALUES ${values}`);
      this.#listStatements.set(shape, stmt);
    }
    return stmt;
  }

  #applyApproval(page: PageState, changeNativeId: string, approval: Approval): void {
    const json = stableStringify(approval);
    const hash = sha256Hex(json);
    const updatedAt = instantKey(approval.updatedAt);
    const head = this.#stmt.approvalHead.get(page.instance, approval.id) as { hash: string; updated_at: string } | undefined;
    // Same rule as changes: an older delivery never rolls an approval back (not counted: ApplyResult has no slot for it).
    if (head !== undefined && (head.hash === hash || head.updated_at > updatedAt)) return;
    this.#stmt.upsertApproval.run(page.instance, approval.id, changeNativeId, updatedAt, hash, json);
    page.result.approvalsWritten += 1;
    this.#oweAssessment(page, changeNativeId);
  }

  #applyJournal(page: PageState, changeNativeId: string, entry: JournalEntry): void {
    const { changes } = this.#stmt.insertJournal.run(page.instance, entry.id, changeNativeId, instantKey(entry.at), stableStringify(entry));
    page.result.journalWritten += Number(changes);
    if (Number(changes) > 0) this.#oweAssessment(page, changeNativeId);
  }

  /** In the page's transaction: what the policy reads of the change moved, so it is owed an assessment (see listOwedAssessments). */
  #oweAssessment(page: PageState, changeNativeId: string): void {
    if (page.system === undefined) page.system = (this.#stmt.systemOf.get(page.instance) as { system: string } | undefined)?.system ?? null;
    if (page.system !== null) this.#stmt.oweAssessment.run(`${page.system}:${page.instance}:${changeNativeId}`);
  }

  #clearRejected(page: PageState, ...refs: string[]): void {
    for (const ref of refs) this.#stmt.clearRejected.run(page.instance, page.stream, ref);
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

  async listRevisions(changeId: string, options: { after?: number } = {}): Promise<Revision[]> {
    return this.#conn.read('listRevisions', { changeId }, () => {
      const after = options.after;
      const rows = (after === undefined ? this.#stmt.revisionsOf.all(changeId) : this.#stmt.revisionsAfter.all(changeId, after)) as unknown as RevisionRow[];
      return rows.map((row) => ({
        changeId: row.change_id,
        seq: row.seq,
        nativeRevision: row.native_revision,
        updatedAt: row.updated_at,
        observedAt: row.observed_at,
        hash: row.hash,
        diff: row.diff === null ? this.#firstDiff(row) : (JSON.parse(row.diff) as FieldDiff[]),
        ...authorOf(row),
      }));
    });
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

const REF_ROWS_PER_INSERT = 64;
const REF_COLUMNS = 7;

/** Whether two versions of a change are indexed alike in `change_refs` (whose rows carry updated_at, the answer order). */
function sameRefFacts(a: Change, b: Change): boolean {
  if (isActiveState(a.state) !== isActiveState(b.state)) return false;
  if (!isActiveState(b.state)) return true;
  if (a.plannedStart !== b.plannedStart || a.plannedEnd !== b.plannedEnd || a.updatedAt !== b.updatedAt) return false;
  return changeRefKeys(a).join('\u0000') === changeRefKeys(b).join('\u0000') && changeIndexKeys(a).join('\u0000') === changeIndexKeys(b).join('\u0000');
}

function authorJson(author: RevisionAuthor | null | undefined): string {
  return JSON.stringify(author ?? null);
}

function authorOf(row: RevisionRow): Pick<Revision, 'author' | 'authorUnknown'> {
  if (row.author_recorded === 0) return { author: null, authorUnknown: 'not-recorded' };
  const author = row.author === null ? null : (JSON.parse(row.author) as RevisionAuthor | null);
  return author === null ? { author: null, authorUnknown: 'not-named' } : { author };
}

/** The change without its source payload, for readers that never look at it (policy evaluation). */
function coreJson(change: Change): string {
  return JSON.stringify({ ...change, raw: null });
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
