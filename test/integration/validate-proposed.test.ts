// POST /v1/validate with what the save proposes besides the state: a change
// manager cancels (or closes) a change and types the reason in the same form
// save, so the business rule asks about the record as it will be saved, not as
// it was. Real fastify app, SQLite store and default policy.

import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceConfig, registry } from '../../src/app/registry.ts';
import { validationInstances } from '../../src/app/validation-instances.ts';
import type { ValidationAnswer } from '../../src/assess/transition-validation.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const NOW = new Date('2026-03-06T10:00:00Z');
const policy = loadPolicy();
const instances = validationInstances(
  [InstanceConfig.parse({ id: 'sn-prod', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' } })],
  registry,
);

let app: FastifyInstance;
let store: SqliteChangeStore;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  const changes = [buildChange({ nativeId: sysId(1), key: changeNumber(1), state: 'scheduled' }), buildChange({ nativeId: sysId(2), key: changeNumber(2), state: 'review' })];
  await store.applyPage('sn-prod', 'changes', changes.map((change) => ({ kind: 'change', change })), null);
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = createMetrics({ defaultMetrics: false });
  app = buildServer({
    systems: registry.systems,
    store,
    engine: new SyncEngine({ store, logger, metrics }),
    metrics,
    logger,
    validate: { policy, instances, lastSyncAt: () => new Date(NOW.getTime() - 60_000), clock: () => NOW },
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await store.close();
});

type Answer = ValidationAnswer & { error?: { code: string; message: string; details: Record<string, unknown> } };

async function validate(key: string, from: string, to: string, proposed?: Record<string, unknown>): Promise<{ status: number; json: Answer }> {
  const payload = { system: 'servicenow', instance: 'sn-prod', key, from, to, ...(proposed === undefined ? {} : { proposed }) };
  const response = await app.inject({ method: 'POST', url: '/v1/validate', payload });
  return { status: response.statusCode, json: response.json() };
}

// ServiceNow's choice values: Scheduled -2, Review 0, Closed 3, Canceled 4.
const cancel = (proposed?: Record<string, unknown>) => validate(changeNumber(1), '-2', '4', proposed);

describe('POST /v1/validate: a cancellation with its reason typed in the same save', () => {
  it('still denies a cancellation that gives no reason, and says it judged the stored record', async () => {
    const { status, json } = await cancel();
    expect(status).toBe(200);
    expect(json.allow).toBe(false);
    expect(json.reasons.join('\n')).toMatch(/no cancellation reason/);
    expect(json).not.toHaveProperty('proposed');
  });

  it('allows it when the close notes typed in the same save give the reason, and says so', async () => {
    const { status, json } = await cancel({ closeNotes: 'Vendor pulled the 4.2 release; rebooked as CHG0040002.' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ allow: true, reasons: [], proposed: ['closeNotes'] });
  });

  it('allows it when a work note typed in the same save says why, and records who typed it without the text', async () => {
    logged.length = 0;
    const { json } = await cancel({ workNote: 'Cancel: the vendor pulled the release.', by: 'carla.manager' });
    expect(json).toMatchObject({ allow: true, proposed: ['workNote'] });
    const entry = logged.find((l) => l['msg'] === 'validate judged proposed values');
    expect(entry).toMatchObject({ key: changeNumber(1), from: 'scheduled', to: 'canceled', allow: true, proposed: ['workNote'], by: 'carla.manager' });
    expect(JSON.stringify(entry)).not.toContain('vendor pulled');
  });

  it('still denies it when the typed note does not say it cancels, or says not to', async () => {
    for (const workNote of ['Rebooked for next week.', 'Do not cancel yet.']) {
      const { json } = await cancel({ workNote });
      expect(json).toMatchObject({ allow: false, proposed: ['workNote'] });
      expect(json.reasons.join('\n')).toMatch(/no cancellation reason/);
    }
  });

  it('judges close notes cleared in the same save as gone', async () => {
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: buildChange({ nativeId: sysId(3), key: changeNumber(3), state: 'scheduled', closeNotes: 'Vendor pulled it.' }) }], null);
    expect((await validate(changeNumber(3), '-2', '4')).json.allow).toBe(true);
    const cleared = await validate(changeNumber(3), '-2', '4', { closeNotes: '' });
    expect(cleared.json).toMatchObject({ allow: false, proposed: ['closeNotes'] });
  });
});

describe('POST /v1/validate: a closure with close code and notes typed in the same save', () => {
  it('no longer names the close fields as missing once the save sets them', async () => {
    const bare = await validate(changeNumber(2), '0', '3');
    expect(bare.json.reasons.join('\n')).toMatch(/close code and close notes are not set/);
    const typed = await validate(changeNumber(2), '0', '3', { closeCode: 'successful', closeNotes: 'Rolled out; error rate flat.' });
    expect(typed.json.proposed).toEqual(['closeCode', 'closeNotes']);
    expect(typed.json.reasons.join('\n')).not.toMatch(/close code|close notes/);
  });
});

describe('POST /v1/validate: bad proposed input is refused, naming the field', () => {
  it.each([
    ['proposed.closeNotes', { closeNotes: 'x'.repeat(4001) }],
    ['proposed.workNote', { workNote: '   ' }],
    ['proposed.comment', { comment: 42 }],
    ['proposed.by', { workNote: 'cancel', by: 'x'.repeat(201) }],
  ])('%s', async (field, proposed) => {
    const { status, json } = await cancel(proposed);
    expect(status).toBe(400);
    expect(json.error?.code).toBe('CG_INPUT_INVALID');
    expect(json.error?.message).toContain(field);
  });

  it('refuses a proposal to change anything a save cannot be trusted to carry (state, approvals, risk)', async () => {
    for (const key of ['state', 'approvals', 'risk']) {
      const { status, json } = await cancel({ closeNotes: 'Vendor pulled it.', [key]: 'approved' });
      expect(status).toBe(400);
      expect(json.error?.message).toMatch(new RegExp(`proposed.*${key}`));
    }
  });
});
