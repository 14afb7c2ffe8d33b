// Opens a connection to the mirror's SQLite file for a store that keeps its own
// tables beside the mirror's (webhook inbox, outbox, assessments): same file,
// same connection settings, tables created if missing.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ChangegateError } from '../../errors.ts';
import { configureConnection } from './sqlite-schema.ts';

const BUSY_TIMEOUT_MS = 5_000;

export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `':memory:'` gives a private in-memory database. `what` names the store in the error (e.g. "the outbox"). */
export function openSideTables(path: string, schema: string, what: string): DatabaseSync {
  const inMemory = path === ':memory:';
  let db: DatabaseSync | undefined;
  try {
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    configureConnection(db, inMemory);
    db.exec(schema);
    return db;
  } catch (err) {
    if (db?.isOpen) db.close();
    throw new ChangegateError('CG_STORE_FAILED', `cannot open ${what} at ${path}: ${errorMessageOf(err)}`, { cause: err, details: { path } });
  }
}
