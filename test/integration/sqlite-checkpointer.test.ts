// The write-ahead log is copied back into the store file by a worker thread,
// not by the connection that commits: commits stay appends, and the log is
// still checkpointed once it passes the threshold.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteCheckpointer } from '../../src/store/sqlite/sqlite-checkpointer.ts';
import { configureConnection } from '../../src/store/sqlite/sqlite-schema.ts';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cg-checkpoint-'));
  path = join(dir, 'store.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A store connection that has committed `commits` transactions of `rowsPerCommit` rows of about a page each. */
function storeWithRows(commits: number, rowsPerCommit: number): DatabaseSync {
  const db = new DatabaseSync(path);
  configureConnection(db, false);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  for (let batch = 0; batch < commits; batch++) {
    db.exec('BEGIN');
    for (let i = 0; i < rowsPerCommit; i++) insert.run('x'.repeat(4_000));
    db.exec('COMMIT');
  }
  return db;
}

describe('SQLite checkpointer', () => {
  it('leaves commits as appends past 1,000 pages, and copies the log into the file on a worker once it is long', async () => {
    // About 8 MB in 40 commits: twice SQLite's default threshold, which would have checkpointed in a commit.
    const db = storeWithRows(40, 50);
    const fileBefore = statSync(path).size;
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(4 * 1024 * 1024);
    // Nothing of the rows reached the file: no commit checkpointed.
    expect(fileBefore).toBeLessThan(64 * 1024);

    const checkpointer = SqliteCheckpointer.start(path, { everyMs: 60_000 });
    try {
      await checkpointer.tick();
      expect(checkpointer.runs).toBe(1);
      // The rows are in the file now, copied by the worker's connection.
      expect(statSync(path).size).toBeGreaterThan(7 * 1024 * 1024);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('leaves a burst of 20,000 pages between two of its looks to the worker: no commit checkpoints on the event loop', async () => {
    // A first sync appends thousands of pages a second, and the log restarts only when a write finds all of it
    // copied. At the old connection threshold of 16,384 pages, the commit that crossed it copied the log itself.
    const db = storeWithRows(100, 200);
    try {
      // Nothing of the rows reached the file: no commit checkpointed.
      expect(statSync(path).size).toBeLessThan(64 * 1024);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(20_000 * 4_096);
      const checkpointer = SqliteCheckpointer.start(path, { everyMs: 60_000 });
      try {
        await checkpointer.tick();
        expect(statSync(path).size).toBeGreaterThan(20_000 * 4_000);
      } finally {
        await checkpointer.close();
      }
    } finally {
      db.close();
    }
  });

  it('does nothing while the log is short, and starts no worker', async () => {
    const db = new DatabaseSync(path);
    configureConnection(db, false);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const checkpointer = SqliteCheckpointer.start(path, { everyMs: 60_000 });
    await checkpointer.tick();
    expect(checkpointer.runs).toBe(0);
    await checkpointer.close();
    db.close();
  });
});
