// The delivery inbox on SQLite (node:sqlite, WAL). It opens its own connection
// to the change store's file: both connections only ever run synchronous,
// single-statement or single-transaction work, so they never wait on each other
// across an await. The table is created here (IF NOT EXISTS) rather than as a
// migration of the change store, so the two modules evolve independently.

import type { StatementSync } from 'node:sqlite';
import type { System } from '../../domain/change.ts';
import {
  DEFAULT_LEASE_MS,
  deliveryKey,
  type ClaimOptions,
  type Delivery,
  type DeliveryStatus,
  type DeliveryStore,
  type NewDelivery,
  type RecordResult,
} from '../delivery-store.ts';
import type { ClaimOwner } from '../claim-owner.ts';
import { addClaimOwnerColumn, ownerOf, ownerText } from './sqlite-claim-owner.ts';
import type { SqliteConnection, SqliteConnectionOptions } from './sqlite-connection.ts';
import { openSideTables } from './sqlite-side-table.ts';


// Times are epoch milliseconds: integer comparison, whatever precision callers send.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    system TEXT NOT NULL,
    instance TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    finished_at INTEGER,
    claim_owner TEXT
  );
  CREATE INDEX IF NOT EXISTS webhook_deliveries_queue ON webhook_deliveries (status, received_at, seq);
  CREATE INDEX IF NOT EXISTS webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
`;

interface Row {
  id: string;
  system: string;
  instance: string;
  delivery_id: string;
  received_at: number;
  body: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  finished_at: number | null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function toDelivery(row: Row): Delivery {
  return {
    id: row.id,
    system: row.system as System,
    instance: row.instance,
    deliveryId: row.delivery_id,
    receivedAt: iso(row.received_at),
    body: JSON.parse(row.body) as unknown,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: iso(row.next_attempt_at),
    lastError: row.last_error,
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
  };
}


export class SqliteDeliveryStore implements DeliveryStore {
  readonly #conn: SqliteConnection;
  readonly #insert: StatementSync;
  readonly #claim: StatementSync;
  readonly #complete: StatementSync;
  readonly #fail: StatementSync;
  readonly #get: StatementSync;
  readonly #pending: StatementSync;
  readonly #pendingOf: StatementSync;
  readonly #purge: StatementSync;
  readonly #owners: StatementSync;
  readonly #release: StatementSync;

  private constructor(conn: SqliteConnection) {
    const db = conn.db;
    this.#conn = conn;
    this.#insert = db.prepare(
      `INSERT INTO webhook_deliveries (id, system, instance, delivery_id, received_at, body, status, attempts, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT (id) DO NOTHING`,
    );
    // One statement: the select and the lease are atomic, so concurrent claimers never share a delivery.
    this.#claim = db.prepare(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = :leaseUntil, claim_owner = :owner
       WHERE seq IN (SELECT seq FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= :now ORDER BY received_at, seq LIMIT :limit)
       RETURNING *`,
    );
    this.#complete = db.prepare(`UPDATE webhook_deliveries SET status = 'done', finished_at = ?, claim_owner = NULL WHERE id = ? AND status = 'pending'`);
    this.#fail = db.prepare(
      `UPDATE webhook_deliveries SET status = ?, last_error = ?, next_attempt_at = ?, finished_at = ?, claim_owner = NULL WHERE id = ? AND status = 'pending'`,
    );
    this.#get = db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?');
    this.#pending = db.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'`);
    this.#pendingOf = db.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND instance = ?`);
    // Only a claim in flight keeps its owner (settling clears it), so a retry's wait is never cut short by a release.
    this.#owners = db.prepare(`SELECT DISTINCT claim_owner FROM webhook_deliveries WHERE status = 'pending' AND claim_owner IS NOT NULL`);
    this.#release = db.prepare(
      `UPDATE webhook_deliveries SET next_attempt_at = :now, claim_owner = NULL
       WHERE status = 'pending' AND json_extract(claim_owner, '$.id') = :owner`,
    );
    this.#purge = db.prepare(`DELETE FROM webhook_deliveries WHERE finished_at IS NOT NULL AND finished_at < ? AND status IN ('done', 'failed')`);
  }

  /** Opens (creating the file, its directories and the table if needed). `':memory:'` gives a private in-memory inbox. */
  static open(path: string, options: SqliteConnectionOptions = {}): SqliteDeliveryStore {
    return new SqliteDeliveryStore(openSideTables(path, SCHEMA, 'the webhook delivery store', options, (db) => addClaimOwnerColumn(db, 'webhook_deliveries')));
  }


  async record(delivery: NewDelivery): Promise<RecordResult> {
    const id = deliveryKey(delivery.system, delivery.instance, delivery.deliveryId);
    const receivedAt = Date.parse(delivery.receivedAt);
    return this.#guard('record', { id }, () => {
      const { changes } = this.#insert.run(id, delivery.system, delivery.instance, delivery.deliveryId, receivedAt, JSON.stringify(delivery.body), receivedAt);
      return { id, duplicate: Number(changes) === 0 };
    });
  }

  async claim(limit: number, now: Date, options: ClaimOptions = {}): Promise<Delivery[]> {
    const nowMs = now.getTime();
    const leaseUntil = nowMs + (options.leaseMs ?? DEFAULT_LEASE_MS);
    return this.#guard('claim', { limit }, () => {
      const rows = this.#claim.all({ now: nowMs, leaseUntil, limit, owner: ownerText(options.owner) }) as unknown as (Row & { seq: number })[];
      // RETURNING gives no order guarantee.
      rows.sort((a, b) => a.received_at - b.received_at || a.seq - b.seq);
      return rows.map(toDelivery);
    });
  }

  async claimOwners(): Promise<ClaimOwner[]> {
    return this.#guard('claimOwners', {}, () => (this.#owners.all() as { claim_owner: string }[]).map((r) => ownerOf(r.claim_owner) as ClaimOwner));
  }

  async releaseClaims(ownerId: string, now: Date): Promise<number> {
    return this.#guard('releaseClaims', { ownerId }, () => Number(this.#release.run({ now: now.getTime(), owner: ownerId }).changes));
  }

  async complete(id: string, now: Date): Promise<void> {
    await this.#guard('complete', { id }, () => this.#complete.run(now.getTime(), id));
  }

  async fail(id: string, error: string, retryAt: Date | null, now: Date): Promise<void> {
    const nowMs = now.getTime();
    await this.#guard('fail', { id }, () =>
      retryAt === null ? this.#fail.run('failed', error, nowMs, nowMs, id) : this.#fail.run('pending', error, retryAt.getTime(), null, id),
    );
  }

  async get(id: string): Promise<Delivery | null> {
    return this.#guard('get', { id }, () => {
      const row = this.#get.get(id) as Row | undefined;
      return row === undefined ? null : toDelivery(row);
    });
  }

  async pendingCount(instance?: string): Promise<number> {
    return this.#guard('pendingCount', {}, () => {
      const row = (instance === undefined ? this.#pending.get() : this.#pendingOf.get(instance)) as { n: number };
      return row.n;
    });
  }

  async purge(before: Date): Promise<number> {
    return this.#guard('purge', {}, () => Number(this.#purge.run(before.getTime()).changes));
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  /** One statement or transaction, retried while the store is busy (sqlite-connection.ts). */
  #guard<T>(op: string, details: Record<string, unknown>, fn: () => T): Promise<T> {
    return this.#conn.run(op, details, fn);
  }
}
