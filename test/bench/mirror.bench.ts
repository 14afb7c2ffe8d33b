// The mirror benchmark: a full sync of N changes served over HTTP by the
// simulator (in its own process, with a per-request latency), against a
// baseline measured in the same run that only fetches and parses the same
// pages. Prints records/s, CPU ms per record, peak RSS, API calls against the
// minimum, and the wall-time ratio sync/baseline.
//
//   npm run bench:mirror [-- --changes 50000 --latency 100 --page-size 1000]
//   npm run bench:mirror -- --system jira [--changes 50000 --latency 100]
//   npm run bench:mirror -- --e2e [--sizes 20000,100000] [--large] [--latency 100]
//     end to end: `changegate sync --full` with its assessments, on skewed data, per size
//     (--large adds 1,000,000), with the growth factor between the sizes
//   npm run bench:mirror -- --store mongodb   the ServiceNow sync into MongoDB too, beside SQLite:
//     on MONGODB_URI, or on a FerretDB started by .ci/ferretdb.sh (one database per run, dropped after)

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { StreamCursor } from '../../src/kit/connector.ts';
import { APPROVALS_SPEC, changesSpec, JOURNAL_SPEC, keysetQuery, type KeysetSpec } from '../../connectors/servicenow/keyset-query.ts';
import { createServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { startSimulatorProcess } from './bench-simulator.ts';
import type { E2eResult } from './mirror-e2e.ts';
import { compileCacheEnv, warmCompileCache } from './compile-cache.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: {
    system: { type: 'string', default: 'servicenow' },
    store: { type: 'string', default: 'sqlite' },
    changes: { type: 'string', default: '50000' },
    latency: { type: 'string', default: '100' },
    'page-size': { type: 'string', default: '1000' },
    // The service runs with this V8 young-generation cap (see package.json); the phases run with it too.
    'semi-space': { type: 'string', default: '8' },
    phase: { type: 'string' },
    e2e: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '20000,100000' },
    large: { type: 'boolean', default: false },
    url: { type: 'string' },
  },
});
if (args.system !== 'servicenow' && args.system !== 'jira') {
  console.error(`bench:mirror: --system ${args.system} is not known (servicenow or jira)`);
  process.exit(2);
}
if (args.store !== 'sqlite' && args.store !== 'mongodb') {
  console.error(`bench:mirror: --store ${args.store} is not known (sqlite or mongodb)`);
  process.exit(2);
}
const jira = args.system === 'jira';
// Loaded only for Jira, so the ServiceNow phases carry none of its modules (their RSS stays their own).
const jiraBench = jira ? await import('./mirror-jira.ts') : null;
const changes = Number(args.changes);
const latencyMs = Number(args.latency);
const pageSize = Number(args['page-size']);

interface SimInfo {
  url: string;
  rows: Record<string, number>;
}

interface PhaseResult {
  ms: number;
  cpuMs: number;
  calls: number;
  records: number;
  mirrored: number;
  peakRssMb: number;
}

/** Each phase runs in a fresh process of its own, so its CPU and peak RSS are its own. */
async function runPhase<T = PhaseResult>(phase: 'baseline' | 'sync' | 'e2e', sim: SimInfo, store = 'sqlite'): Promise<T> {
  const semiSpace = args['semi-space'] === '0' ? [] : [`--max-semi-space-size=${args['semi-space']}`];
  const child = spawn(
    process.execPath,
    [...semiSpace, import.meta.filename, '--system', args.system, '--phase', phase, '--url', sim.url, '--page-size', String(pageSize), '--store', store],
    { stdio: ['ignore', 'pipe', 'inherit'], env: compileCacheEnv() },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  if (code !== 0) throw new Error(`${phase} phase exited with ${code}`);
  // The phase's result is its last line (the e2e phase's CLI prints its own summary first).
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as T;
}

// In a phase process the simulator's URL comes from the orchestrator.
const phaseUrl = args.url ?? 'http://127.0.0.1:1';

const instance = ServiceNowInstance.parse({ id: 'bench', system: 'servicenow', baseUrl: phaseUrl, auth: { kind: 'basic', username: 'admin', password: 'admin' }, pageSize });
const logger = pino({ level: 'silent' });
const specs: KeysetSpec[] = [changesSpec(null), APPROVALS_SPEC, JOURNAL_SPEC];

/** The floor: the same keyset pages, fetched and JSON-parsed by the same HTTP client, nothing else. */
async function baseline(): Promise<PhaseResult> {
  let calls = 0;
  let records = 0;
  const client = createServiceNowClient(instance, { logger, onRequest: () => (calls += 1) });
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const spec of specs) {
    let after: StreamCursor | null = null;
    for (;;) {
      const page = await client.getTable(spec.table, {
        sysparm_display_value: 'all',
        sysparm_exclude_reference_link: 'true',
        sysparm_limit: pageSize,
        sysparm_offset: 0,
        sysparm_query: keysetQuery(spec, after),
      });
      records += page.records.length;
      const last = page.records.at(-1) as Record<string, { value: string }> | undefined;
      if (!page.hasNext || !last) break;
      const stamp = last[spec.timeField]?.value ?? '';
      after = { updatedAt: `${stamp.replace(' ', 'T')}Z`, id: last[spec.idField]?.value ?? '' };
    }
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, calls, records, mirrored: 0, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

async function fullSync(dir: string): Promise<PhaseResult> {
  let calls = 0;
  const mongo = args.store === 'mongodb' ? await (await import('../../src/store/mongo/mongo-store-adapter.ts')).openMongoStores(process.env['MONGODB_URI'] ?? '', `cg_bench_${process.pid}`) : null;
  const store: ChangeStore = mongo?.changes ?? SqliteChangeStore.open(join(dir, 'bench.db'));
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  const connector = createServiceNowConnector(instance, { mapping: loadServiceNowMapping(), logger, onRequest: () => (calls += 1) });
  engine.register({ connector, pageSize, overlapMs: instance.overlap });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await engine.sync('bench', { full: true });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const mirrored = await store.countChanges('bench');
  await store.close();
  if (mongo !== null) {
    await mongo.close();
    const { MongoClient } = await import('mongodb');
    const client = await MongoClient.connect(process.env['MONGODB_URI'] ?? '');
    await client.db(`cg_bench_${process.pid}`).dropDatabase();
    await client.close();
  }
  const records = report.streams.reduce((sum, s) => sum + s.records, 0);
  return { ms, cpuMs: (used.user + used.system) / 1000, calls, records, mirrored, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

const f = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const ok = (pass: boolean) => (pass ? 'ok' : 'MISSED');

async function startSimulator(size: number, skewed: boolean): Promise<{ sim: SimInfo; stop: () => void }> {
  const serve = jira ? 'test/bench/serve-jira.ts' : 'test/bench/serve-servicenow.ts';
  const { info, stop } = await startSimulatorProcess<SimInfo>(serve, [String(size), String(latencyMs), ...(skewed ? ['3', '5', 'skewed'] : [])], ['--max-old-space-size=8192']);
  return { sim: info, stop };
}

/** `--e2e`: per size, the fetch-only baseline and `changegate sync --full` with its assessments, then the growth factor. */
async function orchestrateE2e(): Promise<void> {
  const sizes = args.sizes.split(',').map(Number);
  if (args.large) sizes.push(1_000_000);
  console.log(`changegate sync benchmark, end to end: \`changegate sync --full\` (mirror + an assessment of every change + verdicts queued), servicenow`);
  console.log(`  skewed data: 1,000 CIs drawn from a Zipf law (busiest ≈ 1/10 of changes), active changes in weekly maintenance windows; +30% approvals, +50% work notes`);
  console.log(`  page size ${pageSize}, simulated latency ${latencyMs} ms per request; simulator, baseline and sync each in a process of its own`);
  console.log('  store MB: the store file at the end; written MB: what the sync process sent to the disk (pages, log, checkpoints), over store MB the write amplification');
  console.log('  changes    records   baseline s   sync s   wall ratio   records/s   CPU ms/record   peak RSS MB   assessed   store MB   written MB');
  const walls: number[] = [];
  for (const size of sizes) {
    const { sim, stop } = await startSimulator(size, true);
    try {
      const base = await runPhase('baseline', sim);
      const run = await runPhase<E2eResult>('e2e', sim);
      walls.push(run.ms);
      const row = [
        f(size).padStart(9),
        f(run.records).padStart(10),
        f(base.ms / 1000, 2).padStart(12),
        f(run.ms / 1000, 2).padStart(8),
        f(run.ms / base.ms, 2).padStart(12),
        f(run.records / (run.ms / 1000)).padStart(11),
        f(run.cpuMs / run.records, 3).padStart(15),
        f(run.peakRssMb).padStart(13),
        f(run.assessed).padStart(10),
        f(run.storeMb).padStart(10),
        (run.writtenMb === null ? 'n/a' : f(run.writtenMb)).padStart(12),
      ];
      console.log(`  ${row.join(' ')}`);
      if (run.mirrored !== size) console.log(`  WARNING: mirrored ${run.mirrored} of ${size} changes`);
    } finally {
      stop();
    }
  }
  for (let i = 1; i < sizes.length; i++) {
    const growth = (walls[i] as number) / (walls[i - 1] as number);
    const dataGrowth = (sizes[i] as number) / (sizes[i - 1] as number);
    console.log(`  growth factor time(${f(sizes[i] as number)}) ÷ time(${f(sizes[i - 1] as number)}) = ${f(growth, 2)} for ${f(dataGrowth, 1)}× the data   target ≤ ${f(dataGrowth * 1.1, 1)}   ${ok(growth <= dataGrowth * 1.1)}`);
  }
}

async function orchestrate(): Promise<void> {
  const serve = jira ? 'test/bench/serve-jira.ts' : 'test/bench/serve-servicenow.ts';
  const { info: sim, stop } = await startSimulatorProcess<SimInfo>(serve, [String(changes), String(latencyMs)]);
  try {
    if (jira) {
      await reportJira(sim);
      return;
    }
    const rows = (table: string) => sim.rows[table] ?? 0;
    const minimumCalls = ['change_request', 'sysapproval_approver', 'sys_journal_field'].reduce((sum, t) => sum + Math.max(1, Math.ceil(rows(t) / pageSize)), 0);
    // Baseline before and after the sync; the better one counts (warm caches on both sides).
    const first = await runPhase('baseline', sim);
    const sync = await runPhase('sync', sim);
    const second = await runPhase('baseline', sim);
    const mongo = args.store === 'mongodb' ? await runPhase('sync', sim, 'mongodb') : null;
    const base = first.ms <= second.ms ? first : second;
    const ratio = sync.ms / base.ms;
    const overMin = ((sync.calls - minimumCalls) / minimumCalls) * 100;
    console.log(`changegate mirror benchmark: servicenow, ${f(changes)} changes + ${f(rows('sysapproval_approver'))} approvals + ${f(rows('sys_journal_field'))} journal rows`);
    console.log(`  page size ${pageSize}, simulated latency ${latencyMs} ms per request; simulator, baseline and sync each in a process of its own`);
    console.log(`  V8 young generation: ${args['semi-space'] === '0' ? "Node's default" : `--max-semi-space-size=${args['semi-space']} (as the service runs)`}`);
    console.log(`  baseline, fetch + parse only  ${f(base.ms / 1000, 2)} s  (${base.calls} requests, ${f(base.records)} records, peak RSS ${f(base.peakRssMb)} MB; runs: ${f(first.ms / 1000, 2)} s, ${f(second.ms / 1000, 2)} s)`);
    console.log(`  full sync into SQLite         ${f(sync.ms / 1000, 2)} s  (${f(sync.records)} records, ${f(sync.mirrored)} changes mirrored)`);
    console.log(`  records per second            ${f(sync.records / (sync.ms / 1000))}`);
    console.log(`  CPU ms per record             ${f(sync.cpuMs / sync.records, 3)}  (baseline ${f(base.cpuMs / base.records, 3)})`);
    console.log(`  peak RSS of the sync          ${f(sync.peakRssMb)} MB                                target < 300 MB   ${ok(sync.peakRssMb < 300)}`);
    console.log(`  API calls                     ${sync.calls} against a minimum of ${minimumCalls} (${overMin >= 0 ? '+' : ''}${f(overMin, 1)}%)      target ≤ +2%      ${ok(overMin <= 2)}`);
    console.log(`  wall ratio sync / baseline    ${f(ratio, 2)}                                   target ≤ 1.30     ${ok(ratio <= 1.3)}`);
    if (sync.mirrored !== changes) console.log(`  WARNING: mirrored ${sync.mirrored} of ${changes} changes`);
    if (mongo !== null) {
      console.log(`  full sync into MongoDB        ${f(mongo.ms / 1000, 2)} s  (${f(mongo.records)} records, ${f(mongo.mirrored)} changes mirrored; ${process.env['FERRETDB_PID'] === undefined ? 'MONGODB_URI' : 'FerretDB v1.24.2, SQLite backend'})`);
      console.log(`  records per second            ${f(mongo.records / (mongo.ms / 1000))}`);
      console.log(`  CPU ms per record             ${f(mongo.cpuMs / mongo.records, 3)}  (the changegate process only, not the server's)`);
      console.log(`  peak RSS of the sync          ${f(mongo.peakRssMb)} MB`);
      console.log(`  wall ratio sync / baseline    ${f(mongo.ms / base.ms, 2)}`);
      if (mongo.mirrored !== changes) console.log(`  WARNING: mirrored ${mongo.mirrored} of ${changes} changes into MongoDB`);
    }
  } finally {
    stop();
  }
}

/** The Jira run: the same three phases and figures, with Jira's rows and its own minimum. */
async function reportJira(sim: SimInfo): Promise<void> {
  const { CLOUD_FIELDS_PAGE_CAP, jiraMinimum } = jiraBench as typeof import('./mirror-jira.ts');
  const rows = (name: string) => sim.rows[name] ?? 0;
  const minimum = jiraMinimum(rows('issues'), pageSize, rows('approvalsField') > 0);
  const first = await runPhase('baseline', sim);
  const sync = await runPhase('sync', sim);
  const second = await runPhase('baseline', sim);
  const base = first.ms <= second.ms ? first : second;
  const ratio = sync.ms / base.ms;
  const overMin = ((sync.calls - minimum.calls) / minimum.calls) * 100;
  console.log(`changegate mirror benchmark: jira (Cloud/JSM simulator), ${f(rows('issues'))} change issues with ${f(rows('histories'))} changelog entries (≤${rows('maxHistories')} per issue), ${f(rows('comments'))} comments, ${f(rows('approvals'))} JSM approvals`);
  console.log(`  page size ${pageSize} (Cloud returns ≤${CLOUD_FIELDS_PAGE_CAP} issues a page with fields), simulated latency ${latencyMs} ms per request; simulator, baseline and sync each in a process of its own`);
  console.log(`  V8 young generation: ${args['semi-space'] === '0' ? "Node's default" : `--max-semi-space-size=${args['semi-space']} (as the service runs)`}`);
  console.log(`  baseline, the connector's requests fetched + parsed only  ${f(base.ms / 1000, 2)} s  (${base.calls} requests, ${f(base.records)} records, peak RSS ${f(base.peakRssMb)} MB; runs: ${f(first.ms / 1000, 2)} s, ${f(second.ms / 1000, 2)} s)`);
  console.log(`  full sync into SQLite         ${f(sync.ms / 1000, 2)} s  (${f(sync.records)} records, ${f(sync.mirrored)} changes mirrored)`);
  console.log(`  records per second            ${f(sync.records / (sync.ms / 1000))}`);
  console.log(`  CPU ms per record             ${f(sync.cpuMs / sync.records, 3)}  (baseline ${f(base.cpuMs / base.records, 3)})`);
  console.log(`  peak RSS of the sync          ${f(sync.peakRssMb)} MB                                target < 300 MB   ${ok(sync.peakRssMb < 300)}`);
  console.log(`  API calls                     ${sync.calls} against a minimum of ${minimum.calls} (${overMin >= 0 ? '+' : ''}${f(overMin, 1)}%)      target ≤ +2%      ${ok(overMin <= 2)}`);
  console.log(`    minimum = ${minimum.explain}`);
  console.log(`  wall ratio sync / baseline    ${f(ratio, 2)}                                   target ≤ 1.30     ${ok(ratio <= 1.3)}`);
  if (sync.mirrored !== rows('issues')) console.log(`  WARNING: mirrored ${sync.mirrored} of ${rows('issues')} changes`);
}

if (args.phase && process.env['BENCH_DEBUG']) {
  let peak = { heapTotal: 0, external: 0, arrayBuffers: 0 };
  setInterval(() => {
    const u = process.memoryUsage();
    peak = { heapTotal: Math.max(peak.heapTotal, u.heapTotal), external: Math.max(peak.external, u.external), arrayBuffers: Math.max(peak.arrayBuffers, u.arrayBuffers) };
  }, 20).unref();
  process.on('exit', () => console.error(args.phase, JSON.stringify(Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / 1e6)])))));
}

if (args.phase === 'baseline') {
  process.stdout.write(JSON.stringify(jiraBench ? await jiraBench.jiraBaseline(jiraBench.benchJiraInstance(phaseUrl, pageSize), logger) : await baseline()));
} else if (args.phase === 'e2e') {
  const dir = mkdtempSync(join(tmpdir(), 'cg-bench-'));
  try {
    // Loaded only here: the other phases carry none of the app's modules.
    const { e2ePhase } = await import('./mirror-e2e.ts');
    const result = await e2ePhase(phaseUrl, pageSize, dir);
    process.stdout.write(`\n${JSON.stringify(result)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (args.e2e) {
  warmCompileCache();
  await orchestrateE2e();
} else if (args.phase === 'sync') {
  const dir = mkdtempSync(join(tmpdir(), 'cg-bench-'));
  try {
    process.stdout.write(JSON.stringify(jiraBench ? await jiraBench.jiraFullSync(jiraBench.benchJiraInstance(phaseUrl, pageSize), logger, dir) : await fullSync(dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const ferret = args.store === 'mongodb' && !process.env['MONGODB_URI'] ? startFerretDb() : null;
  try {
    warmCompileCache();
    await orchestrate();
  } finally {
    ferret?.();
  }
}

/** A FerretDB for this run (.ci/ferretdb.sh): its exports go to the phases through the environment. */
function startFerretDb(): () => void {
  const exports = execFileSync('bash', [join(ROOT, '.ci/ferretdb.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const match of exports.matchAll(/^export (\w+)='?([^'\n]*)'?$/gm)) process.env[match[1] as string] = match[2] as string;
  return () => execFileSync('bash', [join(ROOT, '.ci/ferretdb.sh'), 'stop'], { stdio: 'inherit' });
}
