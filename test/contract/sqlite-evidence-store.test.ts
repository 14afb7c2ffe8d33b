// What only the embedded ledger promises: a file written by an older build,
// whose table was keyed by (change_id, seq) WITHOUT ROWID, is rewritten on open
// into the appended layout with every chain intact, once; and each read stays a
// search of one index. (The contract suite runs through store-adapters.test.ts.)

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';
import { EVIDENCE_READS } from '../../src/store/sqlite/sqlite-evidence-table.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-evidence-'));
let files = 0;
const freshFile = (): string => join(dir, `n${++files}`, 'changegate.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ledger's table as older builds created it. */
const OLD_SCHEMA = `
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

const A = 'servicenow:sn-prod:aaa';
const B = 'servicenow:sn-prod:bbb';
const draft = (summary: string, at: string): EvidenceDraft => ({ kind: 'assessment', at, actor: null, source: 'changegate', summary, payload: { summary } });

/** A file an older build left: A and B appended in turn (A three times, B twice), each chained as that build chained them. */
function olderLedger(path: string): Record<string, EvidenceEntry[]> {
  mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(OLD_SCHEMA);
  const insert = db.prepare('INSERT INTO evidence (change_id, seq, dedupe_key, at, hash, json) VALUES (?, ?, ?, ?, ?, ?)');
  const chains: Record<string, EvidenceEntry[]> = { [A]: [], [B]: [] };
  for (const [changeId, summary, at] of [
    [A, 'a1', '2026-03-10T09:00:00.000Z'],
    [B, 'b1', '2026-03-11T09:00:00.000Z'],
    [A, 'a2', '2026-03-12T09:00:00.000Z'],
    [B, 'b2', '2026-04-02T09:00:00.000Z'],
    [A, 'a3', '2026-04-03T09:00:00.000Z'],
  ] as const) {
    const chain = chains[changeId] ?? [];
    const entry = chainEntry(changeId, chain.at(-1) ?? null, draft(summary, at));
    insert.run(changeId, entry.seq, `key:${summary}`, entry.at, entry.hash, JSON.stringify(entry));
    chain.push(entry);
  }
  db.close();
  return chains;
}

function verifies(changeId: string, entries: EvidenceEntry[]): boolean {
  const bundle = buildBundle({ id: changeId, key: 'CHG0030001', instance: 'sn-prod', title: 't' }, entries, '2026-05-01T00:00:00Z');
  return verifyBundle(JSON.parse(JSON.stringify(bundle))).ok;
}

/** The ledger's table and indexes as the file holds them, and its rows in storage order. */
function layout(path: string): { schema: unknown[]; rows: unknown[] } {
  const db = new DatabaseSync(path);
  const schema = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'evidence' ORDER BY name").all();
  const rows = db.prepare('SELECT * FROM evidence').all();
  db.close();
  return { schema, rows };
}

describe('SqliteEvidenceStore on a file', () => {
  it('upgrades a ledger written by an older build once, keeping every chain, its order and its dedupe keys', async () => {
    const path = freshFile();
    const older = olderLedger(path);

    const upgraded = SqliteEvidenceStore.open(path);
    expect(await upgraded.list(A)).toEqual(older[A]);
    expect(await upgraded.list(B)).toEqual(older[B]);
    expect(verifies(A, await upgraded.list(A))).toBe(true);
    // A key the older build stored is still refused, and answered with the entry it stored.
    expect(await upgraded.append(A, draft('a2 replayed', '2026-04-04T09:00:00.000Z'), 'key:a2')).toEqual({ entry: older[A]?.[1], appended: false });
    const next = await upgraded.append(A, draft('a4', '2026-04-04T09:00:00.000Z'), 'key:a4');
    expect(next.entry).toMatchObject({ seq: 4, prevHash: older[A]?.[2]?.hash });
    expect(verifies(A, await upgraded.list(A))).toBe(true);
    expect(await upgraded.changesWithEntries({ since: '2026-04-01T00:00:00.000Z', until: '2026-05-01T00:00:00.000Z' })).toEqual([A, B]);
    await upgraded.close();

    const { schema } = layout(path);
    expect(schema.map((s) => (s as { name: string }).name)).toContain('evidence_by_time');
    const table = schema.find((s) => (s as { type: string }).type === 'table') as { sql: string };
    expect(table.sql).toMatch(/id INTEGER PRIMARY KEY/);
    expect(table.sql).not.toMatch(/WITHOUT ROWID/i);
  });

  it('leaves an upgraded ledger as it is when opened again, by another connection or after a restart', async () => {
    const path = freshFile();
    olderLedger(path);
    const first = SqliteEvidenceStore.open(path);
    const upgraded = layout(path);
    // A second process starting beside the first finds the ledger upgraded.
    const second = SqliteEvidenceStore.open(path);
    expect(layout(path)).toEqual(upgraded);
    expect((await second.append(B, draft('b3', '2026-04-05T09:00:00.000Z'), 'key:b3')).entry.seq).toBe(3);
    expect((await first.append(B, draft('b4', '2026-04-06T09:00:00.000Z'), 'key:b4')).entry.seq).toBe(4);
    await first.close();
    await second.close();
    const restarted = SqliteEvidenceStore.open(path);
    expect((await restarted.list(B)).map((e) => e.summary)).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect(verifies(B, await restarted.list(B))).toBe(true);
    await restarted.close();
  });

  it('reads each change through an index, never a scan or a sort, on a new file and an upgraded one', async () => {
    const fresh = freshFile();
    await SqliteEvidenceStore.open(fresh).close();
    const upgraded = freshFile();
    olderLedger(upgraded);
    await SqliteEvidenceStore.open(upgraded).close();
    for (const path of [fresh, upgraded]) {
      const db = new DatabaseSync(path);
      const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((row) => row.detail).join(' | ');
      const plans = Object.fromEntries(Object.entries(EVIDENCE_READS).map(([read, sql]) => [read, plan(sql)]));
      const changeSearch = expect.stringMatching(/^SEARCH evidence USING (COVERING )?INDEX \S+ \(change_id=\?\)$/);
      expect(plans).toEqual({
        // The head read takes the last key of the change's (change_id, seq) index: ORDER BY … LIMIT 1 sorts nothing.
        head: changeSearch,
        byKey: expect.stringMatching(/^SEARCH evidence USING (COVERING )?INDEX \S+ \(change_id=\? AND dedupe_key=\?\)$/),
        list: changeSearch,
        // The period's changes are sorted once each, among the entries of the period only.
        period: 'SEARCH evidence USING COVERING INDEX evidence_by_time (at>? AND at<?) | USE TEMP B-TREE FOR DISTINCT',
      });
      db.close();
    }
  });
});
