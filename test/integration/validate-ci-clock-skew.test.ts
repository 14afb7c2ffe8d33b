// The whole process: a CI system whose clock runs ahead of changegate's posts a
// finished run through POST /v1/events/:source, and POST /v1/validate judges the
// move into Implement on it at once, not after the skew has elapsed; a run
// stamped further ahead than the allowance is still not counted.

import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';

const SECRET = 'pipeline-secret';
const SECOND = 1_000;
const glide = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const iso = (ms: number) => new Date(ms).toISOString();

let dir: string;
let server: SimulatorServer;
let sim: ServiceNowSimulator;
let app: ChangegateApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-ci-skew-'));
  server = await startSimulatorServer(() => sim.handlers());
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  const now = Date.now();
  for (const number of ['CHG0078001', 'CHG0078002']) {
    sim.createChange({ number, short_description: 'Roll out the new ingress controller', type: 'normal', state: '-2', start_date: glide(now - 1_800_000), end_date: glide(now + 1_800_000) });
  }
  const config = ChangegateConfig.parse({
    store: { kind: 'sqlite', path: join(dir, 'app.db') },
    server: { listen: '127.0.0.1:0' },
    instances: [{ id: 'sn-skew', system: 'servicenow', baseUrl: server.url, auth: { kind: 'basic', username: 'admin', password: 'admin' }, schedule: '0 0 1 1 *' }],
    events: { sources: [{ id: 'pipeline', kind: 'generic', secrets: [SECRET] }] },
    reassess: '0 0 1 1 *',
  });
  app = await createApp({ config, file: join(dir, 'changegate.yaml'), registry }, { logger: pino({ level: 'silent' }) });
  await app.serve({ runNow: false });
  await app.engine.sync('sn-skew');
});

afterAll(async () => {
  await app.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Posts a green build of a commit naming the change, stamped by the CI system's clock `aheadMs` ahead of ours, and waits until it is correlated. */
async function postRunAhead(key: string, aheadMs: number): Promise<void> {
  const stampedNow = Date.now() + aheadMs;
  // A 20-second run that has just finished, as the CI system's clock tells it.
  const run = { id: `build-${key}`, kind: 'build', status: 'success', commit: '9fceb02d0ae598e95dc970b74767f19372d61af8', name: 'build-and-test', changeKeys: [key], startedAt: iso(stampedNow - 20 * SECOND), finishedAt: iso(stampedNow) };
  const body = JSON.stringify({ ci: [run] });
  const response = await app.server().inject({
    method: 'POST',
    url: '/v1/events/pipeline',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-changegate-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
  });
  expect(response.statusCode).toBe(202);
  await vi.waitFor(async () => {
    const change = await app.server().inject({ method: 'GET', url: `/v1/changes/${key}` });
    expect((change.json() as { events: unknown[] }).events).toHaveLength(1);
  }, { timeout: 15_000, interval: 20 });
}

async function intoImplement(key: string): Promise<{ allow: boolean; reasons: string[]; conditions: string[] }> {
  const response = await app.server().inject({ method: 'POST', url: '/v1/validate', payload: { system: 'servicenow', instance: 'sn-skew', key, from: '-2', to: '-1' } });
  expect(response.statusCode).toBe(200);
  return response.json() as { allow: boolean; reasons: string[]; conditions: string[] };
}

const ciGreen = (answer: { reasons: string[]; conditions: string[] }): string[] => [...answer.reasons, ...answer.conditions].filter((r) => r.includes('implement.ci-green'));

describe('POST /v1/validate and a CI clock ahead of ours', () => {
  it('counts a run stamped 30 s ahead as finished now: the CI gate is green at once', async () => {
    await postRunAhead('CHG0078001', 30 * SECOND);
    const answer = await intoImplement('CHG0078001');
    expect(ciGreen(answer)).toEqual([]);
    expect([...answer.reasons, ...answer.conditions].join('\n')).not.toMatch(/waiting for a CI run/);
  });

  it('does not count a run stamped beyond the 2-minute allowance: it has not happened yet', async () => {
    await postRunAhead('CHG0078002', 3 * 60 * SECOND);
    const answer = await intoImplement('CHG0078002');
    expect(ciGreen(answer)).toEqual([expect.stringMatching(/waiting for a CI run/)]);
  });
});
