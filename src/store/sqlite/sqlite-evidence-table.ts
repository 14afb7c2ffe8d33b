// The evidence ledger's table, and its upgrade from the layout of older builds.
// Entries are appended in rowid order. Older builds keyed the table itself by
// (change_id, seq) WITHOUT ROWID, each entry's JSON (about 2.7 KB) inline: the
// inserts of a first sync landed all over that B-tree, and every batch commit
// dirtied many of its pages. Now only the small keys of the two unique indexes
// land at random; the rows go at the end.

import type { DatabaseSync } from 'node:sqlite';

const COLUMNS = `
    id INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    dedupe_key TEXT NOT NULL,
    at TEXT NOT NULL,
    hash TEXT NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (change_id, seq),
    UNIQUE (change_id, dedupe_key)`;

const BY_TIME = 'CREATE INDEX IF NOT EXISTS evidence_by_time ON evidence (at, change_id)';

/**
 * Run on every open, before `upgradeEvidenceTable`. On a file of an older build
 * it creates nothing: the table exists, and the time index it names has the
 * same columns in both layouts.
 */
export const EVIDENCE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS evidence (${COLUMNS}
  );
  ${BY_TIME};
`;

/** The ledger's reads, each a search of one index (the plans are held in sqlite-evidence-store.test.ts). */
export const EVIDENCE_READS = {
  head: 'SELECT seq, hash FROM evidence WHERE change_id = ? ORDER BY seq DESC LIMIT 1',
  byKey: 'SELECT json FROM evidence WHERE change_id = ? AND dedupe_key = ?',
  list: 'SELECT json FROM evidence WHERE change_id = ? ORDER BY seq',
  period: 'SELECT DISTINCT change_id FROM evidence WHERE at >= ? AND at < ? ORDER BY change_id',
} as const;

function keyedByChange(db: DatabaseSync): boolean {
  const table = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'evidence'").get() as { sql: string } | undefined;
  return table !== undefined && /WITHOUT\s+ROWID/i.test(table.sql);
}

/**
 * Rewrites a ledger of the older layout into the appended one, entry for entry
 * (the JSON, hashes and dedupe keys are copied as they are, so chains and
 * refusals stay the same). One write-locked transaction: a process killed
 * midway leaves the old table whole, and a second process opening the same file
 * finds it rewritten once it has the lock, and leaves it.
 */
export function upgradeEvidenceTable(db: DatabaseSync): void {
  if (!keyedByChange(db)) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    if (keyedByChange(db)) {
      // In key order, so a change's entries sit side by side as they did (a ledger export reads fewer pages).
      db.exec(`
        CREATE TABLE evidence_appended (${COLUMNS}
        );
        INSERT INTO evidence_appended (change_id, seq, dedupe_key, at, hash, json)
          SELECT change_id, seq, dedupe_key, at, hash, json FROM evidence ORDER BY change_id, seq;
        DROP TABLE evidence;
        ALTER TABLE evidence_appended RENAME TO evidence;
        ${BY_TIME};
      `);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
