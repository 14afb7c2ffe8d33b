// POST /v1/validate as a ServiceNow business rule or a Jira workflow validator
// calls it: real store, real default policy, real connector mappings; only the
// clock and the time of the last successful sync are set by the test.

import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validationInstances } from '../../src/app/validation-instances.ts';
import type { ValidationAnswer } from '../../src/assess/transition-validation.ts';
import { InstanceConfig } from '../../src/app/registry.ts';
import type { Change } from '../../src/domain/change.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildApproval, buildChange, changeNumber, sysId } from '../support/change-builder.ts';
import { registry } from '../../src/app/registry.ts';
import { ChangegateError } from '../../src/errors.ts';

const NOW = new Date('2026-03-06T10:00:00Z');
const MINUTE = 60_000;
const policy = loadPolicy();

const instanceConfigs = [
  { id: 'sn-prod', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' } },
  { id: 'sn-locked', system: 'servicenow', baseUrl: 'https://locked.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' }, failMode: 'closed', maxStaleness: '5m' },
  { id: 'jsm-cloud', system: 'jira', baseUrl: 'https://acme.atlassian.net', auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't' }, projects: ['ITSM'] },
].map((raw) => InstanceConfig.parse(raw));

const lastSync = new Map<string, Date | null>();
let app: FastifyInstance;
let store: SqliteChangeStore;

const change = (n: number, overrides: Partial<Change> = {}): Change => buildChange({ nativeId: sysId(n), key: changeNumber(n), ...overrides });

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  const sn = [
    // Ready for authorisation: every authorize gate passes.
    change(1),
    // Planned 23 hours ahead: inside the 48 h lead time of a normal change.
    change(2, { plannedStart: '2026-03-07T09:00:00Z', plannedEnd: '2026-03-07T10:00:00Z' }),
    // Same service and an overlapping window as change 4.
    change(3, { plannedStart: '2026-03-12T22:00:00Z', plannedEnd: '2026-03-13T01:00:00Z', state: 'scheduled' }),
    change(4, { plannedStart: '2026-03-12T23:00:00Z', plannedEnd: '2026-03-13T00:00:00Z' }),
    // Approved by the change manager: may be scheduled.
    change(5, { state: 'authorize', plannedStart: '2026-03-16T22:00:00Z', plannedEnd: '2026-03-16T23:00:00Z' }),
  ];
  await store.applyPage('sn-prod', 'changes', sn.map((c) => ({ kind: 'change', change: c })), null);
  await store.applyPage('sn-prod', 'approvals', [
    { kind: 'approval', changeNativeId: sysId(5), approval: buildApproval({ id: 'ap-5', state: 'approved', decidedAt: '2026-03-05T09:00:00Z', group: { id: 'g-cm', name: 'Change Management' } }) },
  ], null);
  const locked = change(1, { instance: 'sn-locked' });
  await store.applyPage('sn-locked', 'changes', [{ kind: 'change', change: locked }], null);
  const jira = buildChange({ system: 'jira', instance: 'jsm-cloud', nativeId: '10042', key: 'ITSM-42', nativeState: 'Planning', nativeStateLabel: 'Planning' });
  await store.applyPage('jsm-cloud', 'changes', [{ kind: 'change', change: jira }], null);

  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  app = buildServer({
    systems: registry.systems,
    store,
    engine: new SyncEngine({ store, logger, metrics }),
    metrics,
    logger,
    validate: { policy, instances: validationInstances(instanceConfigs, registry), lastSyncAt: (id) => lastSync.get(id) ?? null, clock: () => NOW },
  });
  await app.ready();
});

beforeEach(() => {
  for (const i of instanceConfigs) lastSync.set(i.id, new Date(NOW.getTime() - 2 * MINUTE));
});

afterAll(async () => {
  await app.close();
  await store.close();
});

async function validate(body: Record<string, unknown>): Promise<{ status: number; json: ValidationAnswer & { error?: { code: string; message: string; details: Record<string, unknown> } } }> {
  const response = await app.inject({ method: 'POST', url: '/v1/validate', payload: body });
  return { status: response.statusCode, json: response.json() };
}

const postRaw = (payload: string, type = 'application/json') => app.inject({ method: 'POST', url: '/v1/validate', headers: { 'content-type': type }, payload });

const sn = (key: string, from: string | number, to: string | number) => ({ system: 'servicenow', instance: 'sn-prod', key, from, to });

describe('POST /v1/validate: the policy decides', () => {
  it('allows a complete change into authorize and names the policy version and the change', async () => {
    const { status, json } = await validate(sn(changeNumber(1), 'assess', 'authorize'));
    expect(status).toBe(200);
    expect(json).toEqual({
      allow: true,
      reasons: [],
      conditions: [],
      policyVersion: policy.version,
      change: { id: `servicenow:sn-prod:${sysId(1)}`, key: changeNumber(1), revision: 3 },
      stale: false,
    });
    expect(json.policyVersion).toMatch(/^2026\.1\+[0-9a-f]{8}$/);
  });

  it('denies a change planned inside the lead time, saying which gate and why', async () => {
    const { status, json } = await validate(sn(changeNumber(2), 'assess', 'authorize'));
    expect(status).toBe(200);
    expect(json.allow).toBe(false);
    expect(json.reasons).toHaveLength(1);
    expect(json.reasons[0]).toMatch(/authorize\.lead-time/);
    expect(json.reasons[0]).toMatch(/23 h away; normal changes need 48 h lead time/);
  });

  it('denies a change whose window overlaps another active change on the same service, naming it', async () => {
    const { json } = await validate(sn(changeNumber(4), 'assess', 'authorize'));
    expect(json.allow).toBe(false);
    expect(json.reasons.join('\n')).toMatch(new RegExp(`${changeNumber(3)}.*authorize\\.no-overlap`));
  });

  it('judges the transition from the state the caller names, not the mirrored one', async () => {
    // Mirrored in assess; the business rule says the ticket is in Authorize: the scheduled gates apply.
    const unapproved = await validate(sn(changeNumber(1), 'authorize', 'scheduled'));
    expect(unapproved.json.allow).toBe(false);
    expect(unapproved.json.reasons.join('\n')).toMatch(/change manager approval.*scheduled\.approvals/);
    const approved = await validate(sn(changeNumber(5), 'authorize', 'scheduled'));
    expect(approved.json).toMatchObject({ allow: true, reasons: [] });
  });

  it('refuses a move the lifecycle does not have, offering the allowed ones', async () => {
    const { json } = await validate(sn(changeNumber(1), 'new', 'implement'));
    expect(json.allow).toBe(false);
    expect(json.reasons).toEqual(['new → implement is not a transition of the normal change lifecycle; allowed next: assess, canceled']);
  });

  it('accepts the native state values of the instance mapping, as text or number', async () => {
    const text = await validate(sn(changeNumber(2), '-4', '-3'));
    const numbers = await validate(sn(changeNumber(2), -4, -3));
    const canonical = await validate(sn(changeNumber(2), 'assess', 'authorize'));
    expect(text.json).toEqual(canonical.json);
    expect(numbers.json).toEqual(canonical.json);

    const jira = await validate({ system: 'jira', instance: 'jsm-cloud', key: 'ITSM-42', from: 'Planning', to: 'awaiting cab approval' });
    expect(jira.status).toBe(200);
    expect(jira.json).toMatchObject({ allow: true, change: { key: 'ITSM-42' } });
  });

  it('accepts the labels people see: ServiceNow\'s out-of-box state labels and the Jira site\'s status names', async () => {
    const labels = await validate(sn(changeNumber(2), 'Assess', 'Authorize'));
    const canonical = await validate(sn(changeNumber(2), 'assess', 'authorize'));
    expect(labels.status).toBe(200);
    expect(labels.json).toEqual(canonical.json);
    const jira = await validate({ system: 'jira', instance: 'jsm-cloud', key: 'ITSM-42', from: 'Planning', to: 'Awaiting implementation' });
    expect(jira.status).toBe(200);
    expect(jira.json.allow).toBe(false);
  });

  it('lists everything the instance accepts, in full, for a state it does not know', async () => {
    const { status, json } = await validate(sn(changeNumber(2), 'assess', 'Deployed'));
    expect(status).toBe(400);
    expect(json.error?.message).toBe(
      'body to: "Deployed" is not a state sn-prod knows; accepted are the canonical states: new, assess, authorize, scheduled, implement, review, closed, canceled, failed; ' +
        'native states of sn-prod: "-5" (new), "New" (new), "-4" (assess), "Assess" (assess), "-3" (authorize), "Authorize" (authorize), "-2" (scheduled), "Scheduled" (scheduled), ' +
        '"-1" (implement), "Implement" (implement), "0" (review), "Review" (review), "3" (closed), "Closed" (closed), "4" (canceled), "Canceled" (canceled)',
    );
  });

  it('allows a move between two native states that share a canonical state', async () => {
    const { json } = await validate({ system: 'jira', instance: 'jsm-cloud', key: 'ITSM-42', from: 'Planning', to: 'assess' });
    expect(json).toMatchObject({ allow: true, reasons: ['from and to are both assess: not a lifecycle transition, nothing to check'] });
  });
});

describe('POST /v1/validate: the fail mode decides', () => {
  it('fails open on a stale mirror: allowed, marked stale, and the reason says why', async () => {
    lastSync.set('sn-prod', new Date(NOW.getTime() - 20 * MINUTE));
    const { status, json } = await validate(sn(changeNumber(2), 'assess', 'authorize'));
    expect(status).toBe(200);
    expect(json).toMatchObject({ allow: true, stale: true, failMode: 'open', change: { key: changeNumber(2) } });
    expect(json.reasons).toEqual([
      'the mirror of sn-prod was last synced at 2026-03-06T09:40:00.000Z (20m ago, more than the 15m allowed); allowed because sn-prod fails open',
    ]);
  });

  it('fails closed on a stale mirror, and on one that has not synced since start-up', async () => {
    lastSync.set('sn-locked', new Date(NOW.getTime() - 6 * MINUTE));
    const body = { system: 'servicenow', instance: 'sn-locked', key: changeNumber(1), from: 'assess', to: 'authorize' };
    const stale = await validate(body);
    expect(stale.json).toMatchObject({ allow: false, stale: true, failMode: 'closed' });
    expect(stale.json.reasons[0]).toMatch(/6m ago, more than the 5m allowed\); denied because sn-locked fails closed$/);

    lastSync.set('sn-locked', null);
    const never = await validate(body);
    expect(never.json).toMatchObject({ allow: false, stale: true, failMode: 'closed' });
    expect(never.json.reasons[0]).toMatch(/has not completed a sync since changegate started; denied/);

    // The same change on a fresh mirror is judged by the policy.
    lastSync.set('sn-locked', new Date(NOW.getTime() - MINUTE));
    expect((await validate(body)).json).toEqual(expect.objectContaining({ allow: true, stale: false }));
    expect((await validate(body)).json).not.toHaveProperty('failMode');
  });

  it('answers by the fail mode, not a 503, when the store fails after the change was read', async () => {
    // The change reads fine; the neighbour lookup of the overlap gate meets a corrupt page.
    const listNeighbours = store.listNeighbours.bind(store);
    store.listNeighbours = () => Promise.reject(new ChangegateError('CG_STORE_UNAVAILABLE', 'database disk image is malformed', { details: { reason: 'corrupt' } }));
    try {
      const open = await validate(sn(changeNumber(4), 'assess', 'authorize'));
      expect(open.status).toBe(200);
      expect(open.json).toMatchObject({ allow: true, stale: true, failMode: 'open', change: { key: changeNumber(4) } });
      expect(open.json.reasons).toEqual(['the store file is corrupt, so the mirror of sn-prod cannot be trusted; allowed because sn-prod fails open']);
      const closed = await validate({ system: 'servicenow', instance: 'sn-locked', key: changeNumber(1), from: 'assess', to: 'authorize' });
      expect(closed.status).toBe(200);
      expect(closed.json).toMatchObject({ allow: false, failMode: 'closed' });
      expect(closed.json.reasons[0]).toMatch(/^the store file is corrupt, so the mirror of sn-locked cannot be trusted; denied because sn-locked fails closed$/);
    } finally {
      store.listNeighbours = listNeighbours;
    }
  });

  it('answers for a change the mirror lacks by the fail mode, open or closed', async () => {
    const open = await validate(sn('CHG0099999', 'assess', 'authorize'));
    expect(open.status).toBe(200);
    expect(open.json).toEqual({
      allow: true,
      reasons: ['CHG0099999 is not in the mirror of sn-prod; allowed because sn-prod fails open'],
      conditions: [],
      policyVersion: policy.version,
      change: null,
      stale: false,
      failMode: 'open',
    });
    const closed = await validate({ system: 'servicenow', instance: 'sn-locked', key: 'CHG0099999', from: 'assess', to: 'authorize' });
    expect(closed.json).toMatchObject({ allow: false, change: null, failMode: 'closed' });
  });

  it('counts every decision by instance, decision and what decided it', async () => {
    lastSync.set('sn-prod', new Date(NOW.getTime() - 20 * MINUTE));
    await validate(sn(changeNumber(1), 'assess', 'authorize'));
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/changegate_validations_total\{instance="sn-prod",decision="allow",reason="stale"\} [1-9]/);
    expect(metrics).toMatch(/changegate_validations_total\{instance="sn-prod",decision="deny",reason="policy"\} [1-9]/);
    expect(metrics).toMatch(/changegate_validations_total\{instance="sn-locked",decision="deny",reason="not_mirrored"\} [1-9]/);
  });
});

describe('POST /v1/validate: malformed requests', () => {
  it.each([
    [{ system: 'servicenow', instance: 'sn-prod', key: changeNumber(1), from: 'assess' }, 'to'],
    [{ system: 'remedy', instance: 'sn-prod', key: changeNumber(1), from: 'assess', to: 'authorize' }, 'system'],
    [{ system: 'servicenow', instance: 'sn-prod', key: '', from: 'assess', to: 'authorize' }, 'key'],
    [{ system: 'servicenow', instance: 'sn-prod', key: changeNumber(1), from: '-9', to: 'authorize' }, 'from'],
    [{ system: 'servicenow', instance: 'sn-prod', key: changeNumber(1), from: 'assess', to: 'Implementing' }, 'to'],
    [{ system: 'jira', instance: 'sn-prod', key: changeNumber(1), from: 'assess', to: 'authorize' }, 'system'],
  ])('answers 400 naming the field (%#)', async (body, field) => {
    const { status, json } = await validate(body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field } });
    expect(json.error?.message).toContain(field);
  });

  it('answers 404 naming the field for an instance changegate does not know', async () => {
    const { status, json } = await validate({ system: 'servicenow', instance: 'sn-nowhere', key: changeNumber(1), from: 'assess', to: 'authorize' });
    expect(status).toBe(404);
    expect(json.error).toMatchObject({ code: 'CG_INSTANCE_UNKNOWN', details: { field: 'instance' } });
    expect(json.error?.message).toContain('sn-prod, sn-locked, jsm-cloud');
  });

  it('answers a JSON body that is not an object 400 saying so once ("body: …", not "body body: …")', async () => {
    for (const [payload, received] of [['[]', 'array'], ['"x"', 'string'], ['7', 'number']] as const) {
      const response = await postRaw(payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({ code: 'CG_INPUT_INVALID', message: `body: Invalid input: expected object, received ${received}`, details: { field: 'body', where: 'body' } });
    }
  });

  it('answers JSON labelled text/plain (fetch\'s default for a string body) 415 naming the content type, as the OpenAPI document says', async () => {
    const response = await postRaw(JSON.stringify(sn(changeNumber(1), 'assess', 'authorize')), 'text/plain;charset=UTF-8');
    expect(response.statusCode).toBe(415);
    expect(response.json().error).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field: 'content-type', where: 'headers' } });
    expect(response.json().error.message).toBe('headers content-type: "text/plain;charset=UTF-8" is not taken here; send application/json');
  });

  it('answers a body that is not JSON, empty, too large or of another type 400, 413 or 415, naming the body or the header', async () => {
    const body = { field: 'body', where: 'body' };
    const cases = [
      [await postRaw('{"system":'), 400, body, /^body: not valid JSON/],
      [await postRaw(''), 400, body, /^body: empty/],
      [await postRaw(JSON.stringify({ ...sn(changeNumber(1), 'assess', 'authorize'), pad: 'x'.repeat(1_100_000) })), 413, body, /^body: larger than 1048576 bytes/],
      [await postRaw('<validate/>', 'application/xml'), 415, { field: 'content-type', where: 'headers' }, /^headers content-type: "application\/xml" is not taken here; send application\/json/],
    ] as const;
    expect(cases.map(([r]) => [r.statusCode, r.json().error.code, r.json().error.details])).toEqual(cases.map(([, status, details]) => [status, 'CG_INPUT_INVALID', expect.objectContaining(details)]));
    for (const [r, , , message] of cases) expect(r.json().error.message).toMatch(message);
  });
});
