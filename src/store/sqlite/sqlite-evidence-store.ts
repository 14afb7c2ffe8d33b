// The evidence ledger on SQLite: its own table beside the mirror, written only
// by INSERT. The head read and the insert run in one immediate transaction, and
// (change_id, seq) is the primary key, so a second writer of the same change
// waits for the first and chains after it instead of forking the chain.

import type { StatementSync } from 'node:sqlite';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../evidence/evidence-entry.ts';
import type { EvidenceStore } from '../evidence-store.ts';
import type { SqliteConnection, SqliteConnectionOptions } from './sqlite-connection.ts';
import { openSideTables } from './sqlite-side-table.ts';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS evidence (
    change_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    dedupe_key TEXT NOT NULL,
    at TEXT NOT NULL,
    hash TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (change_id, seq),
    UNIQUE (change_id, dedupe_key)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS evidence_by_time ON evidence (at, change_id);
`;

export class SqliteEvidenceStore implements EvidenceStore {
  readonly #conn: SqliteConnection;
  readonly #head: StatementSync;
  readonly #byKey: StatementSync;
  readonly #insert: StatementSync;
  readonly #list: StatementSync;
  readonly #period: StatementSync;

  private constructor(conn: SqliteConnection) {
    this.#conn = conn;
    const db = conn.db;
    this.#head = db.prepare('SELECT seq, hash FROM evidence WHERE change_id = ? ORDER BY seq DESC LIMIT 1');
    this.#byKey = db.prepare('SELECT json FROM evidence WHERE change_id = ? AND dedupe_key = ?');
    this.#insert = db.prepare('INSERT INTO evidence (change_id, seq, dedupe_key, at, hash, json) VALUES (?, ?, ?, ?, ?, ?)');
    this.#list = db.prepare('SELECT json FROM evidence WHERE change_id = ? ORDER BY seq');
    this.#period = db.prepare('SELECT DISTINCT change_id FROM evidence WHERE at >= ? AND at < ? ORDER BY change_id');
  }

  /** On a connection to a file that has the table already (a writer that batches other ports' writes with the ledger's). */
  static on(conn: SqliteConnection): SqliteEvidenceStore {
    return new SqliteEvidenceStore(conn);
  }

  static open(path: string, options: SqliteConnectionOptions = {}): SqliteEvidenceStore {
    return new SqliteEvidenceStore(openSideTables(path, SCHEMA, 'the evidence ledger', options));
  }

  async append(changeId: string, draft: EvidenceDraft, dedupeKey: string): Promise<{ entry: EvidenceEntry; appended: boolean }> {
    return this.#conn.run('appendEvidence', { changeId }, () => {
      const db = this.#conn.db;
      db.exec('BEGIN IMMEDIATE');
      const result = this.appendInTransaction(changeId, draft, dedupeKey);
      db.exec('COMMIT');
      return result;
    });
  }

  /** `append`'s work inside a transaction the caller opened on this store's connection (and commits). */
  appendInTransaction(changeId: string, draft: EvidenceDraft, dedupeKey: string): { entry: EvidenceEntry; appended: boolean } {
    const known = this.#byKey.get(changeId, dedupeKey) as { json: string } | undefined;
    if (known !== undefined) return { entry: JSON.parse(known.json) as EvidenceEntry, appended: false };
    const head = (this.#head.get(changeId) as { seq: number; hash: string } | undefined) ?? null;
    const entry = chainEntry(changeId, head, draft);
    this.#insert.run(changeId, entry.seq, dedupeKey, entry.at, entry.hash, JSON.stringify(entry));
    return { entry, appended: true };
  }

  async list(changeId: string): Promise<EvidenceEntry[]> {
    return this.#conn.run('listEvidence', { changeId }, () => (this.#list.all(changeId) as { json: string }[]).map((r) => JSON.parse(r.json) as EvidenceEntry));
  }

  async changesWithEntries(query: { since: string; until: string }): Promise<string[]> {
    return this.#conn.run('changesWithEvidence', {}, () => (this.#period.all(query.since, query.until) as { change_id: string }[]).map((r) => r.change_id));
  }

  async close(): Promise<void> {
    this.#conn.close();
  }
}
