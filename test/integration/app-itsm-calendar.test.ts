// The whole process: a blackout schedule published in ServiceNow reaches the
// verdict of POST /v1/validate through the app's wiring (read at start-up,
// merged with the policy calendar).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { ChangegateConfig } from '../../src/app/registry.ts';
import { registry } from '../../src/app/registry.ts';

const glide = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

let dir: string;
let server: SimulatorServer;
let sim: ServiceNowSimulator;
let app: ChangegateApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-app-cal-'));
  server = await startSimulatorServer(() => sim.handlers());
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  const now = Date.now();
  sim.createChange({ number: 'CHG0077001', short_description: 'Rotate the TLS certificates', type: 'normal', state: '-2', start_date: glide(now - 1_800_000), end_date: glide(now + 1_800_000) });
  const blackout = sim.insertRecord('cmn_schedule', { name: 'Peak trading freeze', type: 'blackout', time_zone: 'UTC', sys_class_name: 'cmn_schedule_blackout' });
  sim.insertRecord('cmn_schedule_span', { schedule: blackout.sys_id, type: 'blackout', name: 'Peak trading', start_date_time: glide(now - 3_600_000), end_date_time: glide(now + 3_600_000) });
  const config = ChangegateConfig.parse({
    store: { kind: 'sqlite', path: join(dir, 'app.db') },
    server: { listen: '127.0.0.1:0' },
    instances: [{ id: 'sn-cal', system: 'servicenow', baseUrl: server.url, auth: { kind: 'basic', username: 'admin', password: 'admin' }, schedule: '0 0 1 1 *' }],
  });
  app = await createApp({ config, file: join(dir, 'changegate.yaml'), registry }, { logger: pino({ level: 'silent' }) });
  await app.serve({ runNow: false });
  await app.engine.sync('sn-cal');
});

afterAll(async () => {
  await app.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ServiceNow schedules in the running service', () => {
  it('denies Implement during a blackout read from ServiceNow, naming the schedule', async () => {
    const response = await app.server().inject({
      method: 'POST',
      url: '/v1/validate',
      payload: { system: 'servicenow', instance: 'sn-cal', key: 'CHG0077001', from: '-2', to: '-1' },
    });
    expect(response.statusCode).toBe(200);
    const answer = response.json() as { allow: boolean; reasons: string[] };
    expect(answer.allow).toBe(false);
    expect(answer.reasons).toContainEqual(expect.stringMatching(/Peak trading freeze.*\(implement\.freeze\)$/));
  });
});

describe('ServiceNow schedules in a one-shot sync', () => {
  it('are read before the run, so the stored assessment names the blackout', async () => {
    const config = ChangegateConfig.parse({
      store: { kind: 'sqlite', path: join(dir, 'one-shot.db') },
      instances: [{ id: 'sn-cal', system: 'servicenow', baseUrl: server.url, auth: { kind: 'basic', username: 'admin', password: 'admin' } }],
    });
    const oneShot = await createApp({ config, file: join(dir, 'changegate.yaml'), registry }, { logger: pino({ level: 'silent' }) });
    try {
      await oneShot.readItsmCalendars();
      await oneShot.engine.sync('sn-cal');
      const change = await oneShot.store.getChange('CHG0077001');
      const stored = change === null ? null : await oneShot.assessments.latestAssessment(change.change.id);
      expect(stored?.assessment.gates.find((g) => g.id === 'implement.freeze')).toMatchObject({ result: 'fail', reason: expect.stringMatching(/Peak trading freeze/) });
    } finally {
      await oneShot.close();
    }
  });
});
