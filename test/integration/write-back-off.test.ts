// An operator who turns writeBack off (changegate posting where it should not,
// a ticket system being migrated) and restarts expects nothing more on the
// tickets. What an earlier process queued while it was on is not posted by the
// next one: each item ends parked as failed, saying why, in the outbox, the
// change's history, the metrics and the log.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createApp } from '../../src/app/changegate-app.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';

let dir: string;
let snServer: SimulatorServer;
let sn: ServiceNowSimulator;

function configFor(path: string, writeBack: boolean) {
  return {
    config: ChangegateConfig.parse({
      store: { kind: 'sqlite', path },
      server: { listen: '127.0.0.1:0' },
      instances: [{ id: 'sn', system: 'servicenow', baseUrl: snServer.url, auth: { kind: 'basic', username: 'admin', password: 'admin' }, schedule: '0 0 1 1 *', retries: 0, writeBack }],
      reassess: '0 0 1 1 *',
    }),
    file: join(dir, 'changegate.yaml'),
    registry,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-writeback-off-'));
  snServer = await startSimulatorServer(() => sn.handlers());
  sn = new ServiceNowSimulator({ baseUrl: snServer.url, customFields: Object.values(VERDICT_FIELDS) });
});

afterAll(async () => {
  await snServer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an instance whose writeBack was turned off', () => {
  it('posts nothing the previous process queued, and parks each item saying writeBack is off', async () => {
    const path = join(dir, 'off.db');
    const sysId = sn.createChange({ short_description: 'patch the web tier', type: 'normal' }).sys_id as string;

    // With writeBack on, a sync queues the verdict and its note; the process stops before its worker posts them.
    const on = await createApp(configFor(path, true), { logger: pino({ level: 'silent' }) });
    await on.engine.sync('sn');
    const queued = await on.outbox.list({ status: 'pending' });
    expect(queued.map((i) => i.payload.action).toSorted()).toEqual(['comment', 'set-verdict']);
    await on.close();

    const said: { msg: string; changeId?: string; code?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) said.push(JSON.parse(line) as { msg: string });
        done();
      },
    });
    const off = await createApp(configFor(path, false), { logger: pino({ level: 'info' }, sink) });
    try {
      expect(await off.outboxWorker.drain()).toMatchObject({ written: 0, failed: 2 });
      expect(sn.journalFor(sysId).filter((r) => String(r.value).includes('[changegate:'))).toEqual([]);
      expect(sn.getChange(sysId)?.[VERDICT_FIELDS.verdict] ?? '').toBe('');
      for (const item of queued) {
        expect(await off.outbox.get(item.idempotencyKey)).toMatchObject({ status: 'failed', lastError: { code: 'CG_WRITE_BACK_OFF', kind: 'config' } });
      }
      expect((await off.outbox.get(queued[0]?.idempotencyKey ?? ''))?.lastError?.message).toMatch(/^instance "sn" has writeBack off/);
      const parked = said.filter((l) => l.code === 'CG_WRITE_BACK_OFF');
      expect(parked.map((l) => l.changeId)).toEqual([`servicenow:sn:${sysId}`, `servicenow:sn:${sysId}`]);
      const counted = (await off.metrics.outboxItems.get()).values.filter((v) => v.labels.outcome === 'failed').reduce((n, v) => n + v.value, 0);
      expect(counted).toBe(2);
    } finally {
      await off.close();
    }
  });
});
