// The neighbour lookup benchmark: the overlap gate's question (the active
// changes sharing a CI or service whose planned window overlaps this one, most
// recently updated first, at most a limit) timed on SQLite mirrors of several
// sizes with a real instance's skew (1,000 CIs on a Zipf law, the busiest
// carrying about a tenth of all changes; active changes in the weekly
// maintenance windows: skewed-fleet.ts), synced by the real engine and
// connector from the simulator. Per size it asks for the neighbours of every
// active change on the busiest CI and of a sample of all active changes, and,
// as the baseline of the same run, reads each of those changes by id. It
// prints CPU µs per lookup, the mean answer, the ratio to the baseline and the
// growth factor between sizes, which stays near 1 when a lookup's cost follows
// its answer and not the mirror.
//
//   npm run bench:neighbours [-- --sizes 20000,100000 --sample 2000 --limits 200,20,5 --rounds 5]
//
// Two read-cache states: warm (parsed changes kept between lookups, as a
// server validating) and cold (a cache of one change, so every change an
// answer holds is parsed, as in a sync, whose every page write drops the cache).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { fleetCiName, makeFleet } from '../../connectors/servicenow/simulator/skewed-fleet.ts';
import { startSimulatorServer } from '../../connectors/simulator-http.ts';
import { MAX_NEIGHBOURS } from '../../src/assess/policy-context.ts';
import type { Change } from '../../src/domain/change.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { TouchingQuery } from '../../src/store/change-store.ts';
import { changeRefKeys, isActiveState, windowDays, NO_WINDOW } from '../../src/store/change-refs.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '20000,100000' },
    sample: { type: 'string', default: '2000' },
    limits: { type: 'string', default: `${MAX_NEIGHBOURS},20,5` },
    rounds: { type: 'string', default: '5' },
  },
});
const sizes = args.sizes.split(',').map(Number);
const sampleSize = Number(args.sample);
const limits = args.limits.split(',').map(Number);
const rounds = Number(args.rounds);
const INSTANCE_ID = 'sn-bench';
const auth = { kind: 'basic', username: 'admin', password: 'admin' } as const;
const logger = pino({ level: 'silent' });
const BUSIEST_CI = fleetCiName(0);

/** Syncs `count` skewed bulk changes from the simulator into a new SQLite file, as `changegate sync --full` mirrors them. */
async function buildMirror(path: string, count: number): Promise<void> {
  let sim: ServiceNowSimulator | undefined;
  const server = await startSimulatorServer(() => sim?.handlers() ?? []);
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  const fleet = makeFleet();
  const end = new Date(Date.now() - 3_600_000);
  // The same data as the end-to-end mirror benchmark (serve-servicenow.ts): its seeds, its span.
  for (let made = 0; made < count; made += 10_000) sim.bulkCreateChanges(Math.min(10_000, count - made), { seed: 7 + made, end, fleet, maintenanceWindows: true });
  const store = SqliteChangeStore.open(path);
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  const instance = ServiceNowInstance.parse({ id: INSTANCE_ID, system: 'servicenow', baseUrl: server.url, auth, pageSize: 1000 });
  engine.register({ connector: createServiceNowConnector(instance, { mapping: loadServiceNowMapping(), logger }), pageSize: 1000, overlapMs: instance.overlap });
  await engine.sync(INSTANCE_ID, { full: true });
  await store.close();
  await server.close();
  sim = undefined;
}

/** The overlap gate's query for a change (policy-context.ts `neighbours`), or null when it asks none. */
function gateQuery(change: Change, limit: number): TouchingQuery | null {
  const refs = changeRefKeys(change);
  if (refs.length === 0 || change.plannedStart === null || change.plannedEnd === null) return null;
  if (windowDays(change.plannedStart, change.plannedEnd)[0] === NO_WINDOW) return null;
  return { instance: change.instance, refs, plannedOverlap: { start: change.plannedStart, end: change.plannedEnd }, excludeId: change.id, limit };
}

/** Every active change with a planned window: those on the busiest CI, and an evenly spread sample of all. */
async function subjects(path: string): Promise<{ busiest: Change[]; sample: Change[]; mirrored: number }> {
  const store = SqliteChangeStore.open(path);
  const active: Change[] = [];
  let mirrored = 0;
  let cursor: string | undefined;
  do {
    const page = await store.listChanges({ instance: INSTANCE_ID, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    mirrored += page.items.length;
    for (const c of page.items) if (isActiveState(c.state) && gateQuery(c, 1) !== null) active.push({ ...c, raw: null });
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  await store.close();
  const busiest = active.filter((c) => c.cis.some((ci) => ci.name === BUSIEST_CI));
  const step = Math.max(1, Math.floor(active.length / sampleSize));
  return { busiest: busiest.slice(0, sampleSize), sample: active.filter((_, i) => i % step === 0).slice(0, sampleSize), mirrored };
}

interface Timing {
  lookupMicros: number;
  readMicros: number;
  meanAnswer: number;
}

/** CPU µs per lookup and per read by id over `changes`: the least of `rounds` passes (the first warms SQLite's page cache; the machine may be shared). */
async function time(path: string, changes: readonly Change[], limit: number, cold: boolean): Promise<Timing> {
  const best = async (pass: (store: SqliteChangeStore) => Promise<number>): Promise<{ micros: number; total: number }> => {
    let micros = Number.POSITIVE_INFINITY;
    let total = 0;
    for (let round = 0; round < rounds; round++) {
      // A fresh store each round: no answer of an earlier round is remembered.
      const store = SqliteChangeStore.open(path, cold ? { cache: { capacity: 1 } } : {});
      // CPU time, not wall: a busy shared machine disturbs it least (the lookups are synchronous SQLite and parsing).
      const started = process.cpuUsage();
      total = await pass(store);
      const used = process.cpuUsage(started);
      micros = Math.min(micros, (used.user + used.system) / changes.length);
      await store.close();
    }
    return { micros, total };
  };
  const lookups = await best(async (store) => {
    let answered = 0;
    for (const c of changes) answered += (await store.listActiveChangesTouching(gateQuery(c, limit) as TouchingQuery)).length;
    return answered;
  });
  const reads = await best(async (store) => {
    let found = 0;
    for (const c of changes) if ((await store.getChange(c.id, { withoutRaw: true, children: { approvals: false, journal: false } })) !== null) found++;
    return found;
  });
  if (reads.total !== changes.length) throw new Error(`read ${reads.total} of ${changes.length} changes by id`);
  return { lookupMicros: lookups.micros, readMicros: reads.micros, meanAnswer: lookups.total / changes.length };
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

interface Row {
  size: number;
  set: string;
  limit: number;
  cache: string;
  timing: Timing;
}

const dir = mkdtempSync(join(tmpdir(), 'changegate-neighbours-'));
const rows: Row[] = [];
try {
  console.log('neighbour lookup benchmark (SQLite): the overlap gate\'s query, per active change with a planned window');
  console.log(`  skewed data: 1,000 CIs on a Zipf law (busiest ${BUSIEST_CI} ≈ 1/10 of changes), active changes in weekly maintenance windows`);
  console.log('  baseline: reading the same change by id (no payload, no children) in the same run, same cache state');
  console.log('  CPU µs per call, the least of several passes');
  console.log('  size      set              limit  cache  subjects  mean answer  lookup µs  read µs  lookup ÷ read');
  for (const size of sizes) {
    const path = join(dir, `mirror-${size}.db`);
    const started = performance.now();
    await buildMirror(path, size);
    const { busiest, sample, mirrored } = await subjects(path);
    console.log(`  (${fmt(mirrored)} changes mirrored in ${fmt((performance.now() - started) / 1000, 1)} s; ${fmt(busiest.length)} active on the busiest CI)`);
    for (const [set, changes] of [['busiest CI', busiest], ['all active', sample]] as const) {
      for (const limit of limits) {
        for (const cold of [false, true]) {
          const timing = await time(path, changes, limit, cold);
          const row: Row = { size, set, limit, cache: cold ? 'cold' : 'warm', timing };
          rows.push(row);
          console.log(
            `  ${fmt(size).padStart(7)}   ${set.padEnd(15)} ${String(limit).padStart(6)}  ${row.cache}   ${fmt(changes.length).padStart(8)}  ${fmt(timing.meanAnswer, 1).padStart(11)}  ${fmt(timing.lookupMicros, 1).padStart(9)}  ${fmt(timing.readMicros, 1).padStart(7)}  ${fmt(timing.lookupMicros / timing.readMicros, 1).padStart(13)}`,
          );
        }
      }
    }
    rmSync(path, { force: true });
  }
  for (let i = 1; i < sizes.length; i++) {
    const [from, to] = [sizes[i - 1] as number, sizes[i] as number];
    console.log(`growth time(${fmt(to)}) ÷ time(${fmt(from)}) per lookup, for ${fmt(to / from, 1)}× the data (the answer's growth beside it; the read baseline's too):`);
    for (const row of rows.filter((r) => r.size === to)) {
      const before = rows.find((r) => r.size === from && r.set === row.set && r.limit === row.limit && r.cache === row.cache);
      if (before === undefined) continue;
      const growth = row.timing.lookupMicros / before.timing.lookupMicros;
      console.log(
        `  ${row.set.padEnd(15)} limit ${String(row.limit).padStart(3)} ${row.cache}:  lookup ×${fmt(growth, 2)}   answer ×${fmt(row.timing.meanAnswer / before.timing.meanAnswer, 2)}   read ×${fmt(row.timing.readMicros / before.timing.readMicros, 2)}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
