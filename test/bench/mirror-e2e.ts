// The end-to-end mode of the mirror benchmark: what a user runs, `changegate
// sync --full` through the CLI (mirror, then an assessment of every change it
// wrote, verdicts queued for write-back), against a ServiceNow simulator whose
// data has a real instance's skew (skewed-fleet.ts), at several sizes. Each
// size is measured against the fetch-only baseline of the same pages in the
// same run; the growth factor between sizes shows a cost that grows faster
// than the data.

import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { registry } from '../../src/app/registry.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { boundHeapGrowth } from '../../src/heap-growth.ts';

export interface E2eResult {
  ms: number;
  cpuMs: number;
  records: number;
  mirrored: number;
  assessed: number;
  peakRssMb: number;
  /** The store file's size at the end (with its write-ahead log). */
  storeMb: number;
  /** Bytes this process sent to the disk (Linux `/proc/self/io` write_bytes): the store's pages, its log, their checkpoints. Null elsewhere. */
  writtenMb: number | null;
}

/** Bytes the process has caused to be written to storage so far, or null where the kernel does not say. */
function bytesWritten(): number | null {
  try {
    const line = readFileSync('/proc/self/io', 'utf8').split('\n').find((l) => l.startsWith('write_bytes:'));
    return line === undefined ? null : Number(line.slice('write_bytes:'.length));
  } catch {
    return null;
  }
}

const MB = 1024 * 1024;

/** A file's size in bytes, 0 when it does not exist (the log after a final checkpoint). */
function size(file: string): number {
  return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/** One `changegate sync --full` of the simulator at `url`, in this process, as the CLI runs it. */
export async function e2ePhase(url: string, pageSize: number, dir: string): Promise<E2eResult> {
  // As src/main.ts sets it for every changegate process.
  boundHeapGrowth();
  const config = join(dir, 'changegate.yaml');
  const db = join(dir, 'changegate.db');
  writeFileSync(
    config,
    [
      `store: { kind: sqlite, path: "${db}" }`,
      'log: { level: error }',
      'instances:',
      `  - { id: bench, system: servicenow, baseUrl: "${url}", auth: { kind: basic, username: admin, password: admin }, pageSize: ${pageSize}, writeBack: true }`,
      '',
    ].join('\n'),
  );
  const written = bytesWritten();
  const cpu = process.cpuUsage();
  const started = performance.now();
  // --json: the summary is one JSON document on stdout, before this phase's own result line.
  const code = await runCli(['sync', '--config', config, '--full', '--json'], registry);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const writtenAfter = bytesWritten();
  // Read before the counts below: their queries are the benchmark's, not the sync's.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  if (code !== 0) throw new Error(`changegate sync exited ${code}`);
  const read = new DatabaseSync(db, { readOnly: true });
  const count = (sql: string) => (read.prepare(sql).get() as { n: number }).n;
  const mirrored = count('SELECT count(*) AS n FROM changes');
  const assessed = count('SELECT count(DISTINCT change_id) AS n FROM assessments');
  const records = mirrored + count('SELECT count(*) AS n FROM approvals') + count('SELECT count(*) AS n FROM journal');
  read.close();
  return {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    records,
    mirrored,
    assessed,
    peakRssMb,
    storeMb: (size(db) + size(`${db}-wal`)) / MB,
    writtenMb: written === null || writtenAfter === null ? null : (writtenAfter - written) / MB,
  };
}
