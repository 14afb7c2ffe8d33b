// The end-to-end mode of the mirror benchmark: what a user runs, `changegate
// sync --full` through the CLI (mirror, then an assessment of every change it
// wrote, verdicts queued for write-back), against a ServiceNow simulator whose
// data has a real instance's skew (skewed-fleet.ts), at several sizes. Each
// size is measured against the fetch-only baseline of the same pages in the
// same run; the growth factor between sizes shows a cost that grows faster
// than the data.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { registry } from '../../src/app/registry.ts';
import { runCli } from '../../src/cli/run-cli.ts';

export interface E2eResult {
  ms: number;
  cpuMs: number;
  records: number;
  mirrored: number;
  assessed: number;
  peakRssMb: number;
}

/** One `changegate sync --full` of the simulator at `url`, in this process, as the CLI runs it. */
export async function e2ePhase(url: string, pageSize: number, dir: string): Promise<E2eResult> {
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
  const cpu = process.cpuUsage();
  const started = performance.now();
  // --json: the summary is one JSON document on stdout, before this phase's own result line.
  const code = await runCli(['sync', '--config', config, '--full', '--json'], registry);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (code !== 0) throw new Error(`changegate sync exited ${code}`);
  const read = new DatabaseSync(db, { readOnly: true });
  const count = (sql: string) => (read.prepare(sql).get() as { n: number }).n;
  const mirrored = count('SELECT count(*) AS n FROM changes');
  const assessed = count('SELECT count(DISTINCT change_id) AS n FROM assessments');
  const records = mirrored + count('SELECT count(*) AS n FROM approvals') + count('SELECT count(*) AS n FROM journal');
  read.close();
  return { ms, cpuMs: (used.user + used.system) / 1000, records, mirrored, assessed, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}
