// Loaded into the `serve` child of a chaos run (`node --import`): while the
// flag file named by CHANGEGATE_CHAOS_DISK_FULL exists, every SQLite
// connection of the process may not grow its database by one page, so writes
// fail with SQLITE_FULL as on a full disk; when the file goes, the limit is
// lifted. Connections are found through the pragmas every adapter runs at open.

import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

const flag = process.env['CHANGEGATE_CHAOS_DISK_FULL'];
const UNLIMITED = 1_073_741_823;

if (flag !== undefined && flag !== '') {
  const connections = new Set<DatabaseSync>();
  const exec = DatabaseSync.prototype.exec;
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string): void {
    connections.add(this);
    exec.call(this, sql);
  };
  let full = false;
  const limit = (db: DatabaseSync): void => {
    if (full) {
      const row = db.prepare('PRAGMA page_count').get() as { page_count: number };
      exec.call(db, `PRAGMA max_page_count = ${row.page_count}`);
    } else {
      exec.call(db, `PRAGMA max_page_count = ${UNLIMITED}`);
    }
  };
  setInterval(() => {
    const now = existsSync(flag);
    if (now === full) return;
    full = now;
    for (const db of connections) {
      if (!db.isOpen) {
        connections.delete(db);
        continue;
      }
      try {
        limit(db);
      } catch {
        // A connection busy in a transaction of its own gets the limit at the next tick's change, or never: a full disk is not tidy either.
      }
    }
  }, 20).unref();
}
