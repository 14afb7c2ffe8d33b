// Opens a connection to the mirror's SQLite file for a store that keeps its own
// tables beside the mirror's (webhook inbox, outbox, assessments): same file,
// same connection settings and retry plumbing (sqlite-connection.ts), tables
// created if missing, then `upgrade` adds what tables created by an older build lack.

import type { DatabaseSync } from 'node:sqlite';
import { SqliteConnection, type SqliteConnectionOptions } from './sqlite-connection.ts';

export { errorMessageOf } from './sqlite-connection.ts';

/** `':memory:'` gives a private in-memory database. `what` names the store in errors (e.g. "the outbox"). */
/** 2 MB: side tables mostly append and read a change's latest rows. */
const SIDE_TABLE_CACHE_KB = 2_048;

export function openSideTables(
  path: string,
  schema: string,
  what: string,
  options: SqliteConnectionOptions = {},
  upgrade: (db: DatabaseSync) => void = () => undefined,
): SqliteConnection {
  return SqliteConnection.open(
    path,
    what,
    options,
    (db) => {
      db.exec(schema);
      upgrade(db);
    },
    { cacheKb: SIDE_TABLE_CACHE_KB },
  );
}
