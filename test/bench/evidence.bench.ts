// The evidence ledger benchmark: appends entries across many changes through
// the SQLite evidence store (each append one transaction that reads the head and
// chains after it, as the assessment runner does), then exports every change's
// bundle and verifies it. Append and verify are measured against a baseline in
// the same run that only hashes the same bytes (canonical JSON + SHA-256 of each
// entry and payload), the floor of any verification. Goal: verify at least half
// the speed of bare hashing.
//
//   npm run bench:evidence [-- --entries 100000 --changes 1000]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { canonicalJson } from '../../src/evidence/canonical-json.ts';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { hashedFields, sha256Hex, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';

const { values: args } = parseArgs({ options: { entries: { type: 'string', default: '100000' }, changes: { type: 'string', default: '1000' } } });
const total = Number(args.entries);
const changeCount = Number(args.changes);

/** An assessment-sized payload: a dozen gates with reasons, as the runner records. */
function draft(i: number): EvidenceDraft {
  const gates = Array.from({ length: 12 }, (_, g) => ({ id: `gate.${g}`, into: 'authorize', result: (i + g) % 5 === 0 ? 'fail' : 'pass', reason: `reason ${g} for entry ${i}: the plan names a backout and a test` }));
  return { kind: 'assessment', at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), actor: null, source: 'changegate', summary: `entry ${i}`, payload: { gates, policyVersion: '2026.1', state: 'authorize' } };
}

const changeId = (i: number) => `servicenow:bench:${String(i % changeCount).padStart(6, '0')}`;
const f = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

const dir = mkdtempSync(join(tmpdir(), 'cg-bench-evidence-'));
try {
  const store = SqliteEvidenceStore.open(join(dir, 'evidence.db'));
  let started = performance.now();
  for (let i = 0; i < total; i++) await store.append(changeId(i), draft(i), `k${i}`);
  const appendMs = performance.now() - started;

  const bundles = [];
  started = performance.now();
  for (let c = 0; c < changeCount; c++) {
    const id = changeId(c);
    bundles.push(JSON.stringify(buildBundle({ id, key: `CHG${c}`, instance: 'bench', title: 't' }, await store.list(id), 'x')));
  }
  const exportMs = performance.now() - started;
  await store.close();

  // Baseline: the hashing verification cannot avoid, over the same entries, nothing else.
  const parsed = bundles.map((b) => JSON.parse(b) as { entries: EvidenceEntry[] });
  started = performance.now();
  let sink = 0;
  for (const bundle of parsed) {
    for (const e of bundle.entries) sink += sha256Hex(canonicalJson(e.payload)).length + sha256Hex(canonicalJson(hashedFields(e))).length;
  }
  const hashMs = performance.now() - started;

  started = performance.now();
  let bad = 0;
  for (const text of bundles) if (!verifyBundle(JSON.parse(text)).ok) bad++;
  const verifyMs = performance.now() - started;
  if (sink === 0) throw new Error('nothing hashed');

  const rate = (ms: number) => total / (ms / 1000);
  console.log(`changegate evidence benchmark: ${f(total)} entries across ${f(changeCount)} changes (SQLite, one transaction per append)`);
  console.log(`  append                 ${f(appendMs / 1000, 2)} s   ${f(rate(appendMs))} entries/s`);
  console.log(`  export (list + bundle) ${f(exportMs / 1000, 2)} s   ${f(rate(exportMs))} entries/s`);
  console.log(`  bare hashing baseline  ${f(hashMs / 1000, 2)} s   ${f(rate(hashMs))} entries/s`);
  console.log(`  verify (parse + check) ${f(verifyMs / 1000, 2)} s   ${f(rate(verifyMs))} entries/s   ratio to hashing ${f(hashMs / verifyMs, 2)}   target ≥ 0.50   ${hashMs / verifyMs >= 0.5 ? 'ok' : 'MISSED'}`);
  console.log(`  bundles that failed verification: ${bad} (must be 0)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
