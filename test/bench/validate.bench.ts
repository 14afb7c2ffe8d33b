// The validate benchmark: POST /v1/validate against a mirror of 10,000 realistic
// ServiceNow changes (the simulator's bulk data, synced by the real engine and
// connector mapping into a temp SQLite store), served by the real fastify app in
// a child process, driven by autocannon from this process with a rotating set of
// real keys and lifecycle transitions. In the same run a bare route (same server
// options, constant answer) sets the ceiling. Prints requests/s, p50, p99 and
// the throughput ratio validate/bare, and the server's CPU time per request
// (the figure a busy shared machine disturbs least).
//
//   npm run bench:validate [-- --changes 10000 --connections 50 --duration 20]
//   npm run bench:validate -- --store mongodb   the same on MongoDB too, beside SQLite: on MONGODB_URI,
//     or on a FerretDB started by .ci/ferretdb.sh (one database per run, dropped after)
//   npm run bench:validate -- --changes 100000 --skewed   on a mirror with a real instance's skew
//     (1,000 CIs on a Zipf law, active changes in weekly maintenance windows: skewed-fleet.ts)
//   CG_BENCH_CPU_PROF=/tmp/prof npm run bench:validate   (also profiles the validate server)
//   npm run bench:validate -- --read-cache 96,32   the validate server with store.readCache
//     { changesMB: 96, neighboursMB: 32 } (default: the configuration's defaults)
//   npm run bench:validate -- --mirror-at FILE   keeps the SQLite mirror in FILE (built there when absent,
//     reused when present: a 100,000-change mirror takes minutes to build, so a second run skips that)

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { MongoClient } from 'mongodb';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon, { type Result as AutocannonResult } from 'autocannon';
import { pino } from 'pino';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { makeFleet } from '../../connectors/servicenow/simulator/skewed-fleet.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer } from '../../connectors/simulator-http.ts';
import { validationInstances } from '../../src/app/validation-instances.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import type { Change } from '../../src/domain/change.ts';
import { nextStates } from '../../src/policy/lifecycle.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { openMongoStores } from '../../src/store/mongo/mongo-store-adapter.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { registry } from '../../src/app/registry.ts';
import { ReadCacheConfig } from '../../src/config/schema.ts';
import { readCacheOptions, type MirrorReadCacheOptions } from '../../src/store/mirror-read-cache.ts';
import { boundHeapGrowth } from '../../src/heap-growth.ts';
import { compileCacheEnv, warmCompileCache } from './compile-cache.ts';

const { values: args } = parseArgs({
  options: {
    changes: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '20' },
    phase: { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    'store-at': { type: 'string' },
    route: { type: 'string' },
    skewed: { type: 'boolean', default: false },
    'mirror-at': { type: 'string' },
    'read-cache': { type: 'string' },
  },
});

const ROOT = resolvePath(import.meta.dirname, '../..');
/** A store as the phases name it: a SQLite file path, or `mongodb:<database>` on MONGODB_URI. */
const MONGO_PREFIX = 'mongodb:';

/** `--read-cache CHANGES,NEIGHBOURS` (MB) as the configuration's store.readCache would give it; absent, the defaults. */
function readCache(): MirrorReadCacheOptions {
  const given = args['read-cache'];
  if (given === undefined) return {};
  const [changesMB, neighboursMB] = given.split(',').map(Number);
  if (!Number.isInteger(changesMB) || !Number.isInteger(neighboursMB)) throw new Error(`--read-cache ${given}: expected CHANGES_MB,NEIGHBOURS_MB (two integers)`);
  return readCacheOptions(ReadCacheConfig.parse({ changesMB, neighboursMB }));
}

async function openStore(at: string, cache: MirrorReadCacheOptions = {}): Promise<ChangeStore> {
  if (!at.startsWith(MONGO_PREFIX)) return SqliteChangeStore.open(at, { cache });
  const bundle = await openMongoStores(process.env['MONGODB_URI'] ?? '', at.slice(MONGO_PREFIX.length), {}, cache);
  // The bench closes the change store only: the bundle's client goes with it.
  return new Proxy(bundle.changes, {
    get(target, prop) {
      if (prop === 'close') return () => bundle.close();
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const INSTANCE_ID = 'sn-bench';
const ROUTES = ['validate', 'bare'] as const;
type Route = (typeof ROUTES)[number];
const SLICES = 4;
const WARM_UP_SECONDS = 3;
const auth = { kind: 'basic', username: 'admin', password: 'admin' } as const;
const logger = pino({ level: 'silent' });
const BARE_ANSWER = { allow: true, reasons: [], conditions: [], policyVersion: 'bare', change: { id: 'servicenow:sn-bench:bare', key: 'CHG0000000', revision: 1 }, stale: false };

/** Child process: the real app (validate) or the same fastify setup with a constant route (bare). */
async function serve(storePath: string, route: Route): Promise<void> {
  // As src/main.ts sets it for every changegate process (both routes alike).
  boundHeapGrowth();
  const store = await openStore(storePath, readCache());
  const metrics = createMetrics();
  const instance = ServiceNowInstance.parse({ id: INSTANCE_ID, system: 'servicenow', baseUrl: 'https://bench.service-now.com', auth });
  const synced = new Date();
  const app = buildServer({
    systems: registry.systems,
    store,
    engine: new SyncEngine({ store, logger, metrics }),
    metrics,
    logger,
    ...(route === 'validate' ? { validate: { policy: loadPolicy(), instances: validationInstances([instance], registry), lastSyncAt: () => synced } } : {}),
  });
  if (route === 'bare') app.post('/v1/validate', async () => BARE_ANSWER);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  process.on('message', () => process.send?.({ ...process.cpuUsage(), maxRssKb: process.resourceUsage().maxRSS }));
  process.on('SIGTERM', () => void app.close().then(() => store.close()).then(() => process.exit(0)));
}

/** Mirrors `count` bulk changes (with approvals and work notes on some) through the real connector and engine. */
async function buildMirror(storePath: string, count: number): Promise<number> {
  let sim: ServiceNowSimulator | undefined;
  const server = await startSimulatorServer(() => sim?.handlers() ?? []);
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  const fleet = args.skewed ? makeFleet() : undefined;
  // In slices: one call's rows are held at once.
  for (let made = 0; made < count; made += 10_000) {
    sim.bulkCreateChanges(Math.min(10_000, count - made), { seed: 11 + made, end: new Date(Date.now() - 3_600_000), spanDays: 60, ...(fleet ? { fleet, maintenanceWindows: true } : {}) });
  }
  const at = new Date(Date.now() - 1_800_000);
  sim.listChanges().forEach((row, i) => {
    const id = row.sys_id as string;
    if (i % 10 < 3) sim?.addApproval(id, { state: i % 3 === 0 ? 'approved' : 'requested' }, { touchParent: false, at });
    if (i % 10 < 5) sim?.addJournal(id, 'work_notes', `Work note ${i}: checked the rollout plan with the service owner.`, undefined, { touchParent: false, at });
  });
  const store = await openStore(storePath);
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  const instance = ServiceNowInstance.parse({ id: INSTANCE_ID, system: 'servicenow', baseUrl: server.url, auth, pageSize: 1000 });
  engine.register({ connector: createServiceNowConnector(instance, { mapping: loadServiceNowMapping(), logger }), pageSize: 1000, overlapMs: instance.overlap });
  await engine.sync(INSTANCE_ID, { full: true });
  const mirrored = await store.countChanges(INSTANCE_ID);
  await store.close();
  await server.close();
  return mirrored;
}

async function countMirrored(storePath: string): Promise<number> {
  const store = await openStore(storePath);
  try {
    return await store.countChanges(INSTANCE_ID);
  } finally {
    await store.close();
  }
}

/** Request bodies: every active change with each transition its lifecycle offers, half in ServiceNow's native values. */
async function requestBodies(storePath: string): Promise<string[]> {
  const store = await openStore(storePath);
  const native = new Map([...loadServiceNowMapping().states].map(([value, state]) => [state, value]));
  const bodies: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listChanges({ instance: INSTANCE_ID, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const c of page.items as Change[]) {
      nextStates(c.type, c.state).forEach((to, i) => {
        const useNative = (bodies.length + i) % 2 === 1 && native.has(c.state) && native.has(to);
        const [from, target] = useNative ? [native.get(c.state), native.get(to)] : [c.state, to];
        bodies.push(JSON.stringify({ system: 'servicenow', instance: INSTANCE_ID, key: c.key, from, to: target }));
      });
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  await store.close();
  // A stable shuffle, so consecutive requests hit different changes and services.
  return bodies.map((b, i) => ({ b, k: (i * 2_654_435_761) % 4_294_967_296 })).toSorted((x, y) => x.k - y.k).map((x) => x.b);
}

interface Server {
  child: ChildProcess;
  url: string;
  /** The server process's CPU time so far, in microseconds (asked over IPC). */
  cpuMicros(): Promise<number>;
  /** The server process's peak resident set so far, in MB. */
  peakRssMb(): Promise<number>;
}

interface Usage extends NodeJS.CpuUsage {
  maxRssKb: number;
}

function startServer(storePath: string, route: Route): Promise<Server> {
  // CG_BENCH_CPU_PROF=<dir>: the validate server (or CG_BENCH_CPU_PROF_ROUTE's) writes a V8 CPU profile there when it stops.
  const profile = process.env.CG_BENCH_CPU_PROF;
  const profiling = route === (process.env.CG_BENCH_CPU_PROF_ROUTE ?? 'validate') && profile !== undefined && profile !== '' ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, ['--max-semi-space-size=8', ...profiling, import.meta.filename, '--phase', 'serve', '--store-at', storePath, '--route', route, ...(args['read-cache'] === undefined ? [] : ['--read-cache', args['read-cache']])], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: compileCacheEnv(),
  });
  const usage = () =>
    new Promise<Usage>((resolve) => {
      child.once('message', (message) => resolve(message as Usage));
      child.send('usage');
    });
  const cpuMicros = async () => {
    const { user, system } = await usage();
    return user + system;
  };
  const peakRssMb = async () => (await usage()).maxRssKb / 1024;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${route} server exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => resolve({ child, url: (JSON.parse(line) as { url: string }).url, cpuMicros, peakRssMb }));
  });
}

async function stopServer(server: Server): Promise<void> {
  server.child.removeAllListeners('exit');
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
}

interface Slice {
  latencies: number[];
  seconds: number;
  non2xx: number;
  errors: number;
  cpuMicros: number;
}

/** One load slice against one server: every response time, the error counts and the server's CPU time meanwhile. */
async function drive(server: Server, bodies: readonly string[], seconds: number, connections: number): Promise<Slice> {
  let next = 0;
  const latencies: number[] = [];
  const cpuBefore = await server.cpuMicros();
  const started = performance.now();
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${server.url}/v1/validate`,
        connections,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] as string }) }],
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  const elapsed = (performance.now() - started) / 1000;
  return { latencies, seconds: elapsed, non2xx: result.non2xx, errors: result.errors + result.timeouts, cpuMicros: (await server.cpuMicros()) - cpuBefore };
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  cpuPerRequestMicros: number;
  non2xx: number;
  errors: number;
}

function figures(slices: readonly Slice[]): Figures {
  const all = slices.flatMap((s) => s.latencies).toSorted((a, b) => a - b);
  const at = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))] ?? Number.NaN;
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const cpu = slices.reduce((sum, s) => sum + s.cpuMicros, 0);
  const sum = (f: (s: Slice) => number) => slices.reduce((total, s) => total + f(s), 0);
  return { rps: all.length / seconds, p50: at(0.5), p99: at(0.99), requests: all.length, cpuPerRequestMicros: cpu / all.length, non2xx: sum((s) => s.non2xx), errors: sum((s) => s.errors) };
}

/**
 * Both servers run side by side; the load alternates between them in slices,
 * so a neighbour's burst on a shared machine falls on both routes alike
 * instead of on whichever happened to run then.
 */
async function measure(storePath: string, bodies: readonly string[], seconds: number, connections: number): Promise<Record<Route, Figures & { peakRssMb: number }>> {
  warmCompileCache();
  const servers = { validate: await startServer(storePath, 'validate'), bare: await startServer(storePath, 'bare') };
  try {
    // Warm-up: JIT, SQLite page cache, fastify's serializers.
    for (const server of Object.values(servers)) await drive(server, bodies, WARM_UP_SECONDS, connections);
    const slices: Record<Route, Slice[]> = { validate: [], bare: [] };
    const sliceSeconds = Math.max(1, Math.round(seconds / SLICES));
    for (let i = 0; i < SLICES; i++) {
      for (const route of ROUTES) slices[route].push(await drive(servers[route], bodies, sliceSeconds, connections));
    }
    return { validate: { ...figures(slices.validate), peakRssMb: await servers.validate.peakRssMb() }, bare: { ...figures(slices.bare), peakRssMb: await servers.bare.peakRssMb() } };
  } finally {
    await Promise.all(Object.values(servers).map(stopServer));
  }
}

async function main(): Promise<void> {
  const count = Number(args.changes);
  const seconds = Number(args.duration);
  const connections = Number(args.connections);
  const dir = mkdtempSync(join(tmpdir(), 'changegate-validate-bench-'));
  const kept = args['mirror-at'];
  const storePath = kept === undefined ? join(dir, 'changegate.db') : resolvePath(kept);
  try {
    const started = performance.now();
    // A kept mirror is reused as it is: --changes and --skewed describe how it was built.
    const reused = kept !== undefined && existsSync(storePath);
    const mirrored = reused ? await countMirrored(storePath) : await buildMirror(storePath, count);
    const bodies = await requestBodies(storePath);
    console.log(`mirror: ${mirrored} changes${args.skewed ? ' (skewed: Zipf CIs, maintenance windows)' : ''} ${reused ? `reused from ${storePath}` : `in ${((performance.now() - started) / 1000).toFixed(1)} s`}; ${bodies.length} distinct requests (real keys × lifecycle transitions, half in native state values)`);
    console.log(
      `load: autocannon, ${connections} connections, ${seconds} s per route in ${SLICES} alternating slices (after a ${WARM_UP_SECONDS} s warm-up each); servers in child processes${args['read-cache'] === undefined ? '' : ` (store.readCache ${args['read-cache']} MB)`}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${availableParallelism()} cores`,
    );
    const result = await measure(storePath, bodies, seconds, connections);
    const row = (name: string, f: Figures & { peakRssMb: number }) =>
      `${name.padEnd(17)} ${f.rps.toFixed(0).padStart(6)} req/s   p50 ${f.p50.toFixed(1).padStart(5)} ms   p99 ${f.p99.toFixed(1).padStart(5)} ms   server CPU ${f.cpuPerRequestMicros.toFixed(0).padStart(4)} µs/request   peak RSS ${f.peakRssMb.toFixed(0).padStart(4)} MB   (${f.requests} requests, ${f.non2xx} non-2xx, ${f.errors} errors)`;
    console.log(row('POST /v1/validate', result.validate));
    console.log(row('bare route', result.bare));
    const ratio = result.validate.rps / result.bare.rps;
    console.log(`throughput ratio validate/bare: ${ratio.toFixed(2)} (target ≥ 0.50)   validate p99: ${result.validate.p99.toFixed(1)} ms (target < 20 ms)`);
    if (result.validate.non2xx > 0 || result.validate.errors > 0) console.log('WARNING: the validate run had non-2xx answers or errors; the figures are not representative');
    if (args.store === 'mongodb') await onMongo(count, seconds, connections, row);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same mirror, requests and load on MongoDB, printed below the SQLite figures. */
async function onMongo(count: number, seconds: number, connections: number, row: (name: string, f: Figures & { peakRssMb: number }) => string): Promise<void> {
  const database = `cg_bench_validate_${process.pid}`;
  const at = `${MONGO_PREFIX}${database}`;
  try {
    const started = performance.now();
    const mirrored = await buildMirror(at, count);
    const bodies = await requestBodies(at);
    const server = process.env['FERRETDB_PID'] === undefined ? 'MONGODB_URI' : 'FerretDB v1.24.2, SQLite backend';
    console.log(`on MongoDB (${server}): mirror of ${mirrored} changes in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const result = await measure(at, bodies, seconds, connections);
    console.log(row('POST /v1/validate', result.validate));
    console.log(row('bare route', result.bare));
    console.log(`throughput ratio validate/bare: ${(result.validate.rps / result.bare.rps).toFixed(2)}   validate p99: ${result.validate.p99.toFixed(1)} ms`);
    if (result.validate.non2xx > 0 || result.validate.errors > 0) console.log('WARNING: the validate run on MongoDB had non-2xx answers or errors; the figures are not representative');
  } finally {
    const client = await MongoClient.connect(process.env['MONGODB_URI'] ?? '');
    await client.db(database).dropDatabase();
    await client.close();
  }
}

/** A FerretDB for this run (.ci/ferretdb.sh): its exports reach the server processes through the environment. */
function startFerretDb(): () => void {
  const exports = execFileSync('bash', [join(ROOT, '.ci/ferretdb.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const match of exports.matchAll(/^export (\w+)='?([^'\n]*)'?$/gm)) process.env[match[1] as string] = match[2] as string;
  return () => execFileSync('bash', [join(ROOT, '.ci/ferretdb.sh'), 'stop'], { stdio: 'inherit' });
}

if (args.phase === 'serve') {
  if (args['store-at'] === undefined || (args.route !== 'validate' && args.route !== 'bare')) throw new Error('serve needs --store-at and --route validate|bare');
  await serve(args['store-at'], args.route);
} else if (args.store !== 'sqlite' && args.store !== 'mongodb') {
  console.error(`bench:validate: --store ${args.store} is not known (sqlite or mongodb)`);
  process.exit(2);
} else {
  const ferret = args.store === 'mongodb' && !process.env['MONGODB_URI'] ? startFerretDb() : null;
  try {
    await main();
  } finally {
    ferret?.();
  }
}
