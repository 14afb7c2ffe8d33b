// The outbox worker and the ServiceNow writer against the ServiceNow simulator
// (in-process msw): the verdict fields the update set's business rule reads,
// the work-note marker check, state moves that are superseded, already done or
// refused, and items parked for good while the rest of the queue carries on.

import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TicketNote, TicketVerdict } from '../../src/kit/connector.ts';
import { createServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { createServiceNowWriter, VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { ServiceNowSimulator, type CustomField } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS as UPDATE_SET_FIELDS } from '../../connectors/servicenow/plugin/update-set-records.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { NewOutboxItem } from '../../src/store/outbox-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';

const BASE = 'https://acme.service-now.com';
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const mapping = loadServiceNowMapping();
const logger = createLogger({ level: 'silent' });
/** The body a before business rule's setAbortAction(true) answers (reference §1.6), for change_request. */
const ABORT = JSON.parse(
  readFileSync(new URL('../fixtures/servicenow/error_business_rule_abort_table_api.json', import.meta.url), 'utf8').replace('x_xxxxxxxxx', 'change_request').replaceAll('Email Address Syntax Validate', 'Freeze Changes During Audit'),
) as Record<string, unknown>;
const note = (title: string): TicketNote => ({ title, tone: 'info', lines: [`${title}.`] });

function outboxItem(sysId: string, key: string, payload: NewOutboxItem['payload'], instanceId = 'sn'): NewOutboxItem {
  return {
    instance: instanceId,
    changeId: `servicenow:sn:${sysId}`,
    nativeId: sysId,
    source: payload.action === 'transition' ? 'enforcement' : 'assessment',
    idempotencyKey: key,
    payload,
  };
}

/** change_request as the update set leaves it: the verdict fields at their column lengths. */
const WITH_UPDATE_SET: CustomField[] = UPDATE_SET_FIELDS.map((f) => ({ name: f.element, maxLength: Number(f.maxLength) }));

function world(workNotes?: 'text' | 'html', customFields: CustomField[] = WITH_UPDATE_SET, writerLogger?: Logger) {
  let now = new Date('2026-04-06T08:00:00Z');
  const sim = new ServiceNowSimulator({ baseUrl: BASE, clock: () => now, timeZone: 'UTC', customFields });
  server.resetHandlers(...sim.handlers());
  const instance = ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0, ...(workNotes ? { workNotes } : {}) });
  const client = createServiceNowClient(instance, { logger, retry: { baseMs: 1, maxMs: 2 } });
  const writer = createServiceNowWriter({ client, mapping, workNotes: instance.workNotes, ...(writerLogger === undefined ? {} : { logger: writerLogger }) });
  const outbox = SqliteOutboxStore.open(':memory:');
  const metrics = createMetrics({ defaultMetrics: false });
  const worker = new OutboxWorker({ outbox, writerFor: (id) => (id === 'sn' ? writer : undefined), logger, metrics, clock: () => now });
  /** How the outbox recorded an item's end: what enforcement reads to settle a revert. */
  const settlement = async (key: string) => {
    const item = await outbox.get(key);
    return [key, item?.status, item?.result ?? null];
  };
  const change = (fields: Record<string, unknown> = {}) => sim.createChange({ short_description: 'Patch the payments DB', type: 'normal', ...fields }).sys_id as string;
  const notes = (sysId: string) => sim.journalFor(sysId).filter((r) => r.element === 'work_notes').map((r) => String(r.value));
  const advance = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };
  return { sim, writer, outbox, worker, metrics, settlement, change, item: outboxItem, notes, advance, now: () => now };
}

/** A verdict of a change in Assess: back to New allowed, Authorize blocked. */
const blockedVerdict = (policyVersion = '2026.1+3f9a2c1b'): TicketVerdict => ({
  verdict: 'blocked',
  state: 'assess',
  transitions: [
    { to: 'new', toName: 'New', gates: [], allowed: true, reasons: [] },
    { to: 'authorize', toName: 'Authorize', gates: ['authorize.plans'], allowed: false, reasons: ['backout plan is empty (authorize.plans)'] },
  ],
  reasons: [],
  breaches: [],
  policyVersion,
  assessedAt: '2026-04-06T08:00:00.000Z',
});

describe('ServiceNow write-back through the outbox', () => {
  it('writes the verdict fields the business rule reads: native states allowed next and why the others are not', async () => {
    const w = world();
    const sysId = w.change({ state: '-4' });
    const verdict: TicketVerdict = {
      verdict: 'blocked',
      state: 'assess',
      transitions: [
        { to: 'new', toName: 'New', gates: [], allowed: true, reasons: [] },
        { to: 'authorize', toName: 'Authorize', gates: ['authorize.plans', 'authorize.schedule'], allowed: false, reasons: ['backout plan is empty (authorize.plans)', 'planned start is not set (authorize.schedule)'] },
        { to: 'canceled', toName: 'Canceled', gates: [], allowed: true, reasons: [] },
      ],
      reasons: ['before Authorize: backout plan is empty (authorize.plans)'],
      breaches: [],
      policyVersion: '2026.1+3f9a2c1b',
      assessedAt: '2026-04-06T08:00:00.000Z',
    };
    await w.outbox.enqueue([w.item(sysId, 'v1', { action: 'set-verdict', verdict })], w.now());
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    const row = w.sim.getChange(sysId) ?? {};
    expect({
      verdict: row.u_changegate_verdict,
      allowed: row.u_changegate_allowed,
      reasons: row.u_changegate_reasons,
      policy: row.u_changegate_policy_version,
      at: row.u_changegate_assessed_at,
    }).toEqual({
      verdict: 'blocked',
      allowed: '-5,4',
      reasons: '-3 (Authorize): backout plan is empty (authorize.plans); planned start is not set (authorize.schedule)',
      policy: '2026.1+3f9a2c1b',
      at: '2026-04-06 08:00:00',
    });
  });

  it('parks a verdict on an instance without the update set, naming the fields ServiceNow ignored, instead of counting it written', async () => {
    // No u_changegate_* columns: the Table API ignores unknown fields and answers 200.
    const w = world(undefined, []);
    const sysId = w.change({ state: '-4' });
    await w.outbox.enqueue([w.item(sysId, 'v1', { action: 'set-verdict', verdict: blockedVerdict() })], w.now());
    expect(await w.worker.drain()).toMatchObject({ written: 0, failed: 1, retried: 0 });
    const parked = await w.outbox.get('v1');
    expect(parked).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    const message = parked?.lastError?.message ?? '';
    // The verdict's own fields; the one a later update set added is no reason to refuse (below).
    for (const field of Object.values(VERDICT_FIELDS).filter((f) => f !== VERDICT_FIELDS.allowedWithReason)) expect(message).toContain(field);
    expect(message).toContain('update set');
    const counted = (await w.metrics.outboxItems.get()).values.map((v) => [v.labels.action, v.labels.outcome, v.value]);
    expect(counted).toContainEqual(['set-verdict', 'failed', 1]);
  });

  it('writes verdicts on an instance still on the earlier update set (no u_changegate_allowed_with_reason), warning once that it lacks the field', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    const w = world(undefined, WITH_UPDATE_SET.filter((f) => (typeof f === 'string' ? f : f.name) !== VERDICT_FIELDS.allowedWithReason), createLogger({ level: 'warn', destination: sink }));
    const sysId = w.change({ state: '-4' });
    for (const [key, version] of [['v1', '2026.1+3f9a2c1b'], ['v2', '2026.2+77aa00bb']] as const) {
      await w.outbox.enqueue([w.item(sysId, key, { action: 'set-verdict', verdict: blockedVerdict(version) })], w.now());
      expect(await w.worker.drain()).toMatchObject({ written: 1, failed: 0 });
    }
    expect(w.sim.getChange(sysId)).toMatchObject({ u_changegate_verdict: 'blocked', u_changegate_policy_version: '2026.2+77aa00bb' });
    const warnings = lines.filter((l) => l.includes(VERDICT_FIELDS.allowedWithReason));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('install the current update set');
  });

  it('parks a verdict whose fields a write ACL keeps the API user from writing, naming only those, after a first verdict went in', async () => {
    const w = world();
    const sysId = w.change({ state: '-4' });
    await w.outbox.enqueue([w.item(sysId, 'v1', { action: 'set-verdict', verdict: blockedVerdict() })], w.now());
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    // The next verdict allows Authorize and blocks nothing; a field ACL now denies the user write on two of the fields.
    w.sim.writeDenied = (field) => field === VERDICT_FIELDS.allowed || field === VERDICT_FIELDS.reasons;
    const next: TicketVerdict = { ...blockedVerdict('2026.2+77aa00bb'), verdict: 'allowed', transitions: [{ to: 'authorize', toName: 'Authorize', gates: [], allowed: true, reasons: [] }] };
    await w.outbox.enqueue([w.item(sysId, 'v2', { action: 'set-verdict', verdict: next })], w.now());
    expect(await w.worker.drain()).toMatchObject({ written: 0, failed: 1 });
    const message = (await w.outbox.get('v2'))?.lastError?.message ?? '';
    expect(await w.outbox.get('v2')).toMatchObject({ status: 'failed', lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    expect(message).toContain(`${VERDICT_FIELDS.allowed}, ${VERDICT_FIELDS.reasons}`);
    for (const taken of [VERDICT_FIELDS.verdict, VERDICT_FIELDS.policyVersion, VERDICT_FIELDS.assessedAt, VERDICT_FIELDS.allowedWithReason]) expect(message).not.toContain(taken);
    expect(w.sim.getChange(sysId)).toMatchObject({ u_changegate_verdict: 'allowed', u_changegate_allowed: '-5' });
  });

  it('counts a verdict written when ServiceNow cut a policy version longer than its column, as it does', async () => {
    const w = world();
    const sysId = w.change({ state: '-4' });
    const long = `2026.1-${'release-train-'.repeat(10)}+3f9a2c1b`;
    await w.outbox.enqueue([w.item(sysId, 'v1', { action: 'set-verdict', verdict: blockedVerdict(long) })], w.now());
    expect(await w.worker.drain()).toMatchObject({ written: 1, failed: 0 });
    expect(w.sim.getChange(sysId)?.u_changegate_policy_version).toBe(long.slice(0, 100));
  });

  it('shortens verdict reasons past the field length without cutting a character outside the BMP in half', async () => {
    const w = world();
    const sysId = w.change({ state: '-4' });
    // The field's last kept place falls between the two UTF-16 halves of the rocket.
    const reason = `${'x'.repeat(4000 - 2 - '-3 (Authorize): '.length)}🚀 and more`;
    const verdict: TicketVerdict = {
      verdict: 'blocked',
      state: 'assess',
      transitions: [{ to: 'authorize', toName: 'Authorize', gates: ['authorize.plans'], allowed: false, reasons: [reason] }],
      reasons: [],
      breaches: [],
      policyVersion: '2026.1+3f9a2c1b',
      assessedAt: '2026-04-06T08:00:00.000Z',
    };
    await w.outbox.enqueue([w.item(sysId, 'v1', { action: 'set-verdict', verdict })], w.now());
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    const reasons = String(w.sim.getChange(sysId)?.u_changegate_reasons);
    expect(reasons.length).toBeLessThanOrEqual(4000);
    expect(reasons.isWellFormed()).toBe(true);
    expect(reasons.endsWith('xx…')).toBe(true);
  });

  it('posts a note once when its worker died after posting: the next attempt finds the same marker on the ticket', async () => {
    const w = world();
    const sysId = w.change();
    const dead = { id: 'dead-epoch', host: 'h', pid: 1, startedAt: w.now().toISOString() };
    await w.outbox.enqueue([w.item(sysId, 'explain-1', { action: 'comment', note: note('Moved back to Scheduled') })], w.now());
    // The first worker posts the note, then dies before it can record that it did.
    const dying = new OutboxWorker({
      outbox: Object.assign(Object.create(null) as typeof w.outbox, {
        claim: (limit: number, now: Date, lease?: number) => w.outbox.claim(limit, now, lease, dead),
        complete: () => Promise.reject(new Error('SIGKILL')),
      }),
      writerFor: () => w.writer,
      logger,
      metrics: w.metrics,
      clock: () => w.now(),
    });
    await dying.drain().catch(() => undefined);
    expect(w.notes(sysId)).toHaveLength(1);

    // The next process releases what the dead one held; its second attempt must not post again.
    expect(await w.outbox.releaseClaims(dead.id, w.now())).toBe(1);
    expect(await w.worker.drain()).toMatchObject({ claimed: 1, alreadyDone: 1, written: 0 });
    expect(await w.outbox.get('explain-1')).toMatchObject({ status: 'done', result: 'already-done', attempts: 2 });
    expect(w.notes(sysId)).toHaveLength(1);
  });

  it('writes work notes as HTML inside [code] on an instance set to workNotes: html, once, the marker plain on the last line', async () => {
    const w = world('html');
    const sysId = w.change();
    const series = { name: 'verdict', digest: '0123456789abcdef' };
    const html: TicketNote = { title: 'Blocked <before> Authorize', tone: 'warning', lines: ['Run `changegate check CHG1`.'], table: { columns: ['gate', 'result'], rows: [['authorize.plans', 'fail']] } };
    expect(await w.writer.comment(sysId, html, 'k-h', { series })).toBe('written');
    expect(await w.writer.comment(sysId, html, 'k-h', { series })).toBe('already-done');
    // Another key, the same series digest: the newest note of the series already says it.
    expect(await w.writer.comment(sysId, html, 'k-h2', { series })).toBe('already-done');
    expect(w.notes(sysId)).toEqual([
      '[code]<h3 style="color:#7d4e00">changegate: Blocked &lt;before&gt; Authorize</h3>\n<p>Run <code>changegate check CHG1</code>.</p>\n' +
        '<table border="1" cellpadding="4" style="border-collapse:collapse">\n<tr><th style="text-align:left">gate</th><th style="text-align:left">result</th></tr>\n<tr><td>authorize.plans</td><td>fail</td></tr>\n</table>[/code]\n\n' +
        '[changegate:k-h] [changegate-series:verdict:0123456789abcdef]',
    ]);
  });

  it('writes plain-text work notes unless the instance says html, and refuses another value naming the field', () => {
    expect(ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'a', password: 'b' } }).workNotes).toBe('text');
    const refused = ServiceNowInstance.safeParse({ id: 'sn', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'a', password: 'b' }, workNotes: 'markdown' });
    expect(refused.error?.issues.map((i) => i.path.join('.'))).toEqual(['workNotes']);
  });

  it('posts a work note once, finding its marker on a second attempt', async () => {
    const w = world();
    const sysId = w.change();
    expect(await w.writer.comment(sysId, note('Ready for Assess'), 'k-1')).toBe('written');
    expect(await w.writer.comment(sysId, note('Ready for Assess'), 'k-1')).toBe('already-done');
    expect(await w.writer.comment(sysId, note('Blocked before Authorize'), 'k-2')).toBe('written');
    expect(w.notes(sysId)).toEqual([
      'changegate: Ready for Assess\nReady for Assess.\n\n[changegate:k-1]',
      'changegate: Blocked before Authorize\nBlocked before Authorize.\n\n[changegate:k-2]',
    ]);
    // The check is one journal query for the marker, not a read of every note.
    const lookups = w.sim.requests.filter((r) => r.path.includes('sys_journal_field'));
    expect(lookups.map((r) => r.query['sysparm_query'])).toEqual([
      `element_id=${sysId}^element=work_notes^valueLIKE[changegate:k-1]`,
      `element_id=${sysId}^element=work_notes^valueLIKE[changegate:k-1]`,
      `element_id=${sysId}^element=work_notes^valueLIKE[changegate:k-2]`,
    ]);
  });

  it('moves a change back only while it is where it was judged, and posts the explanation after the move', async () => {
    const w = world();
    const moved = w.change({ state: '-4' });
    const movedOn = w.change({ state: '-4' });
    const back = w.change({ state: '-5' });
    const revert = (sysId: string, key: string): NewOutboxItem =>
      w.item(sysId, key, { action: 'transition', toNativeState: '-5', expectedNativeState: '-4', noteAfter: note('Moved back to New'), noteIfRefused: note('Could not move back') });
    w.sim.updateChange(movedOn, { state: '-3' });
    await w.outbox.enqueue([revert(moved, 'r1'), revert(movedOn, 'r2'), revert(back, 'r3')], w.now());
    const report = await w.worker.drain();
    // Two explanations follow (r1 moved now, r3 found already moved); r2's ticket had moved on.
    expect(report).toMatchObject({ written: 3, superseded: 1, alreadyDone: 1 });
    expect([moved, movedOn, back].map((id) => w.sim.getChange(id)?.state)).toEqual(['-5', '-3', '-5']);
    expect(w.notes(moved)).toEqual(['changegate: Moved back to New\nMoved back to New.\n\n[changegate:r1:note]']);
    expect(w.notes(movedOn)).toEqual([]);
    // Already there (a crash after the move): the explanation still follows, once.
    expect(w.notes(back)).toEqual(['changegate: Moved back to New\nMoved back to New.\n\n[changegate:r3:note]']);
    expect(await Promise.all(['r1', 'r2', 'r3'].map(w.settlement))).toEqual([
      ['r1', 'done', 'written'],
      ['r2', 'done', 'superseded'],
      ['r3', 'done', 'already-done'],
    ]);
  });

  it('parks a move the state model refuses, posts the refusal with what ServiceNow said, and carries on with the queue', async () => {
    const w = world();
    const sysId = w.change({ state: '-1' });
    await w.outbox.enqueue(
      [
        w.item(sysId, 'r1', { action: 'transition', toNativeState: '-2', expectedNativeState: '-1', noteIfRefused: note('Could not move back to Scheduled') }),
        w.item(sysId, 'c1', { action: 'comment', note: note('Readiness') }),
      ],
      w.now(),
    );
    expect(await w.worker.drain()).toMatchObject({ failed: 1, written: 2 });
    expect(w.sim.getChange(sysId)?.state).toBe('-1');
    const parked = await w.outbox.get('r1');
    expect(parked).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    const [readiness, refusal] = w.notes(sysId);
    expect(refusal).toContain('changegate: Could not move back to Scheduled');
    expect(refusal).toContain("The ticket system said: ServiceNow refused to move the change from state -1 to -2: Operation against file 'change_request' was aborted by Business Rule 'Change Model: Check State Transition");
    expect(readiness).toContain('changegate: Readiness');
    expect(parked?.lastError?.message).toContain('Change Model: Check State Transition');
    const counted = (await w.metrics.outboxItems.get()).values.map((v) => [v.labels.action, v.labels.outcome, v.value]);
    expect(counted).toContainEqual(['transition', 'failed', 1]);
  });

  it('parks a move back a write ACL on state kept from taking, and posts the refusal instead of saying the change moved', async () => {
    const w = world();
    const sysId = w.change({ state: '-4' });
    // A field ACL denies the API user write on state: the Table API answers 200 and the change stays where it is.
    w.sim.writeDenied = (field) => field === 'state';
    await w.outbox.enqueue(
      [w.item(sysId, 'r1', { action: 'transition', toNativeState: '-5', expectedNativeState: '-4', noteAfter: note('Moved back to New'), noteIfRefused: note('Could not move back to New') })],
      w.now(),
    );
    expect(await w.worker.drain()).toMatchObject({ failed: 1, written: 1 });
    expect(w.sim.getChange(sysId)?.state).toBe('-4');
    expect(await w.outbox.get('r1')).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    expect((await w.outbox.get('r1'))?.lastError?.message).toContain('state');
    const [refusal, ...rest] = w.notes(sysId);
    expect(rest).toEqual([]);
    expect(refusal).toContain('changegate: Could not move back to New');
  });

  it('parks a write a business rule aborted when the instance answers the abort with 200, and posts the refusal naming the rule', async () => {
    const w = world();
    const sysId = w.change({ state: '-1' });
    // The abort's status is documented as 403 but not confirmed (reference §1.6): this instance answers it with 200.
    server.use(
      http.patch(`${BASE}/api/now/table/change_request/:sysId`, async ({ request }) => {
        const fields = (await request.clone().json()) as Record<string, unknown>;
        return 'state' in fields || String(fields['work_notes']).includes('[changegate:c1]') ? HttpResponse.json(ABORT) : undefined;
      }),
    );
    await w.outbox.enqueue(
      [
        w.item(sysId, 'r1', { action: 'transition', toNativeState: '-2', expectedNativeState: '-1', noteIfRefused: note('Could not move back to Scheduled') }),
        w.item(sysId, 'c1', { action: 'comment', note: note('Readiness') }),
      ],
      w.now(),
    );
    expect(await w.worker.drain()).toMatchObject({ failed: 2, retried: 0, written: 1 });
    expect(await w.outbox.get('r1')).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    expect(await w.outbox.get('c1')).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'CG_SN_FORBIDDEN', kind: 'config' } });
    expect((await w.outbox.get('c1'))?.lastError?.message).toContain("aborted by Business Rule 'Freeze Changes During Audit");
    expect(w.sim.getChange(sysId)?.state).toBe('-1');
    const [refusal] = w.notes(sysId);
    expect(refusal).toContain('changegate: Could not move back to Scheduled');
    expect(refusal).toContain("The ticket system said: ServiceNow refused to move the change from state -1 to -2: Operation against file 'change_request' was aborted by Business Rule 'Freeze Changes During Audit");
  });

  it('retries a change that went away no more, and gives up on an instance no longer configured', async () => {
    const w = world();
    const sysId = w.change();
    await w.outbox.enqueue([w.item('0123456789abcdef0123456789abcdef', 'gone', { action: 'comment', note: note('x') }), w.item(sysId, 'orphan', { action: 'comment', note: note('y') }, 'sn-old')], w.now());
    expect(await w.worker.drain()).toMatchObject({ failed: 2 });
    expect(await w.outbox.get('gone')).toMatchObject({ status: 'failed', lastError: { code: 'CG_NOT_FOUND', kind: 'input' } });
    expect(await w.outbox.get('orphan')).toMatchObject({ status: 'failed', lastError: { code: 'CG_INSTANCE_UNKNOWN' } });
  });

  it('tries a throttled write again no sooner than ServiceNow asked, then posts it once', async () => {
    const w = world();
    const sysId = w.change();
    // The instance's rate-limit rule answers the work note's PATCH with 429 and Retry-After: 300.
    w.sim.faults.next({ kind: 'status', status: 429, retryAfterSec: 300 }, { path: '/change_request' });
    await w.outbox.enqueue([w.item(sysId, 'k', { action: 'comment', note: note('Verdict') })], w.now());
    expect(await w.worker.drain()).toMatchObject({ retried: 1, failed: 0 });
    expect(await w.outbox.get('k')).toMatchObject({ status: 'pending', nextAttemptAt: '2026-04-06T08:05:00.000Z', lastError: { code: 'CG_UPSTREAM_UNAVAILABLE' } });
    w.advance(299_000);
    expect(await w.worker.drain()).toMatchObject({ claimed: 0 });
    w.advance(1000);
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    expect(w.notes(sysId)).toHaveLength(1);
  });

  it('backs off on a transient failure and gives up after the attempts the policy allows', async () => {
    const w = world();
    const sysId = w.change();
    w.sim.faults.times(20, { kind: 'status', status: 503 }, { path: '/sys_journal_field' });
    await w.outbox.enqueue([w.item(sysId, 'k', { action: 'comment', note: note('x') })], w.now());
    const worker = new OutboxWorker({ outbox: w.outbox, writerFor: () => w.writer, logger, metrics: w.metrics, clock: w.now, retry: { maxAttempts: 3, baseMs: 1, maxMs: 1 } });
    const reports = [];
    const due: string[] = [];
    for (let round = 0; round < 3; round++) {
      reports.push(await worker.drain());
      due.push((await w.outbox.get('k'))?.nextAttemptAt ?? '');
      w.advance(1000);
    }
    expect(reports.map((r) => [r.retried, r.failed])).toEqual([
      [1, 0],
      [1, 0],
      [0, 1],
    ]);
    // Never again within the same second.
    expect(due.slice(0, 2)).toEqual(['2026-04-06T08:00:01.000Z', '2026-04-06T08:00:02.000Z']);
    expect(await w.outbox.get('k')).toMatchObject({ status: 'failed', attempts: 3, lastError: { code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient' } });
    expect(w.notes(sysId)).toEqual([]);
  });
});
