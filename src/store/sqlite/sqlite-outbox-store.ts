// The outbox on SQLite (node:sqlite, WAL). It opens its own connection to the
// change store's file and creates its table itself (IF NOT EXISTS), so it
// evolves apart from the change store's migrations. Every operation is one
// statement or one immediate transaction: the claim selects and leases in a
// single UPDATE … RETURNING, so concurrent workers never share an item.

import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  DEFAULT_OUTBOX_LEASE_MS,
  type EnqueueResult,
  type NewOutboxItem,
  type OutboxAction,
  type OutboxError,
  type OutboxHistoryQuery,
  type OutboxItem,
  type OutboxPayload,
  type OutboxQuery,
  type OutboxSource,
  type OutboxStatus,
  type OutboxStore,
} from '../outbox-store.ts';
import type { ClaimOwner } from '../claim-owner.ts';
import { addClaimOwnerColumn, ownerOf, ownerText } from './sqlite-claim-owner.ts';
import type { SqliteConnection, SqliteConnectionOptions } from './sqlite-connection.ts';
import { openSideTables } from './sqlite-side-table.ts';

const STATUSES: readonly OutboxStatus[] = ['pending', 'claimed', 'done', 'failed', 'superseded'];

// Times are epoch milliseconds: integer comparison whatever precision callers send.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    instance TEXT NOT NULL,
    change_id TEXT NOT NULL,
    native_id TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    claim_token TEXT,
    claim_owner TEXT,
    result TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at, id);
  CREATE INDEX IF NOT EXISTS outbox_by_change ON outbox (change_id, action, status, id);
  CREATE INDEX IF NOT EXISTS outbox_history ON outbox (change_id, created_at, id);
`;

interface Row {
  id: number;
  idempotency_key: string;
  instance: string;
  change_id: string;
  native_id: string;
  source: string;
  action: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  claim_token: string | null;
  claim_owner: string | null;
  result: string | null;
  created_at: number;
  finished_at: number | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function toItem(row: Row): OutboxItem {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    instance: row.instance,
    changeId: row.change_id,
    nativeId: row.native_id,
    source: row.source as OutboxSource,
    action: row.action as OutboxAction,
    payload: JSON.parse(row.payload) as OutboxPayload,
    status: row.status as OutboxStatus,
    attempts: row.attempts,
    nextAttemptAt: iso(row.next_attempt_at),
    lastError: row.last_error === null ? null : (JSON.parse(row.last_error) as OutboxError),
    claimToken: row.claim_token,
    claimOwner: ownerOf(row.claim_owner),
    result: row.result,
    createdAt: iso(row.created_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
  };
}


export class SqliteOutboxStore implements OutboxStore {
  readonly #db: DatabaseSync;
  readonly #conn: SqliteConnection;
  readonly #insert: StatementSync;
  readonly #supersede: StatementSync;
  readonly #claim: StatementSync;
  readonly #complete: StatementSync;
  readonly #retry: StatementSync;
  readonly #fail: StatementSync;
  readonly #get: StatementSync;
  readonly #counts: StatementSync;
  readonly #owners: StatementSync;
  readonly #release: StatementSync;
  readonly #list = new Map<string, StatementSync>();
  readonly #history: Record<OutboxHistoryQuery['order'], { first: StatementSync; after: StatementSync }>;
  readonly #countForChange: StatementSync;

  private constructor(conn: SqliteConnection) {
    const db = conn.db;
    this.#conn = conn;
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO outbox (idempotency_key, instance, change_id, native_id, source, action, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
    );
    this.#supersede = db.prepare(
      `UPDATE outbox SET status = 'superseded', finished_at = :now
       WHERE change_id = :change AND action = :action AND source = 'assessment' AND status = 'pending' AND id < :id`,
    );
    this.#claim = db.prepare(
      `UPDATE outbox SET status = 'claimed', attempts = attempts + 1, next_attempt_at = :leaseUntil, claim_token = :token, claim_owner = :owner
       WHERE id IN (
         SELECT id FROM outbox
         WHERE status IN ('pending', 'claimed') AND next_attempt_at <= :now
         ORDER BY id LIMIT :limit)
       RETURNING *`,
    );
    this.#complete = db.prepare(
      `UPDATE outbox SET status = 'done', result = ?, finished_at = ?, claim_token = NULL, claim_owner = NULL WHERE id = ? AND claim_token = ? AND status = 'claimed'`,
    );
    this.#retry = db.prepare(
      `UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, claim_token = NULL, claim_owner = NULL WHERE id = ? AND claim_token = ? AND status = 'claimed'`,
    );
    this.#fail = db.prepare(
      `UPDATE outbox SET status = 'failed', last_error = ?, finished_at = ?, claim_token = NULL, claim_owner = NULL WHERE id = ? AND claim_token = ? AND status = 'claimed'`,
    );
    this.#get = db.prepare('SELECT * FROM outbox WHERE idempotency_key = ?');
    // Row values compare (created_at, id) as one key, which the outbox_history index answers in order.
    const history = (order: 'ASC' | 'DESC', cmp: '>' | '<'): { first: StatementSync; after: StatementSync } => ({
      first: db.prepare(`SELECT * FROM outbox WHERE change_id = :change ORDER BY created_at ${order}, id ${order} LIMIT :limit`),
      after: db.prepare(`SELECT * FROM outbox WHERE change_id = :change AND (created_at, id) ${cmp} (:at, :id) ORDER BY created_at ${order}, id ${order} LIMIT :limit`),
    });
    this.#history = { asc: history('ASC', '>'), desc: history('DESC', '<') };
    this.#countForChange = db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE change_id = ?');
    this.#counts = db.prepare('SELECT status, COUNT(*) AS n FROM outbox GROUP BY status');
    // The claimed items are few (a lease's worth), found by the status index.
    this.#owners = db.prepare(`SELECT DISTINCT claim_owner FROM outbox WHERE status = 'claimed' AND claim_owner IS NOT NULL`);
    this.#release = db.prepare(
      `UPDATE outbox SET status = 'pending', next_attempt_at = :now, claim_token = NULL, claim_owner = NULL
       WHERE status = 'claimed' AND json_extract(claim_owner, '$.id') = :owner`,
    );
  }

  /** On a connection to a file that has the table already (a writer that batches other ports' writes with the outbox's). */
  static on(conn: SqliteConnection): SqliteOutboxStore {
    return new SqliteOutboxStore(conn);
  }

  /** Opens (creating the file, its directories and the table if needed). `':memory:'` gives a private in-memory outbox. */
  static open(path: string, options: SqliteConnectionOptions = {}): SqliteOutboxStore {
    // synchronous=NORMAL (set by the connection settings) can lose the last commits on a power cut, never a crash. That is safe
    // for the outbox: the runner queues before it stores the assessment, in the same WAL, so an
    // assessment that survived a power cut implies its queued write-back did too.
    return new SqliteOutboxStore(openSideTables(path, SCHEMA, 'the outbox', options, (db) => addClaimOwnerColumn(db, 'outbox')));
  }


  /** `enqueue`'s work inside a transaction the caller opened on this store's connection (and commits). */
  enqueueInTransaction(items: readonly NewOutboxItem[], nowMs: number): EnqueueResult {
    const result: EnqueueResult = { inserted: [], duplicates: [], superseded: 0 };
    for (const item of items) {
      const { changes, lastInsertRowid } = this.#insert.run(
        item.idempotencyKey,
        item.instance,
        item.changeId,
        item.nativeId,
        item.source,
        item.payload.action,
        JSON.stringify(item.payload),
        nowMs,
        nowMs,
      );
      if (Number(changes) === 0) {
        result.duplicates.push(item.idempotencyKey);
        continue;
      }
      result.inserted.push(item.idempotencyKey);
      if (item.source === 'assessment') {
        const superseded = this.#supersede.run({ now: nowMs, change: item.changeId, action: item.payload.action, id: Number(lastInsertRowid) });
        result.superseded += Number(superseded.changes);
      }
    }
    return result;
  }

  async enqueue(items: readonly NewOutboxItem[], now: Date): Promise<EnqueueResult> {
    const nowMs = now.getTime();
    if (items.length === 0) return { inserted: [], duplicates: [], superseded: 0 };
    return this.#guard('enqueue', { items: items.length }, () => {
      // Built afresh on each attempt: a busy store retries the whole transaction.
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = this.enqueueInTransaction(items, nowMs);
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async claim(limit: number, now: Date, leaseMs: number = DEFAULT_OUTBOX_LEASE_MS, owner?: ClaimOwner): Promise<OutboxItem[]> {
    const nowMs = now.getTime();
    return this.#guard('claim', { limit }, () => {
      const rows = this.#claim.all({ now: nowMs, leaseUntil: nowMs + leaseMs, limit, token: randomUUID(), owner: ownerText(owner) }) as unknown as Row[];
      // RETURNING gives no order guarantee; writes to one ticket must keep their order.
      rows.sort((a, b) => a.id - b.id);
      return rows.map(toItem);
    });
  }

  async claimOwners(): Promise<ClaimOwner[]> {
    return this.#guard('claimOwners', {}, () => (this.#owners.all() as { claim_owner: string }[]).map((r) => ownerOf(r.claim_owner) as ClaimOwner));
  }

  async releaseClaims(ownerId: string, now: Date): Promise<number> {
    return this.#guard('releaseClaims', { ownerId }, () => Number(this.#release.run({ now: now.getTime(), owner: ownerId }).changes));
  }

  async complete(id: number, claimToken: string, result: string, now: Date): Promise<boolean> {
    return this.#guard('complete', { id }, () => Number(this.#complete.run(result, now.getTime(), id, claimToken).changes) === 1);
  }

  async retryLater(id: number, claimToken: string, retryAt: Date, error: OutboxError, _now: Date): Promise<boolean> {
    return this.#guard('retryLater', { id }, () => Number(this.#retry.run(retryAt.getTime(), JSON.stringify(error), id, claimToken).changes) === 1);
  }

  async fail(id: number, claimToken: string, error: OutboxError, now: Date): Promise<boolean> {
    return this.#guard('fail', { id }, () => Number(this.#fail.run(JSON.stringify(error), now.getTime(), id, claimToken).changes) === 1);
  }

  async get(idempotencyKey: string): Promise<OutboxItem | null> {
    return this.#guard('get', { idempotencyKey }, () => {
      const row = this.#get.get(idempotencyKey) as Row | undefined;
      return row === undefined ? null : toItem(row);
    });
  }

  async list(query: OutboxQuery): Promise<OutboxItem[]> {
    const limit = Math.min(1000, Math.max(1, Math.trunc(query.limit ?? 100)));
    return this.#guard('list', {}, () => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      const filter = (column: string, value: string | undefined): void => {
        if (value === undefined) return;
        where.push(`${column} = ?`);
        params.push(value);
      };
      filter('change_id', query.changeId);
      filter('status', query.status);
      filter('action', query.action);
      const sql = `SELECT * FROM outbox ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
      let stmt = this.#list.get(sql);
      if (stmt === undefined) {
        stmt = this.#db.prepare(sql);
        this.#list.set(sql, stmt);
      }
      return (stmt.all(...params, limit) as unknown as Row[]).map(toItem);
    });
  }

  async listForHistory(changeId: string, query: OutboxHistoryQuery): Promise<OutboxItem[]> {
    return this.#guard('listForHistory', { changeId }, () => {
      const statements = this.#history[query.order];
      const limit = Math.max(1, Math.trunc(query.limit));
      const rows = query.after === undefined
        ? statements.first.all({ change: changeId, limit })
        : statements.after.all({ change: changeId, limit, at: Date.parse(query.after.createdAt), id: query.after.id });
      return (rows as unknown as Row[]).map(toItem);
    });
  }

  async countForChange(changeId: string): Promise<number> {
    return this.#guard('countForChange', { changeId }, () => (this.#countForChange.get(changeId) as { n: number }).n);
  }

  async counts(): Promise<Record<OutboxStatus, number>> {
    return this.#guard('counts', {}, () => {
      const out = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<OutboxStatus, number>;
      for (const row of this.#counts.all() as { status: OutboxStatus; n: number }[]) out[row.status] = row.n;
      return out;
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
