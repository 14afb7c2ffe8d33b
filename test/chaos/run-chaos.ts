// The fault campaign: `npm run chaos -- --runs N --seed S [--from K] [--keep-going] [--only kind,kind] [--verbose]`.
// Run K of seed S always draws the same plan (chaos-plan.ts); one line per run,
// and on the first deviation its details and the command that replays that run,
// exit 1. `--keep-going` finishes the campaign and sums deviations up by kind.

import { parseArgs } from 'node:util';
import type { Deviation } from './chaos-check.ts';
import { describeFault, drawPlan, FAULT_KINDS, type FaultKind } from './chaos-plan.ts';
import { runPlan, type RunReport } from './chaos-run.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    seed: { type: 'string' },
    from: { type: 'string', default: '0' },
    only: { type: 'string' },
    'keep-going': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

const runs = Number(values.runs);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const from = Number(values.from);
const only = values.only?.split(',').map((k) => k.trim() as FaultKind);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed) || !Number.isInteger(from) || from < 0 || only?.some((k) => !FAULT_KINDS.includes(k))) {
  process.stderr.write('usage: npm run chaos -- --runs N [--seed S] [--from K] [--only kind,...] [--keep-going] [--verbose]\n');
  process.stderr.write(`fault kinds: ${FAULT_KINDS.join(', ')}\n`);
  process.exit(2);
}

const replay = (run: number): string => `npm run chaos -- --seed ${seed} --from ${run} --runs 1${values.only ? ` --only ${values.only}` : ''}`;

function printDeviations(report: RunReport): void {
  const { plan } = report;
  process.stdout.write(`\nDEVIATION in run ${plan.run} of seed ${seed}\n`);
  process.stdout.write(`  faults: ${plan.faults.map(describeFault).join(' ') || 'none'}\n`);
  for (const note of report.notes) process.stdout.write(`  note: ${note}\n`);
  for (const d of report.deviations.slice(0, 20)) process.stdout.write(`  ${d.kind} [${d.instance}] ${d.detail}\n`);
  if (report.deviations.length > 20) process.stdout.write(`  … and ${report.deviations.length - 20} more\n`);
  process.stdout.write(`  replay: ${replay(plan.run)}\n\n`);
}

process.stdout.write(`fault campaign: seed ${seed}, runs ${from}..${from + runs - 1}\n`);
const byKind = new Map<string, number[]>();
const times: number[] = [];
let failed = 0;
for (let run = from; run < from + runs; run++) {
  const plan = drawPlan(seed, run, only);
  let report: RunReport;
  try {
    ({ report } = await runPlan(plan));
  } catch (err) {
    // The campaign's own failure (a world that would not start): said as such, never counted as a pass.
    process.stdout.write(`run ${run} seed ${seed} HARNESS ERROR ${(err as Error).stack ?? String(err)}\n  replay: ${replay(run)}\n`);
    failed += 1;
    byKind.set('harness-error', [...(byKind.get('harness-error') ?? []), run]);
    if (!values['keep-going']) break;
    continue;
  }
  times.push(report.ms);
  const ok = report.deviations.length === 0;
  const faults = plan.faults.map(describeFault).join(' ');
  process.stdout.write(`run ${run} seed ${seed} ${(report.ms / 1000).toFixed(1)}s ${ok ? 'ok' : `DEVIATIONS ${report.deviations.length}`}  ${faults}\n`);
  if (values.verbose) for (const note of report.notes) process.stdout.write(`    ${note}\n`);
  if (ok) continue;
  failed += 1;
  for (const kind of new Set(report.deviations.map((d: Deviation) => d.kind))) byKind.set(kind, [...(byKind.get(kind) ?? []), run]);
  printDeviations(report);
  if (!values['keep-going']) break;
}
const mean = times.length === 0 ? 0 : times.reduce((a, b) => a + b, 0) / times.length / 1000;
process.stdout.write(`${times.length} runs, ${failed} with deviations, mean ${mean.toFixed(2)} s per run\n`);
for (const [kind, at] of byKind) process.stdout.write(`  ${kind}: runs ${at.join(', ')}\n`);
process.exit(failed === 0 ? 0 : 1);
