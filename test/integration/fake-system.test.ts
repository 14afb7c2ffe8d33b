// A third system takes a folder and one registry entry: the fake ITSM of
// test/support/fake-itsm is added to the shipped list, and nothing else. It
// shows up in the config schema, in `mappings validate`, in the webhook routes,
// in `/v1/validate` and in a sync, with no core file touched.

import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectors } from '../../connectors/index.ts';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { registry as shipped } from '../../src/app/registry.ts';
import { parseConfigText } from '../../src/config/load-config.ts';
import { configSchemaFor } from '../../src/config/schema.ts';
import { createConnectorRegistry } from '../../src/kit/connector-registry.ts';
import { mappingKindsOf } from '../../src/mapping/mapping-kinds.ts';
import { validateMappingFiles } from '../../src/mapping/validate-mappings.ts';
import { fakeItsm } from '../support/fake-itsm/index.ts';
import { FakeSite } from '../support/fake-itsm/fake-site.ts';

// The one registry entry.
const registry = createConnectorRegistry([...connectors, fakeItsm]);

const BASE = 'https://fake.example';
const SECRET = 'fake-hook-secret';
let dir: string;
let app: ChangegateApp;
const site = FakeSite.at(BASE);

const configText = (store: string) => `store: { kind: sqlite, path: ${store} }
server: { listen: 127.0.0.1:0 }
log: { level: warn }
instances:
  - { id: fake-1, system: fakeitsm, baseUrl: ${BASE}, token: t-1, webhookSecret: \${FAKE_SECRET}, schedule: "0 0 1 1 *" }
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-fake-'));
  site.put({ id: 't1', key: 'FAKE-1', title: 'Rotate the edge certificates', status: 'open', updatedAt: '2026-03-02T09:00:00Z' });
  site.put({ id: 't2', key: 'FAKE-2', title: 'Patch the build agents', status: 'doing', updatedAt: '2026-03-02T09:05:00Z' });
  const config = parseConfigText(configText(join(dir, 'fake.db')), 'fake.yaml', { FAKE_SECRET: SECRET }, registry);
  app = await createApp({ config, file: join(dir, 'fake.yaml'), registry }, { logger: pino({ level: 'silent' }) });
  await app.serve({ runNow: false });
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a system added by a folder and one registry entry', () => {
  it('is an instance kind of the config file, with its own fields checked, and unknown to the shipped registry', () => {
    expect(() => parseConfigText(configText('x.db').replace('token: t-1, ', ''), 'fake.yaml', { FAKE_SECRET: SECRET }, registry)).toThrow(/instances\[0\]\.token/);
    expect(() => parseConfigText(configText('x.db'), 'fake.yaml', { FAKE_SECRET: SECRET }, shipped)).toThrow(/instances\[0\]/);
    const schema = JSON.stringify(z.toJSONSchema(configSchemaFor(registry), { io: 'input' }));
    expect(schema).toContain('"fakeitsm"');
    expect(JSON.stringify(z.toJSONSchema(configSchemaFor(shipped), { io: 'input' }))).not.toContain('"fakeitsm"');
  });

  it('has its mapping kind checked by mappings validate, naming file and line', () => {
    const good = join(dir, 'fake.yaml');
    const bad = join(dir, 'fake-bad.yaml');
    writeFileSync(good, 'kind: fakeitsm-mapping\nstatuses:\n  open: new\n');
    writeFileSync(bad, 'kind: fakeitsm-mapping\nstatuses:\n  open: opened\n');
    const [ok, wrong] = [validateMappingFiles(good, mappingKindsOf(registry))[0], validateMappingFiles(bad, mappingKindsOf(registry))[0]];
    expect(ok).toMatchObject({ ok: true });
    expect(wrong?.errors).toEqual([expect.stringMatching(new RegExp(`^${bad}:3:\\d+ statuses\\.open: `))]);
    expect(validateMappingFiles(good, mappingKindsOf(shipped))[0]?.errors[0]).toMatch(/unknown kind "fakeitsm-mapping"/);
  });

  it('is synced by the engine into the mirror and assessed', async () => {
    const report = await app.engine.sync('fake-1');
    expect(report.streams).toMatchObject([{ stream: 'changes', records: 2, written: 2 }]);
    const mirrored = await app.store.getChange('FAKE-2');
    expect(mirrored?.change).toMatchObject({ system: 'fakeitsm', instance: 'fake-1', state: 'implement', nativeState: 'doing' });
    expect(await app.assessments.latestAssessment('fakeitsm:fake-1:t2')).not.toBeNull();
  });

  it('takes signed webhooks at /v1/webhooks/fakeitsm/:instance and re-fetches what they name', async () => {
    site.put({ id: 't1', key: 'FAKE-1', title: 'Rotate the edge certificates', status: 'done', updatedAt: '2026-03-02T10:00:00Z' });
    const body = JSON.stringify({ ids: ['t1'] });
    const signature = createHmac('sha256', SECRET).update(body).digest('hex');
    const server = app.server();
    const unsigned = await server.inject({ method: 'POST', url: '/v1/webhooks/fakeitsm/fake-1', payload: body, headers: { 'content-type': 'application/json' } });
    expect(unsigned.statusCode).toBe(401);
    const before = site.fetches;
    const accepted = await server.inject({
      method: 'POST',
      url: '/v1/webhooks/fakeitsm/fake-1',
      payload: body,
      headers: { 'content-type': 'application/json', 'x-fake-signature': signature, 'x-fake-delivery': 'd-1' },
    });
    expect(accepted.statusCode).toBe(202);
    await expect.poll(async () => (await app.store.getChange('FAKE-1'))?.change.state, { timeout: 10_000 }).toBe('closed');
    expect(site.fetches).toBe(before + 1);
  });

  it('is judged by /v1/validate, which accepts its native states', async () => {
    const response = await app.server().inject({
      method: 'POST',
      url: '/v1/validate',
      payload: { system: 'fakeitsm', instance: 'fake-1', key: 'FAKE-2', from: 'doing', to: 'done' },
    });
    expect(response.statusCode).toBe(200);
    // implement → closed skips Review: the lifecycle refuses it, on the mirrored change.
    expect(response.json()).toMatchObject({ change: { key: 'FAKE-2' }, stale: false, allow: false, reasons: [expect.any(String)] });
    const unknown = await app.server().inject({
      method: 'POST',
      url: '/v1/validate',
      payload: { system: 'fakeitsm', instance: 'fake-1', key: 'FAKE-2', from: 'doing', to: 'shipped' },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: { code: 'CG_INPUT_INVALID', details: { field: 'to' } } });
  });
});
