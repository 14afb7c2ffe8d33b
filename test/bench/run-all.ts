// One entry for the benchmarks: every test/bench/*.bench.ts, run one after
// another in a process of its own (so each one's CPU and RSS figures are its
// own), each printing its figures as it would alone. Arguments after a
// benchmark's name are passed to that benchmark.
//
//   npm run bench                                  every benchmark, default sizes
//   npm run bench -- --list                        names and usage
//   npm run bench -- validate --duration 5         one, with its own arguments
//   npm run bench -- sqlite-store 5 mirror --changes 5000 --latency 20

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = import.meta.dirname;
const SUFFIX = '.bench.ts';
// The young-generation cap the service runs with (package.json `start`), where the
// benchmark measures the service's own process; the mirror benchmark sets it on its phases.
const NODE_FLAGS: Readonly<Record<string, readonly string[]>> = { validate: ['--max-semi-space-size=8'] };

interface Bench {
  name: string;
  file: string;
}

interface Run {
  bench: Bench;
  args: string[];
}

const benches: Bench[] = readdirSync(DIR)
  .filter((f) => f.endsWith(SUFFIX))
  .toSorted()
  .map((f) => ({ name: f.slice(0, -SUFFIX.length), file: join(DIR, f) }));

/** The header comment's first line and its usage lines, as the file itself states them. */
function summary(bench: Bench): string[] {
  const header = readFileSync(bench.file, 'utf8').split('\n');
  const comments = header.slice(0, header.findIndex((line) => !line.startsWith('//'))).map((line) => line.replace(/^\/\/ ?/, ''));
  const usage = comments.filter((line) => /^\s*(npm run|npx node|CG_[A-Z_]+=)|^Usage:/.test(line)).map((line) => `    ${line.trim()}`);
  return [`  ${bench.name.padEnd(14)} ${comments[0] ?? ''}`, ...usage];
}

function list(): void {
  console.log('Benchmarks (npm run bench -- [NAME [ARGS...]]...; no name runs them all with default sizes):');
  for (const bench of benches) console.log(summary(bench).join('\n'));
}

/** `a --x 1 b 2` → a with [--x, 1], b with [2]: a benchmark's name starts its own argument list. */
function plan(argv: string[]): Run[] {
  const runs: Run[] = [];
  for (const arg of argv) {
    const bench = benches.find((b) => b.name === arg || `${b.name}${SUFFIX}` === arg);
    if (bench) runs.push({ bench, args: [] });
    else if (runs.length > 0) runs.at(-1)?.args.push(arg);
    else throw new Error(`"${arg}" is not a benchmark (${benches.map((b) => b.name).join(', ')}); --list shows them`);
  }
  return runs.length > 0 ? runs : benches.map((bench) => ({ bench, args: [] }));
}

function run({ bench, args }: Run): Promise<number | null> {
  const child = spawn(process.execPath, [...(NODE_FLAGS[bench.name] ?? []), bench.file, ...args], { stdio: 'inherit' });
  return new Promise((done) => child.on('exit', (code, signal) => done(signal === null ? code : null)));
}

const argv = process.argv.slice(2);
if (argv.includes('--list') || argv.includes('--help')) {
  list();
} else {
  let runs: Run[];
  try {
    runs = plan(argv);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
  const failed: string[] = [];
  for (const entry of runs) {
    console.log(`\n=== ${entry.bench.name}${entry.args.length > 0 ? ` ${entry.args.join(' ')}` : ''} ===`);
    const started = Date.now();
    const code = await run(entry);
    console.log(`=== ${entry.bench.name}: ${code === 0 ? 'done' : `FAILED (exit ${code ?? 'by signal'})`} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
    if (code !== 0) failed.push(entry.bench.name);
  }
  if (failed.length > 0) {
    console.error(`\nbench: ${failed.join(', ')} failed`);
    process.exitCode = 1;
  }
}
