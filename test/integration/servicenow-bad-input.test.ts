// Bad input from ServiceNow, through the real connector, engine and store:
// every bad record is reported with its reference and counted; a bad response
// stops the run with a clear error; nothing already stored is lost.

import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const BASE = 'https://bad-input.service-now.test';
const sim = new ServiceNowSimulator({ baseUrl: BASE });
const server = setupServer(...sim.handlers());
const instance = ServiceNowInstance.parse({ id: 'sn-bad', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'admin', password: 'admin' }, pageSize: 20, retries: 2 });

let store: SqliteChangeStore;
let metrics: Metrics;
let engine: SyncEngine;
let logLines: Record<string, unknown>[];

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

beforeEach(async () => {
  sim.faults.clear();
  sim.bulkCreateChanges(50, { seed: 3, end: new Date(Date.now() - 86_400_000) });
  store = SqliteChangeStore.open(':memory:');
  metrics = createMetrics({ defaultMetrics: false });
  logLines = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
  const logger = pino({ level: 'info' }, sink);
  engine = new SyncEngine({ store, logger, metrics });
  const connector = createServiceNowConnector(instance, { mapping: loadServiceNowMapping(), logger, retry: { baseMs: 1, maxMs: 5 } });
  engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  await engine.sync('sn-bad');
});

afterEach(async () => {
  await store.close();
});

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

describe('bad input from ServiceNow', () => {
  it('reports and counts bad records, and mirrors the good ones around them', async () => {
    const before = await store.countChanges('sn-bad');
    const now = new Date().toISOString().replace('T', ' ').slice(0, 19);
    const template = sim.listChanges()[0] ?? {};
    sim.insertRawChange({ ...template, sys_id: '', number: 'CHG0099001', sys_updated_on: now });
    sim.insertRawChange({ ...template, sys_id: 'b'.repeat(32), number: 'CHG0099002', start_date: '31/12/2026 10:00', sys_updated_on: now });
    const unknownState = sim.createChange({ short_description: 'state nobody mapped' });
    sim.insertRawChange({ ...unknownState, state: '7' });
    const good = sim.createChange({ short_description: 'created after the bad ones' });

    const report = await engine.sync('sn-bad');

    expect(report.streams.find((s) => s.stream === 'changes')?.invalid).toBe(3);
    expect(await store.countChanges('sn-bad')).toBe(before + 1);
    expect((await store.getChange(good.number as string))?.change.title).toBe('created after the bad ones');
    const rejected = await store.listRejected('sn-bad');
    expect(rejected.map((r) => [r.ref, r.code]).toSorted()).toEqual(
      [
        ['CHG0099001', 'CG_SN_RECORD_INVALID'],
        ['CHG0099002', 'CG_SN_RECORD_INVALID'],
        [unknownState.number, 'CG_MAPPING_UNKNOWN_VALUE'],
      ].toSorted(),
    );
    const stateError = rejected.find((r) => r.code === 'CG_MAPPING_UNKNOWN_VALUE');
    expect(stateError?.message).toMatch(/"7".*servicenow\.default\.yaml/);
    expect(rejected.find((r) => r.ref === 'CHG0099002')?.message).toMatch(/start_date/);
    expect(logLines.filter((l) => l['level'] === 50 && String(l['msg']).startsWith('record '))).toHaveLength(3);
    expect(await metricValue('changegate_rejected_records_total', { instance: 'sn-bad', code: 'CG_SN_RECORD_INVALID' })).toBe(2);
    expect(await metricValue('changegate_rejected_records_total', { instance: 'sn-bad', code: 'CG_MAPPING_UNKNOWN_VALUE' })).toBe(1);
  });

  it('stops on a non-JSON error page after retrying, keeping what was stored', async () => {
    const before = await store.countChanges('sn-bad');
    const cursor = await store.getCursor('sn-bad', 'changes');
    sim.faults.times(3, { kind: 'non-json', status: 500 }, { path: 'change_request' });
    await expect(engine.sync('sn-bad')).rejects.toMatchObject({ code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient' });
    expect(await store.countChanges('sn-bad')).toBe(before);
    expect(await store.getCursor('sn-bad', 'changes')).toEqual(cursor);
    expect(await metricValue('changegate_sync_errors_total', { instance: 'sn-bad', code: 'CG_UPSTREAM_UNAVAILABLE' })).toBe(1);
    // The next run, with the instance healthy again, carries on.
    await expect(engine.sync('sn-bad')).resolves.toMatchObject({ instance: 'sn-bad' });
  });

  it('stops on an HTML login page answered with 200, naming the URL', async () => {
    const before = await store.countChanges('sn-bad');
    sim.faults.next({ kind: 'html-login' }, { path: 'change_request' });
    const error = await engine.sync('sn-bad').catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'CG_SN_LOGIN_PAGE', kind: 'config' });
    expect(String((error as Error).message)).toContain('/api/now/table/change_request');
    expect(await store.countChanges('sn-bad')).toBe(before);
    expect(await metricValue('changegate_sync_errors_total', { instance: 'sn-bad', code: 'CG_SN_LOGIN_PAGE' })).toBe(1);
    expect(await metricValue('changegate_sync_runs_total', { instance: 'sn-bad', outcome: 'failed' })).toBe(1);
  });
});
