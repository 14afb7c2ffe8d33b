// The neighbour lookup's cost follows its answer, not the mirror, only while
// SQLite walks the change_refs keys in answer order and merges them: a plan
// that sorts (a TEMP B-TREE) reads every match of a busy CI first. Held here
// on the migrated schema, for each kind of lookup, one arm and several.

import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/sqlite/sqlite-schema.ts';
import { neighbourSql, type ArmKind } from '../../src/store/sqlite/sqlite-neighbours.ts';

describe('neighbour lookup plans', () => {
  it('walks the change_refs keys in answer order and merges them, sorting nothing', () => {
    const db = new DatabaseSync(':memory:');
    migrate(db);
    for (const kind of ['day', 'windowed', 'any'] as ArmKind[]) {
      for (const arms of [1, 3, 16]) {
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${neighbourSql(kind, arms)}`).all() as { detail: string }[]).map((row) => row.detail);
        expect(plan.join(' | '), `${kind} × ${arms}`).not.toMatch(/TEMP B-TREE|SCAN change_refs/);
        expect(plan.filter((detail) => detail.startsWith('SEARCH change_refs'))).toHaveLength(arms);
      }
    }
    db.close();
  });
});
