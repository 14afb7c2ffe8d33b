// The SQLite store's health check, on a connection of its own:
// - missing: the path no longer names the file the store opened (deleted, or
//   replaced by another file); writes to the old one would vanish;
// - locked: another process holds the write lock longer than a short grace;
// - full: a probe write fails with SQLITE_FULL (a committed write, and a
//   rolled-back one that must grow the file, so a cap on the file's size is
//   seen too);
// - corrupt: a read or write met SQLITE_CORRUPT, or `PRAGMA quick_check` (in
//   a worker thread, at start and then on a slow schedule) found damage.
// A missing or corrupt store stays so until the process restarts: neither
// heals by itself, and the work written since cannot be trusted.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log.ts';
import { STORE_FAULT_TEXT, type StoreFaultReason, type StoreHealth } from '../store-health.ts';
import { errorMessageOf, faultOf, fileIdentity, sameFile, SqliteConnection, type FileIdentity } from './sqlite-connection.ts';

/** The quick-check worker's one answer (sqlite-quick-check-worker.js). */
type QuickCheckResult = { ok: true } | { ok: false; corrupt: boolean; detail: string };

export interface SqliteHealthOptions {
  /** Runs on the probe's connection once configured (as on every port's; tests cap `max_page_count`). */
  configure?: (db: DatabaseSync) => void;
  /** How long the probe waits for the write lock before the store counts as locked (a short write by another process is no fault). */
  lockGraceMs?: number;
  /** How often `PRAGMA quick_check` runs after the first, at start. */
  quickCheckEveryMs?: number;
  logger?: Logger;
}

const DEFAULT_LOCK_GRACE_MS = 1_000;
const DEFAULT_QUICK_CHECK_MS = 15 * 60_000;
/** The growth probe writes past the free pages; above this many the file has room anyway and the committed probe write speaks for the disk. */
const MAX_FREE_PAGES_PROBED = 64;

const PROBE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS store_health_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, pad BLOB);
  INSERT OR IGNORE INTO store_health_probe (id, at) VALUES (1, 0);
`;

export class SqliteStoreHealth {
  readonly #conn: SqliteConnection;
  readonly #path: string;
  readonly #identity: FileIdentity | null;
  readonly #options: SqliteHealthOptions;
  readonly #touch: StatementSync;
  readonly #grow: StatementSync;
  readonly #pageSize: number;
  #sticky: StoreHealth | null = null;
  #nextQuickCheckAt = 0;
  #quickCheck: Worker | null = null;

  private constructor(conn: SqliteConnection, path: string, options: SqliteHealthOptions) {
    this.#conn = conn;
    this.#path = path;
    this.#identity = path === ':memory:' ? null : fileIdentity(path);
    this.#options = options;
    // The probe never waits inside SQLite: the grace is waited for here, asynchronously.
    conn.db.exec('PRAGMA busy_timeout = 0');
    this.#touch = conn.db.prepare('UPDATE store_health_probe SET at = ? WHERE id = 1');
    this.#grow = conn.db.prepare('INSERT INTO store_health_probe (id, at, pad) VALUES (2, 0, zeroblob(?))');
    this.#pageSize = (conn.db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
  }

  static open(path: string, options: SqliteHealthOptions = {}): SqliteStoreHealth {
    const conn = SqliteConnection.open(path, 'the store health probe', options.configure ? { configure: options.configure } : {}, (db) => db.exec(PROBE_SCHEMA), { cacheKb: 256 });
    return new SqliteStoreHealth(conn, path, options);
  }

  /** A port met a fault: a corrupt or missing store stays so; the others are confirmed or cleared by the next check. */
  report(reason: StoreFaultReason): void {
    if (reason === 'corrupt' || reason === 'missing') this.#stick(reason, `a store operation failed: ${STORE_FAULT_TEXT[reason]}`);
  }

  async check(): Promise<StoreHealth> {
    if (this.#sticky !== null) return this.#sticky;
    if (this.#identity === null) return { ok: true };
    if (!sameFile(this.#identity, fileIdentity(this.#path))) return this.#stick('missing', `${this.#path} was deleted or replaced since changegate opened it`);
    this.#startQuickCheck();
    const deadline = Date.now() + (this.#options.lockGraceMs ?? DEFAULT_LOCK_GRACE_MS);
    for (;;) {
      const found = this.#probe();
      if (found !== 'busy') return found;
      if (Date.now() >= deadline) return { ok: false, reason: 'locked', detail: `another process has held the write lock of ${this.#path} for longer than the probe waits` };
      await sleep(25);
    }
  }

  async close(): Promise<void> {
    await this.#quickCheck?.terminate();
    this.#conn.close();
  }

  /** One probe write, synchronous from BEGIN to COMMIT: no other work of this process runs while it holds the lock. */
  #probe(): StoreHealth | 'busy' {
    const db = this.#conn.db;
    try {
      db.exec('BEGIN IMMEDIATE');
      this.#touch.run(Date.now());
      const free = (db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
      if (free <= MAX_FREE_PAGES_PROBED) {
        db.exec('SAVEPOINT grow');
        // A failure goes straight to the catch below: SQLITE_FULL may roll the whole transaction back, savepoint included.
        this.#grow.run((free + 2) * this.#pageSize);
        db.exec('ROLLBACK TO grow');
        db.exec('RELEASE grow');
      }
      db.exec('COMMIT');
      return { ok: true };
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      const fault = faultOf(err);
      if (fault === 'busy') return 'busy';
      if (fault === 'corrupt' || fault === 'missing') return this.#stick(fault, errorMessageOf(err));
      if (fault === 'full') return { ok: false, reason: 'full', detail: errorMessageOf(err) };
      throw err;
    }
  }

  #startQuickCheck(): void {
    if (this.#quickCheck !== null || Date.now() < this.#nextQuickCheckAt) return;
    this.#nextQuickCheckAt = Date.now() + (this.#options.quickCheckEveryMs ?? DEFAULT_QUICK_CHECK_MS);
    const worker = new Worker(new URL('./sqlite-quick-check-worker.js', import.meta.url), { workerData: { path: this.#path } });
    this.#quickCheck = worker;
    worker.unref();
    worker.once('message', (result: QuickCheckResult) => {
      if (!result.ok && result.corrupt) this.#stick('corrupt', `PRAGMA quick_check: ${result.detail}`);
      else if (!result.ok) this.#options.logger?.warn({ detail: result.detail }, 'the store quick check could not run; it runs again on schedule');
    });
    worker.once('error', (err) => this.#options.logger?.warn({ err }, 'the store quick check could not run; it runs again on schedule'));
    worker.once('exit', () => {
      if (this.#quickCheck === worker) this.#quickCheck = null;
    });
  }

  #stick(reason: 'corrupt' | 'missing', detail: string): StoreHealth {
    this.#sticky ??= { ok: false, reason, detail };
    return this.#sticky;
  }
}
