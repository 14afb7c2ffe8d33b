// store.readCache through the running service: the bounds the configuration
// gives are the ones the mirror's read cache keeps to while POST /v1/validate
// reads change after change, and /metrics shows what it holds and how often a
// read found it there (what an operator sizes the bounds by).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';
import type { Change } from '../../src/domain/change.ts';
import { nextStates } from '../../src/policy/lifecycle.ts';

const CHANGES = 900;
const MB = 1024 * 1024;

let dir: string;
let server: SimulatorServer;
let sim: ServiceNowSimulator;
let app: ChangegateApp;
let mirrored: Change[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-read-cache-'));
  server = await startSimulatorServer(() => sim.handlers());
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  sim.bulkCreateChanges(CHANGES, { seed: 7, end: new Date(Date.now() - 3_600_000), spanDays: 30 });
  const config = ChangegateConfig.parse({
    store: { kind: 'sqlite', path: join(dir, 'app.db'), readCache: { changesMB: 1, neighboursMB: 2 } },
    server: { listen: '127.0.0.1:0' },
    instances: [{ id: 'sn-cache', system: 'servicenow', baseUrl: server.url, auth: { kind: 'basic', username: 'admin', password: 'admin' }, schedule: '0 0 1 1 *' }],
  });
  app = await createApp({ config, file: join(dir, 'changegate.yaml'), registry }, { logger: pino({ level: 'silent' }) });
  await app.serve({ runNow: false });
  await app.engine.sync('sn-cache');
  mirrored = [];
  let cursor: string | undefined;
  do {
    const page = await app.store.listChanges({ instance: 'sn-cache', limit: 500, ...(cursor ? { cursor } : {}) });
    mirrored.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}, 60_000);

afterAll(async () => {
  await app.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One sample of a metric with labels, from the Prometheus text /metrics answers. */
async function sample(name: string, labels: string): Promise<number> {
  const text = (await app.server().inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  if (line === undefined) throw new Error(`/metrics has no ${name}{${labels}}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function validateEach(changes: readonly Change[]): Promise<void> {
  for (const change of changes) {
    const to = nextStates(change.type, change.state)[0] ?? change.state;
    const response = await app.server().inject({ method: 'POST', url: '/v1/validate', payload: { system: 'servicenow', instance: 'sn-cache', key: change.key, from: change.state, to } });
    expect(response.statusCode).toBe(200);
  }
}

describe('store.readCache in the running service', () => {
  it('keeps the parsed changes under the configured bound while validations read the whole mirror, and says so on /metrics', async () => {
    expect(mirrored).toHaveLength(CHANGES);
    expect(await sample('changegate_read_cache_limit_bytes', 'cache="changes"')).toBe(1 * MB);
    expect(await sample('changegate_read_cache_limit_bytes', 'cache="neighbours"')).toBe(2 * MB);
    const missesBefore = await sample('changegate_read_cache_reads_total', 'cache="changes",outcome="miss"');
    await validateEach(mirrored);
    const held = await sample('changegate_read_cache_bytes', 'cache="changes"');
    const entries = await sample('changegate_read_cache_entries', 'cache="changes"');
    // More changes were read than 1 MB holds: the cache is full to its bound and no further.
    expect(held).toBeLessThanOrEqual(1 * MB);
    expect(held).toBeGreaterThan(0.8 * MB);
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThan(CHANGES);
    expect((await sample('changegate_read_cache_reads_total', 'cache="changes",outcome="miss"')) - missesBefore).toBeGreaterThanOrEqual(CHANGES);
  });

  it('answers a change read again while it is held from memory, counted as a hit', async () => {
    const recent = mirrored.slice(-20);
    await validateEach(recent);
    const hitsBefore = await sample('changegate_read_cache_reads_total', 'cache="changes",outcome="hit"');
    const missesBefore = await sample('changegate_read_cache_reads_total', 'cache="changes",outcome="miss"');
    await validateEach(recent);
    expect((await sample('changegate_read_cache_reads_total', 'cache="changes",outcome="hit"')) - hitsBefore).toBeGreaterThanOrEqual(recent.length);
    expect(await sample('changegate_read_cache_reads_total', 'cache="changes",outcome="miss"')).toBe(missesBefore);
  });
});
