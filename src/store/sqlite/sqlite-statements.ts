// Every statement the SQLite store runs on its hot paths, prepared once per
// connection, and the row shapes they return.

import type { DatabaseSync, StatementSync } from 'node:sqlite';

/**
 * A change with its source payload by key: the key found on `change_cores_by_key`, the row read by id. The
 * mirror's own key index went (every change written rewrote a leaf of it at random: about 2.5% of what a
 * first sync wrote); plans held in test/contract/sqlite-key-lookup-plan.test.ts.
 */
export const CHANGE_BY_KEY_SQL = `SELECT c.json, c.instance, c.native_id FROM change_cores k JOIN changes c ON c.id = k.id
  WHERE k.key = ? COLLATE NOCASE ORDER BY k.updated_at DESC, k.id DESC LIMIT 1`;
export const CHANGE_BY_KEY_ON_SQL = `SELECT c.json, c.instance, c.native_id FROM change_cores k JOIN changes c ON c.id = k.id
  WHERE k.key = ? COLLATE NOCASE AND k.instance = ? ORDER BY k.updated_at DESC, k.id DESC LIMIT 1`;

/**
 * ChangeStore.noteAssessed; also run by the assessment writer inside its batch (sqlite-assessment-writer.ts).
 * Never moves back; with `:asOf` (not null), only while the change's instance's mirror is at that version (mirrorVersion).
 */
export const NOTE_ASSESSED_SQL = `UPDATE changes SET assessed_seq = :seq WHERE id = :id AND assessed_seq < :seq
  AND (:asOf IS NULL OR coalesce((SELECT n FROM mirror_instance_generation g WHERE g.instance = changes.instance), 0) = :asOf)`;

export interface ChangeHead {
  hash: string;
  native_revision: number;
  updated_at: string;
  last_seq: number;
}

export interface ChangeRow {
  json: string;
  instance: string;
  native_id: string;
}

export interface RevisionRow {
  change_id: string;
  seq: number;
  native_revision: number;
  updated_at: string;
  observed_at: string;
  hash: string;
  diff: string | null;
  snapshot: string | null;
  author: string | null;
  author_recorded: number;
}

export interface RejectedRow {
  instance: string;
  stream: string;
  ref: string;
  code: string;
  message: string;
  first_seen: string;
  last_seen: string;
}

/** ChangeStore.listRevisionsForHistory in one order: from the first revision, and strictly after a position. */
function revisionsHistory(p: (sql: string) => StatementSync, order: 'ASC' | 'DESC', cmp: '>' | '<'): { first: StatementSync; after: StatementSync } {
  const by = `ORDER BY at ${order}, seq ${order} LIMIT :limit`;
  return {
    first: p(`SELECT * FROM revisions WHERE change_id = :change ${by}`),
    after: p(`SELECT * FROM revisions WHERE change_id = :change AND (at, seq) ${cmp} (:at, :seq) ${by}`),
  };
}

/** The approvals of a change in the history's order ((first_key, id) on approvals_history, ApprovalHistoryQuery). */
function approvalsHistory(p: (sql: string) => StatementSync, order: 'ASC' | 'DESC', cmp: '>' | '<'): { first: StatementSync; after: StatementSync } {
  const by = `ORDER BY first_key ${order}, id ${order} LIMIT :limit`;
  const of = 'SELECT json, first_at FROM approvals WHERE instance = :instance AND change_native_id = :change';
  return {
    first: p(`${of} ${by}`),
    after: p(`${of} AND (first_key, id) ${cmp} (:at, :id) ${by}`),
  };
}

export function prepareStatements(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    changeHead: p('SELECT hash, native_revision, updated_at, last_seq FROM changes WHERE id = ?'),
    changeJson: p('SELECT json FROM changes WHERE id = ?'),
    noteAssessed: p(NOTE_ASSESSED_SQL),
    // The WHERE repeats the partial index's condition, so SQLite reads that index only.
    owedAssessments: p('SELECT id FROM changes WHERE assessed_seq < last_seq AND id > :after ORDER BY id LIMIT :limit'),
    owedAssessmentsOf: p('SELECT id FROM changes WHERE assessed_seq < last_seq AND instance = :instance AND id > :after ORDER BY id LIMIT :limit'),
    // A change whose approvals or notes moved is owed again: its noted revision steps back behind the latest.
    oweAssessment: p('UPDATE changes SET assessed_seq = last_seq - 1 WHERE id = ? AND assessed_seq >= last_seq'),
    systemOf: p('SELECT system FROM changes WHERE instance = ? LIMIT 1'),
    insertChange: p(
      `INSERT INTO changes (id, instance, system, native_id, key, state, updated_at, native_revision, hash, last_seq, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
    ),
    updateChange: p(
      `UPDATE changes SET key = ?, state = ?, updated_at = ?, native_revision = ?, hash = ?, last_seq = ?, json = ?
       WHERE id = ?`,
    ),
    upsertCore: p(
      `INSERT INTO change_cores (id, instance, native_id, key, updated_at, json) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at, json = excluded.json`,
    ),
    insertRevision: p(
      `INSERT INTO revisions (change_id, seq, native_revision, updated_at, at, observed_at, hash, diff, author, author_recorded)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
    ),
    keepFirstSnapshot: p('UPDATE revisions SET snapshot = ? WHERE change_id = ? AND seq = 1 AND diff IS NULL'),
    approvalHead: p('SELECT hash, updated_at FROM approvals WHERE instance = ? AND id = ?'),
    upsertApproval: p(
      // first_at (and its instant, first_key) only on insert: a later version keeps the first one's.
      `INSERT INTO approvals (instance, id, change_native_id, updated_at, hash, json, first_at, first_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (instance, id) DO UPDATE SET change_native_id = excluded.change_native_id,
         updated_at = excluded.updated_at, hash = excluded.hash, json = excluded.json`,
    ),
    insertJournal: p(
      `INSERT INTO journal (instance, id, change_native_id, at, json) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (instance, id) DO NOTHING`,
    ),
    anyRejected: p('SELECT 1 AS one FROM rejected_records WHERE instance = ? AND stream = ? LIMIT 1'),
    upsertRejected: p(
      `INSERT INTO rejected_records (instance, stream, ref, code, message, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (instance, stream, ref) DO UPDATE SET code = excluded.code, message = excluded.message,
         last_seen = excluded.last_seen`,
    ),
    clearRejected: p('DELETE FROM rejected_records WHERE instance = ? AND stream = ? AND ref = ?'),
    listRejectedAll: p('SELECT * FROM rejected_records ORDER BY instance, stream, ref'),
    listRejectedOf: p('SELECT * FROM rejected_records WHERE instance = ? ORDER BY stream, ref'),
    saveCursor: p(
      `INSERT INTO cursors (instance, stream, updated_at, id, saved_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (instance, stream) DO UPDATE SET updated_at = excluded.updated_at, id = excluded.id,
         saved_at = excluded.saved_at`,
    ),
    getCursor: p('SELECT updated_at, id FROM cursors WHERE instance = ? AND stream = ?'),
    resetCursors: p('DELETE FROM cursors WHERE instance = ?'),
    changeById: p('SELECT json, instance, native_id FROM changes WHERE id = ?'),
    coreById: p('SELECT json, instance, native_id FROM change_cores WHERE id = ?'),
    // A key can exist on several instances (two JSM sites both have ITSM-42): the most recently updated wins.
    // The key is found on the cores' index (the mirror keeps no second one: CHANGE_BY_KEY_SQL), then the row by id.
    changeByKey: p(CHANGE_BY_KEY_SQL),
    changeByKeyOn: p(CHANGE_BY_KEY_ON_SQL),
    coreByKey: p(
      `SELECT json, instance, native_id FROM change_cores WHERE key = ? COLLATE NOCASE
       ORDER BY updated_at DESC, id DESC LIMIT 1`,
    ),
    coreByKeyOn: p(
      `SELECT json, instance, native_id FROM change_cores WHERE key = ? COLLATE NOCASE AND instance = ?
       ORDER BY updated_at DESC, id DESC LIMIT 1`,
    ),
    // A change's approvals (kind 0, in updated order) then its journal (kind 1, in time order): one statement, not two.
    childrenOf: p(
      `SELECT 0 AS kind, updated_at AS at, id, json FROM approvals WHERE instance = ? AND change_native_id = ?
       UNION ALL SELECT 1, at, id, json FROM journal WHERE instance = ? AND change_native_id = ?
       ORDER BY 1, 2, 3`,
    ),
    approvalsOf: p('SELECT json FROM approvals WHERE instance = ? AND change_native_id = ? ORDER BY updated_at, id'),
    approvalsHistory: { asc: approvalsHistory(p, 'ASC', '>'), desc: approvalsHistory(p, 'DESC', '<') },
    countApprovals: p('SELECT count(*) AS n FROM approvals WHERE instance = ? AND change_native_id = ?'),
    journalOf: p('SELECT json FROM journal WHERE instance = ? AND change_native_id = ? ORDER BY at, id'),
    revisionsOf: p('SELECT * FROM revisions WHERE change_id = ? ORDER BY seq'),
    revisionsAfter: p('SELECT * FROM revisions WHERE change_id = ? AND seq > ? ORDER BY seq'),
    // (at, seq) compare as one key, which revisions_history answers in order (RevisionHistoryQuery).
    revisionsHistory: { asc: revisionsHistory(p, 'ASC', '>'), desc: revisionsHistory(p, 'DESC', '<') },
    countRevisions: p('SELECT count(*) AS n FROM revisions WHERE change_id = ?'),
    lastSeq: p('SELECT last_seq FROM changes WHERE id = ?'),
    instanceGeneration: p('SELECT n FROM mirror_instance_generation WHERE instance = ?'),
    deleteRefs: p('DELETE FROM change_refs WHERE change_id = ?'),
    mirrorGeneration: p('SELECT n FROM mirror_generation'),
    countAll: p('SELECT count(*) AS n FROM changes'),
    countOf: p('SELECT count(*) AS n FROM changes WHERE instance = ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
