// The evidence ledger on SQLite: its own table beside the mirror, written only
// by INSERT (its table: sqlite-evidence-table.ts). The head read and the insert
// run in one immediate transaction, and (change_id, seq) is unique, so a second
// writer of the same change waits for the first and chains after it instead of
// forking the chain.

import type { StatementSync } from 'node:sqlite';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../evidence/evidence-entry.ts';
import type { EvidenceStore } from '../evidence-store.ts';
import type { SqliteConnection, SqliteConnectionOptions } from './sqlite-connection.ts';
import { EVIDENCE_READS, EVIDENCE_SCHEMA, upgradeEvidenceTable } from './sqlite-evidence-table.ts';
import { openSideTables } from './sqlite-side-table.ts';

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
    this.#head = db.prepare(EVIDENCE_READS.head);
    this.#byKey = db.prepare(EVIDENCE_READS.byKey);
    this.#insert = db.prepare('INSERT INTO evidence (change_id, seq, dedupe_key, at, hash, json) VALUES (?, ?, ?, ?, ?, ?)');
    this.#list = db.prepare(EVIDENCE_READS.list);
    this.#period = db.prepare(EVIDENCE_READS.period);
  }

  /** On a connection to a file that has the table already (a writer that batches other ports' writes with the ledger's). */
  static on(conn: SqliteConnection): SqliteEvidenceStore {
    return new SqliteEvidenceStore(conn);
  }

  static open(path: string, options: SqliteConnectionOptions = {}): SqliteEvidenceStore {
    return new SqliteEvidenceStore(openSideTables(path, EVIDENCE_SCHEMA, 'the evidence ledger', options, upgradeEvidenceTable));
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
    return this.#conn.read('listEvidence', { changeId }, () => (this.#list.all(changeId) as { json: string }[]).map((r) => JSON.parse(r.json) as EvidenceEntry));
  }

  async changesWithEntries(query: { since: string; until: string }): Promise<string[]> {
    return this.#conn.read('changesWithEvidence', {}, () => (this.#period.all(query.since, query.until) as { change_id: string }[]).map((r) => r.change_id));
  }

  async close(): Promise<void> {
    this.#conn.close();
  }
}
