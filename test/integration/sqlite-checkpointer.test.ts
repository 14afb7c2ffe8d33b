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

describe('SQLite checkpointer', () => {
  it('leaves commits as appends past 1,000 pages, and copies the log into the file on a worker once it is long', async () => {
    const db = new DatabaseSync(path);
    configureConnection(db, false);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    // About 8 MB in 40 commits: twice SQLite's default threshold, which would have checkpointed in a commit.
    for (let batch = 0; batch < 40; batch++) {
      db.exec('BEGIN');
      for (let i = 0; i < 50; i++) insert.run('x'.repeat(4_000));
      db.exec('COMMIT');
    }
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
