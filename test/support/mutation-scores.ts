// Prints the mutation score per module from the last `npm run mutate`
// (reports/mutation/mutation.json, or the report files given as arguments):
// `npm run mutate:scores [-- [--files] [--only=REGEX] report.json...]` (--files adds a line
// per file; --only keeps the files whose path matches). The score is Stryker's:
// (killed + timed out) / (killed + timed out + survived + no coverage).
// Ignored mutants (static ones, see stryker.config.mjs) are counted apart.

import { readFileSync } from 'node:fs';

interface Position { line: number; column: number }
interface Mutant { status: string; mutatorName: string; replacement?: string; location: { start: Position; end: Position } }
interface Report { files: Record<string, { mutants: Mutant[] }> }

const MODULES: ReadonlyArray<[string, RegExp]> = [
  ['policy', /^src\/policy\//],
  ['store', /^src\/store\//],
  ['sync', /^src\/sync\//],
  ['servicenow cursors/writer', /^connectors\/servicenow\//],
  ['jira cursors/writer', /^connectors\/jira\//],
];

interface Tally { killed: number; timeout: number; survived: number; noCoverage: number; ignored: number; other: number }

function empty(): Tally {
  return { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, other: 0 };
}

function add(t: Tally, status: string): void {
  if (status === 'Killed') t.killed++;
  else if (status === 'Timeout') t.timeout++;
  else if (status === 'Survived') t.survived++;
  else if (status === 'NoCoverage') t.noCoverage++;
  else if (status === 'Ignored') t.ignored++;
  else t.other++;
}

function score(t: Tally): string {
  const detected = t.killed + t.timeout;
  const valid = detected + t.survived + t.noCoverage;
  return valid === 0 ? '  n/a' : `${((100 * detected) / valid).toFixed(1).padStart(5)}%`;
}

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const only = new RegExp(process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? '');
const reports = files.length > 0 ? files : ['reports/mutation/mutation.json'];
// A later report overrides an earlier one for the same mutant (same file, place,
// mutator and replacement): a run over a few lines updates a full run's figures.
const statuses = new Map<string, Map<string, string>>();
for (const file of reports) {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  for (const [path, { mutants }] of Object.entries(report.files)) {
    if (!only.test(path)) continue;
    const known = statuses.get(path) ?? new Map<string, string>();
    for (const mutant of mutants) {
      const { start, end } = mutant.location;
      if (mutant.status === 'Pending') continue;
      known.set(`${start.line}:${start.column}-${end.line}:${end.column} ${mutant.mutatorName} ${mutant.replacement ?? ''}`, mutant.status);
    }
    statuses.set(path, known);
  }
}
const byModule = new Map<string, Tally>();
const byFile = new Map<string, Tally>();
for (const [path, known] of statuses) {
  const module = MODULES.find(([, re]) => re.test(path))?.[0] ?? 'other';
  const m = byModule.get(module) ?? empty();
  const f = byFile.get(path) ?? empty();
  for (const status of known.values()) {
    add(m, status);
    add(f, status);
  }
  byModule.set(module, m);
  byFile.set(path, f);
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function row(name: string, t: Tally): string {
  return `${name.padEnd(48)} ${score(t)}  killed ${String(t.killed + t.timeout).padStart(5)}  survived ${String(t.survived).padStart(4)}  no coverage ${String(t.noCoverage).padStart(4)}  ignored ${String(t.ignored).padStart(4)}`;
}

if (process.argv.includes('--files')) {
  for (const [path, t] of [...byFile].toSorted(([a], [b]) => a.localeCompare(b))) print(row(path, t));
  print('');
}
const total = empty();
for (const [name, t] of byModule) {
  print(row(name, t));
  for (const k of Object.keys(total) as Array<keyof Tally>) total[k] += t[k];
}
print(row('all', total));
