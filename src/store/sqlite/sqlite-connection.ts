// One connection to the store's SQLite file and the way every port runs work
// on it. node:sqlite is synchronous: SQLite's own busy wait would freeze the
// event loop (health checks, webhooks, validate) for as long as another process
// holds the write lock. So SQLite waits a few milliseconds at most, and a busy
// store is retried here with an awaited backoff, up to a bound, then answered
// CG_STORE_BUSY. Each unit of work (one statement or one whole transaction) is
// retried as a whole, after a rollback: never half-applied.

import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChangegateError } from '../../errors.ts';
import { STORE_FAULT_TEXT, type StoreFaultReason } from '../store-health.ts';
import { configureConnection } from './sqlite-schema.ts';

/** SQLite's own (blocking) wait for a lock; anything longer is waited for asynchronously. */
const BUSY_TIMEOUT_MS = 5;
/** Opening may wait longer (start-up, before anything is served): two processes may migrate the same new file. */
const OPEN_BUSY_TIMEOUT_MS = 5_000;
/** How long a busy store is retried before the work fails with CG_STORE_BUSY (a webhook then answers 503). */
export const DEFAULT_BUSY_BOUND_MS = 2_000;

export interface SqliteConnectionOptions {
  /** Told of each fault a port meets, so the store's health is checked at once rather than on the next tick. */
  onFault?: (reason: StoreFaultReason) => void;
  /** How long busy work is retried; default DEFAULT_BUSY_BOUND_MS. */
  busyBoundMs?: number;
  /** Runs on each connection once it is configured (tests cap `max_page_count` there to play a full disk). */
  configure?: (db: DatabaseSync) => void;
}

/** Which file a path names: a store file deleted or replaced under a running process has another identity, or none. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export function fileIdentity(path: string): FileIdentity | null {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined ? null : { dev: stat.dev, ino: stat.ino };
}

export function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** What an error from node:sqlite says about the store: busy (retry), a fault, or neither (a plain failure). */
export function faultOf(err: unknown): StoreFaultReason | 'busy' | null {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== 'number') return null;
  // SQLITE_READONLY_DBMOVED: the file was renamed or unlinked since it was opened.
  if (errcode === 1032) return 'missing';
  switch (errcode & 0xff) {
    case 5: // SQLITE_BUSY
    case 6: // SQLITE_LOCKED
      return 'busy';
    case 11: // SQLITE_CORRUPT
    case 26: // SQLITE_NOTADB
      return 'corrupt';
    case 13: // SQLITE_FULL
      return 'full';
    default:
      return null;
  }
}

export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Exponential from 2 ms, capped at 100 ms, with jitter so several waiting ports do not retry in step. */
function backoffMs(attempt: number, left: number): number {
  const base = Math.min(100, 2 ** (attempt + 1));
  return Math.max(1, Math.min(left, base / 2 + Math.random() * (base / 2)));
}

export class SqliteConnection {
  readonly db: DatabaseSync;
  /** What the store is called in errors ("outbox", "delivery store"). */
  readonly #what: string;
  readonly #path: string;
  readonly #identity: FileIdentity | null;
  readonly #options: SqliteConnectionOptions;

  private constructor(db: DatabaseSync, what: string, path: string, options: SqliteConnectionOptions) {
    this.db = db;
    this.#what = what;
    this.#path = path;
    this.#identity = path === ':memory:' ? null : fileIdentity(path);
    this.#options = options;
  }

  /**
   * Opens `path` (creating its directories; `':memory:'` gives a private in-memory database), configures the
   * connection and runs `init` (migrations, tables). `what` names the store in errors.
   */
  static open(
    path: string,
    what: string,
    options: SqliteConnectionOptions,
    init: (db: DatabaseSync) => void,
    extra: { enableForeignKeyConstraints?: boolean; cacheKb?: number } = {},
  ): SqliteConnection {
    const inMemory = path === ':memory:';
    let db: DatabaseSync | undefined;
    try {
      if (!inMemory) mkdirSync(dirname(path), { recursive: true });
      const { cacheKb, ...dbOptions } = extra;
      db = new DatabaseSync(path, { timeout: OPEN_BUSY_TIMEOUT_MS, ...dbOptions });
      configureConnection(db, inMemory, cacheKb);
      init(db);
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      options.configure?.(db);
      return new SqliteConnection(db, what, path, options);
    } catch (err) {
      if (db?.isOpen) db.close();
      // A refusal of our own (a store from a newer build) keeps its code.
      if (err instanceof ChangegateError) throw err;
      throw new ChangegateError('CG_STORE_FAILED', `cannot open ${what} at ${path}: ${errorMessageOf(err)}`, { cause: err, details: { path } });
    }
  }

  /**
   * Runs one unit of synchronous work (a statement, or a whole transaction `fn` begins and commits). A busy store
   * is retried after an awaited backoff; a fault (full disk, corrupt page, the file gone) is reported and answered
   * CG_STORE_UNAVAILABLE; any other failure CG_STORE_FAILED. Errors of the vocabulary `fn` throws pass through.
   */
  run<T>(op: string, details: Record<string, unknown>, fn: () => T): Promise<T> {
    return this.#run(op, details, fn, true);
  }

  /**
   * `run` for work that only reads. A read from a file deleted under the process
   * answers what the file held, as it would have a moment before; the health
   * check (every second) reports the loss, and the next write is refused. So a
   * read skips the look at the file's identity (a `stat`, about 2% of a sync's
   * CPU and of a validation's, asked on every read).
   */
  read<T>(op: string, details: Record<string, unknown>, fn: () => T): Promise<T> {
    return this.#run(op, details, fn, false);
  }

  async #run<T>(op: string, details: Record<string, unknown>, fn: () => T, wrote: boolean): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const value = fn();
        // A write to a file deleted under the process succeeds, into nothing: nothing was kept.
        if (wrote && this.#identity !== null && !sameFile(this.#identity, fileIdentity(this.#path))) {
          throw this.#fault('missing', op, details, new Error(`${this.#path} was deleted or replaced since it was opened`));
        }
        return value;
      } catch (err) {
        this.#rollback();
        if (err instanceof ChangegateError) throw err;
        const fault = faultOf(err);
        if (fault === 'busy') {
          const left = (this.#options.busyBoundMs ?? DEFAULT_BUSY_BOUND_MS) - (Date.now() - started);
          if (left > 0) {
            await sleep(backoffMs(attempt, left));
            continue;
          }
          this.#options.onFault?.('locked');
          throw new ChangegateError('CG_STORE_BUSY', `${this.#what} ${op}: the store stayed locked by another connection for ${Date.now() - started} ms; nothing was stored`, {
            cause: err,
            details: { op, reason: 'locked', ...details },
          });
        }
        if (fault !== null) throw this.#fault(fault, op, details, err);
        throw new ChangegateError('CG_STORE_FAILED', `${this.#what} ${op} failed: ${errorMessageOf(err)}`, { cause: err, details: { op, ...details } });
      }
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  #fault(reason: StoreFaultReason, op: string, details: Record<string, unknown>, cause: unknown): ChangegateError {
    this.#options.onFault?.(reason);
    return new ChangegateError('CG_STORE_UNAVAILABLE', `${this.#what} ${op}: ${STORE_FAULT_TEXT[reason]}: ${errorMessageOf(cause)}`, {
      cause,
      details: { op, reason, ...details },
    });
  }

  #rollback(): void {
    try {
      if (this.db.isOpen && this.db.isTransaction) this.db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (it does on some I/O errors); the original error is what matters.
    }
  }
}
