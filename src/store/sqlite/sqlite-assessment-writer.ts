// The assessments of a sync page stored in one SQLite transaction: queued
// write-back, ledger entries, assessment rows and owed markers together. Each
// was its own transaction (a page of a thousand changes made four thousand),
// and the commits, not the rows, were most of a sync's cost. One transaction
// is also all or nothing: a process killed mid-batch leaves every change of it
// owed, and the next start assesses them again (the keys keep the writes single).
// Its own connection, with its own prepared statements of the three side stores.

import type { StatementSync } from 'node:sqlite';
import type { AssessmentWriter, AssessmentWrites } from '../assessment-writes.ts';
import { SqliteAssessmentStore } from './sqlite-assessment-store.ts';
import type { SqliteConnection, SqliteConnectionOptions } from './sqlite-connection.ts';
import { SqliteEvidenceStore } from './sqlite-evidence-store.ts';
import { SqliteOutboxStore } from './sqlite-outbox-store.ts';
import { openSideTables } from './sqlite-side-table.ts';
import { NOTE_ASSESSED_SQL } from './sqlite-statements.ts';

export class SqliteAssessmentWriter implements AssessmentWriter {
  readonly #conn: SqliteConnection;
  readonly #outbox: SqliteOutboxStore;
  readonly #evidence: SqliteEvidenceStore;
  readonly #assessments: SqliteAssessmentStore;
  readonly #noteAssessed: StatementSync;

  private constructor(conn: SqliteConnection) {
    this.#conn = conn;
    this.#outbox = SqliteOutboxStore.on(conn);
    this.#evidence = SqliteEvidenceStore.on(conn);
    this.#assessments = SqliteAssessmentStore.on(conn);
    this.#noteAssessed = conn.db.prepare(NOTE_ASSESSED_SQL);
  }

  /** On a file whose mirror, outbox, ledger and assessment tables exist (open those stores first). */
  static open(path: string, options: SqliteConnectionOptions = {}): SqliteAssessmentWriter {
    return new SqliteAssessmentWriter(openSideTables(path, '', 'the assessment writer', options));
  }

  async write(batch: readonly AssessmentWrites[]): Promise<string[][]> {
    if (batch.length === 0) return [];
    return this.#conn.run('writeAssessments', { changes: batch.length }, () => {
      const db = this.#conn.db;
      db.exec('BEGIN IMMEDIATE');
      const queued: string[][] = [];
      for (const item of batch) {
        queued.push(item.outbox.length === 0 ? [] : this.#outbox.enqueueInTransaction(item.outbox, item.queuedAt.getTime()).inserted);
        for (const e of item.evidence) this.#evidence.appendInTransaction(item.changeId, e.draft, e.key);
        if (item.assessment !== null) this.#assessments.saveInTransaction(item.assessment);
        if (item.assessedRevision !== null) this.#noteAssessed.run({ id: item.changeId, seq: item.assessedRevision, asOf: item.assessedAsOf ?? null });
      }
      db.exec('COMMIT');
      return queued;
    });
  }

  async close(): Promise<void> {
    this.#conn.close();
  }
}
