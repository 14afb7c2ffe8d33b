// Two indexes a first sync rewrote at random for every change are gone: the
// mirror's own key index (a key is found on the cores' index) and the
// assessments' (change_id, seq) index (a change's few assessments are found
// by the unique key and sorted). Held here: each read still finds its rows
// through an index, never a scan of the mirror or of the assessments, on a
// new file and on one that had the old indexes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { CHANGE_BY_KEY_ON_SQL, CHANGE_BY_KEY_SQL } from '../../src/store/sqlite/sqlite-statements.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-key-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plan(db: DatabaseSync, sql: string): string {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((row) => row.detail).join(' | ');
}

describe('key and assessment look-ups without their old indexes', () => {
  it('finds a change by key through the cores, and a change after the upgrade dropped the old index', async () => {
    const path = join(dir, 'keys.db');
    const store = SqliteChangeStore.open(path);
    const change = buildChange({ key: 'CHG0031234' });
    await store.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
    expect((await store.getChange('chg0031234'))?.change.id).toBe(change.id);
    expect((await store.getChange('CHG0031234', { instance: change.instance }))?.change.raw).toEqual(change.raw);
    expect(await store.getChange('CHG0031234', { instance: 'elsewhere' })).toBeNull();
    await store.close();

    const db = new DatabaseSync(path);
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).not.toContain('changes_by_key');
    for (const sql of [CHANGE_BY_KEY_SQL, CHANGE_BY_KEY_ON_SQL]) {
      const detail = plan(db, sql);
      expect(detail).toMatch(/SEARCH k USING (COVERING )?INDEX change_cores_by_key/);
      expect(detail).toMatch(/SEARCH c USING INDEX sqlite_autoindex_changes_1 \(id=\?\)/);
      expect(detail).not.toMatch(/SCAN/);
    }
    // On one instance the index gives the order; across instances the key's rows (one per instance) are sorted.
    expect(plan(db, CHANGE_BY_KEY_ON_SQL)).not.toMatch(/TEMP B-TREE/);
    db.close();
  });

  it("reads a change's assessments by the unique key on a new file and on one that had the old index", async () => {
    const fresh = join(dir, 'fresh.db');
    await SqliteAssessmentStore.open(fresh).close();
    const upgraded = join(dir, 'upgraded.db');
    const old = new DatabaseSync(upgraded);
    old.exec(`CREATE TABLE assessments (seq INTEGER PRIMARY KEY, change_id TEXT NOT NULL, revision INTEGER NOT NULL, policy_version TEXT NOT NULL,
      outcome_hash TEXT NOT NULL, input_hash TEXT NOT NULL, evaluated_at TEXT NOT NULL, wrote_back INTEGER NOT NULL, json TEXT NOT NULL,
      UNIQUE (change_id, revision, outcome_hash));
      CREATE INDEX assessments_by_change ON assessments (change_id, seq);`);
    old.close();
    await SqliteAssessmentStore.open(upgraded).close();
    for (const path of [fresh, upgraded]) {
      const db = new DatabaseSync(path);
      const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as { name: string }[]).map((r) => r.name);
      expect(indexes).not.toContain('assessments_by_change');
      for (const sql of ['SELECT * FROM assessments WHERE change_id = ? ORDER BY seq DESC LIMIT 1', 'SELECT * FROM assessments WHERE change_id = ? ORDER BY seq']) {
        // Either index led by change_id serves it (the unique key, or the history's keyset index): a search, never a scan.
        expect(plan(db, sql)).toMatch(/SEARCH assessments USING INDEX (sqlite_autoindex_assessments_1|assessments_history) \(change_id=\?\)/);
      }
      db.close();
    }
  });
});
