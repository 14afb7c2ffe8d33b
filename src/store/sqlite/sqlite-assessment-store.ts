// Assessments and enforcement records on SQLite (node:sqlite, WAL), on their
// own connection to the change store's file, with their own tables created
// here (IF NOT EXISTS) so they evolve apart from the change store's migrations.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Assessment } from '../../domain/assessment.ts';
import type { CanonicalState } from '../../domain/change.ts';
import type {
  AssessmentHistoryQuery,
  AssessmentStore,
  EnforcementAction,
  EnforcementHistoryQuery,
  EnforcementMode,
  EnforcementOutcome,
  EnforcementRecord,
  HistoryAssessment,
  StoredAssessment,
} from '../assessment-store.ts';
import type { SqliteConnection, SqliteConnectionOptions } from './sqlite-connection.ts';
import { openSideTables } from './sqlite-side-table.ts';


const SCHEMA = `
  CREATE TABLE IF NOT EXISTS assessments (
    seq INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    policy_version TEXT NOT NULL,
    outcome_hash TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    wrote_back INTEGER NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (change_id, revision, outcome_hash)
  );
  -- A change's few assessments are found by the unique key's change_id and sorted: an index of its own
  -- (change_id, seq) rewrote a leaf at random for each assessment a sync stored.
  DROP INDEX IF EXISTS assessments_by_change;
  CREATE INDEX IF NOT EXISTS assessments_written_back ON assessments (change_id, seq) WHERE wrote_back = 1;
  -- The history pages a change's assessments in its own order (AssessmentHistoryQuery): a change assessed for
  -- months has thousands, and a page must read about its limit, not all of them. Worth the leaf it writes per insert.
  CREATE INDEX IF NOT EXISTS assessments_history ON assessments (change_id, evaluated_at, CAST(revision AS TEXT));

  CREATE TABLE IF NOT EXISTS enforcements (
    change_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    from_native TEXT,
    to_native TEXT NOT NULL,
    mode TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reasons TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    idempotency_key TEXT,
    observed_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    detail TEXT,
    PRIMARY KEY (change_id, revision)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS enforcements_by_key ON enforcements (idempotency_key);
  -- The history pages a change's records in its own order (EnforcementHistoryQuery): one whose moves were
  -- reverted for months has hundreds, and a page must read about its limit, not all of them.
  CREATE INDEX IF NOT EXISTS enforcements_history ON enforcements (change_id, recorded_at, revision);
`;

interface AssessmentRow {
  change_id: string;
  revision: number;
  policy_version: string;
  outcome_hash: string;
  input_hash: string;
  evaluated_at: string;
  wrote_back: number;
  json: string;
}

interface EnforcementRow {
  change_id: string;
  revision: number;
  from_state: string;
  to_state: string;
  from_native: string | null;
  to_native: string;
  mode: string;
  action: string;
  outcome: string;
  reasons: string;
  policy_version: string;
  idempotency_key: string | null;
  observed_at: string;
  recorded_at: string;
  detail: string | null;
}

function toStored(row: AssessmentRow): StoredAssessment {
  return {
    changeId: row.change_id,
    revision: row.revision,
    policyVersion: row.policy_version,
    outcomeHash: row.outcome_hash,
    inputHash: row.input_hash,
    evaluatedAt: row.evaluated_at,
    wroteBack: row.wrote_back === 1,
    assessment: JSON.parse(row.json) as Assessment,
  };
}

function toRecord(row: EnforcementRow): EnforcementRecord {
  return {
    changeId: row.change_id,
    revision: row.revision,
    from: row.from_state as CanonicalState,
    to: row.to_state as CanonicalState,
    fromNative: row.from_native,
    toNative: row.to_native,
    mode: row.mode as EnforcementMode,
    action: row.action as EnforcementAction,
    outcome: row.outcome as EnforcementOutcome,
    reasons: JSON.parse(row.reasons) as string[],
    policyVersion: row.policy_version,
    idempotencyKey: row.idempotency_key,
    observedAt: row.observed_at,
    recordedAt: row.recorded_at,
    detail: row.detail,
  };
}


export class SqliteAssessmentStore implements AssessmentStore {
  readonly #db: DatabaseSync;
  readonly #conn: SqliteConnection;
  readonly #insertAssessment: StatementSync;
  readonly #latest: StatementSync;
  readonly #latestWritten: StatementSync;
  readonly #standsFor: StatementSync;
  readonly #listAssessments: StatementSync;
  readonly #history: Record<AssessmentHistoryQuery['order'], { first: StatementSync; after: StatementSync }>;
  readonly #count: StatementSync;
  readonly #insertEnforcement: StatementSync;
  readonly #settle: StatementSync;
  readonly #listEnforcements: StatementSync;
  readonly #enforcementsHistory: Record<EnforcementHistoryQuery['order'], { first: StatementSync; after: StatementSync }>;
  readonly #enforcementsOf: StatementSync;
  readonly #countEnforcements: StatementSync;

  private constructor(conn: SqliteConnection) {
    const db = conn.db;
    this.#conn = conn;
    this.#db = db;
    this.#insertAssessment = db.prepare(
      `INSERT INTO assessments (change_id, revision, policy_version, outcome_hash, input_hash, evaluated_at, wrote_back, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (change_id, revision, outcome_hash) DO NOTHING`,
    );
    this.#latest = db.prepare('SELECT * FROM assessments WHERE change_id = ? ORDER BY seq DESC LIMIT 1');
    this.#latestWritten = db.prepare('SELECT * FROM assessments WHERE change_id = ? AND wrote_back = 1 ORDER BY seq DESC LIMIT 1');
    this.#standsFor = db.prepare(
      'UPDATE assessments SET input_hash = ?, policy_version = ?, wrote_back = max(wrote_back, ?) WHERE change_id = ? AND revision = ? AND outcome_hash = ?',
    );
    this.#listAssessments = db.prepare('SELECT * FROM assessments WHERE change_id = ? ORDER BY seq');
    // Row values compare (evaluated_at, revision as text, seq) as one key, which the assessments_history index
    // (with the rowid, seq, at its end) answers in order. A cursor on the first of a revision's assessments at one
    // instant names no seq (its id has none): it stands at the smallest there. `repeat`: one was stored before it there.
    const history = (order: 'ASC' | 'DESC', cmp: '>' | '<'): { first: StatementSync; after: StatementSync } => {
      const columns = `a.*, EXISTS (SELECT 1 FROM assessments WHERE change_id = a.change_id AND evaluated_at = a.evaluated_at
        AND CAST(revision AS TEXT) = CAST(a.revision AS TEXT) AND seq < a.seq) AS repeat`;
      const by = `ORDER BY a.evaluated_at ${order}, CAST(a.revision AS TEXT) ${order}, a.seq ${order} LIMIT :limit`;
      const firstThere = 'SELECT MIN(seq) FROM assessments WHERE change_id = :change AND evaluated_at = :at AND CAST(revision AS TEXT) = :revision';
      return {
        first: db.prepare(`SELECT ${columns} FROM assessments a WHERE a.change_id = :change ${by}`),
        after: db.prepare(
          `SELECT ${columns} FROM assessments a WHERE a.change_id = :change
             AND (a.evaluated_at, CAST(a.revision AS TEXT), a.seq) ${cmp} (:at, :revision, COALESCE(:seq, (${firstThere}), 0)) ${by}`,
        ),
      };
    };
    this.#history = { asc: history('ASC', '>'), desc: history('DESC', '<') };
    this.#count = db.prepare('SELECT COUNT(*) AS n FROM assessments WHERE change_id = ?');
    this.#insertEnforcement = db.prepare(
      `INSERT INTO enforcements (change_id, revision, from_state, to_state, from_native, to_native, mode, action, outcome, reasons,
         policy_version, idempotency_key, observed_at, recorded_at, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (change_id, revision) DO NOTHING`,
    );
    this.#settle = db.prepare(`UPDATE enforcements SET outcome = ?, detail = ? WHERE idempotency_key = ? AND outcome = 'pending'`);
    this.#listEnforcements = db.prepare('SELECT * FROM enforcements WHERE change_id = ? ORDER BY revision');
    // As the assessments: (recorded_at, revision) compared as one key, answered in order by enforcements_history.
    const enforcementsHistory = (order: 'ASC' | 'DESC', cmp: '>' | '<'): { first: StatementSync; after: StatementSync } => {
      const by = `ORDER BY recorded_at ${order}, revision ${order} LIMIT :limit`;
      return {
        first: db.prepare(`SELECT * FROM enforcements WHERE change_id = :change ${by}`),
        after: db.prepare(`SELECT * FROM enforcements WHERE change_id = :change AND (recorded_at, revision) ${cmp} (:at, :revision) ${by}`),
      };
    };
    this.#enforcementsHistory = { asc: enforcementsHistory('ASC', '>'), desc: enforcementsHistory('DESC', '<') };
    this.#enforcementsOf = db.prepare('SELECT * FROM enforcements WHERE change_id = ? AND revision IN (SELECT value FROM json_each(?)) ORDER BY revision');
    this.#countEnforcements = db.prepare('SELECT COUNT(*) AS n FROM enforcements WHERE change_id = ?');
  }

  /** On a connection to a file that has the tables already (a writer that batches other ports' writes with the assessments). */
  static on(conn: SqliteConnection): SqliteAssessmentStore {
    return new SqliteAssessmentStore(conn);
  }

  /** Opens (creating the file, its directories and the tables if needed). `':memory:'` gives a private in-memory store. */
  static open(path: string, options: SqliteConnectionOptions = {}): SqliteAssessmentStore {
    return new SqliteAssessmentStore(openSideTables(path, SCHEMA, 'the assessment store', options));
  }


  async saveAssessment(a: StoredAssessment): Promise<boolean> {
    return this.#guard('saveAssessment', { changeId: a.changeId }, () => {
      // One transaction: a retry after a busy store repeats both statements or neither.
      this.#db.exec('BEGIN IMMEDIATE');
      const saved = this.saveInTransaction(a);
      this.#db.exec('COMMIT');
      return saved;
    });
  }

  /** `saveAssessment`'s work inside a transaction the caller opened on this store's connection (and commits). */
  saveInTransaction(a: StoredAssessment): boolean {
    const { changes } = this.#insertAssessment.run(
      a.changeId,
      a.revision,
      a.policyVersion,
      a.outcomeHash,
      a.inputHash,
      a.evaluatedAt,
      a.wroteBack ? 1 : 0,
      JSON.stringify(a.assessment),
    );
    if (Number(changes) === 0) this.#standsFor.run(a.inputHash, a.policyVersion, a.wroteBack ? 1 : 0, a.changeId, a.revision, a.outcomeHash);
    return Number(changes) === 1;
  }

  async latestAssessment(changeId: string): Promise<StoredAssessment | null> {
    return this.#conn.read('latestAssessment', { changeId }, () => {
      const row = this.#latest.get(changeId) as AssessmentRow | undefined;
      return row === undefined ? null : toStored(row);
    });
  }

  async latestWrittenBack(changeId: string): Promise<StoredAssessment | null> {
    return this.#conn.read('latestWrittenBack', { changeId }, () => {
      const row = this.#latestWritten.get(changeId) as AssessmentRow | undefined;
      return row === undefined ? null : toStored(row);
    });
  }

  async listAssessments(changeId: string): Promise<StoredAssessment[]> {
    return this.#conn.read('listAssessments', { changeId }, () => (this.#listAssessments.all(changeId) as unknown as AssessmentRow[]).map(toStored));
  }

  async listAssessmentsForHistory(changeId: string, query: AssessmentHistoryQuery): Promise<HistoryAssessment[]> {
    return this.#conn.read('listAssessmentsForHistory', { changeId }, () => {
      const statements = this.#history[query.order];
      const limit = Math.max(1, Math.trunc(query.limit));
      const rows = query.after === undefined
        ? statements.first.all({ change: changeId, limit })
        : statements.after.all({ change: changeId, limit, at: query.after.evaluatedAt, revision: query.after.revision, seq: query.after.seq });
      return (rows as unknown as (AssessmentRow & { seq: number; repeat: number })[]).map((row) => ({ ...toStored(row), seq: row.seq, repeat: row.repeat === 1 }));
    });
  }

  async countAssessments(changeId: string): Promise<number> {
    return this.#conn.read('countAssessments', { changeId }, () => (this.#count.get(changeId) as { n: number }).n);
  }

  async recordEnforcement(r: EnforcementRecord): Promise<boolean> {
    return this.#guard('recordEnforcement', { changeId: r.changeId, revision: r.revision }, () => {
      const { changes } = this.#insertEnforcement.run(
        r.changeId,
        r.revision,
        r.from,
        r.to,
        r.fromNative,
        r.toNative,
        r.mode,
        r.action,
        r.outcome,
        JSON.stringify(r.reasons),
        r.policyVersion,
        r.idempotencyKey,
        r.observedAt,
        r.recordedAt,
        r.detail,
      );
      return Number(changes) === 1;
    });
  }

  async settleEnforcement(idempotencyKey: string, outcome: EnforcementOutcome, detail: string | null): Promise<boolean> {
    return this.#guard('settleEnforcement', { idempotencyKey }, () => Number(this.#settle.run(outcome, detail, idempotencyKey).changes) > 0);
  }

  async listEnforcements(changeId: string): Promise<EnforcementRecord[]> {
    return this.#conn.read('listEnforcements', { changeId }, () => (this.#listEnforcements.all(changeId) as unknown as EnforcementRow[]).map(toRecord));
  }

  async listEnforcementsForHistory(changeId: string, query: EnforcementHistoryQuery): Promise<EnforcementRecord[]> {
    return this.#conn.read('listEnforcementsForHistory', { changeId }, () => {
      const statements = this.#enforcementsHistory[query.order];
      const limit = Math.max(1, Math.trunc(query.limit));
      const rows = query.after === undefined
        ? statements.first.all({ change: changeId, limit })
        : statements.after.all({ change: changeId, limit, at: query.after.recordedAt, revision: query.after.revision });
      return (rows as unknown as EnforcementRow[]).map(toRecord);
    });
  }

  async enforcementsOf(changeId: string, revisions: readonly number[]): Promise<EnforcementRecord[]> {
    if (revisions.length === 0) return [];
    return this.#conn.read('enforcementsOf', { changeId }, () => (this.#enforcementsOf.all(changeId, JSON.stringify(revisions)) as unknown as EnforcementRow[]).map(toRecord));
  }

  async countEnforcements(changeId: string): Promise<number> {
    return this.#conn.read('countEnforcements', { changeId }, () => (this.#countEnforcements.get(changeId) as { n: number }).n);
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  /** One statement or transaction, retried while the store is busy (sqlite-connection.ts). */
  #guard<T>(op: string, details: Record<string, unknown>, fn: () => T): Promise<T> {
    return this.#conn.run(op, details, fn);
  }

}
