import { readFileSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceNowSimulator, type Row } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';

const BASE = 'https://acme.service-now.com';
const AUTH = { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, accept: 'application/json' };

function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8')) as T;
}

type Json = Record<string, unknown>;
const server = setupServer();
let nowMs: number;
let sim: ServiceNowSimulator;

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  nowMs = Date.parse('2026-03-09T17:30:02Z');
  sim = new ServiceNowSimulator({ baseUrl: BASE, clock: () => new Date(nowMs) });
  server.resetHandlers(...sim.handlers());
});

async function get(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Json }> {
  const res = await fetch(`${BASE}${path}`, { ...init, headers: { ...AUTH, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Json) : {} };
}

async function send(method: string, path: string, body: unknown): Promise<{ status: number; headers: Headers; body: Json }> {
  return get(path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

function seedChange(): { change: Row; group: Row; user: Row } {
  const group = sim.insertRecord('sys_user_group', { name: 'Network' });
  const user = sim.insertRecord('sys_user', { user_name: 'bob.kowalski', name: 'Bob Kowalski' });
  const change = sim.createChange({
    short_description: 'Replace line card on core router',
    assignment_group: group.sys_id,
    assigned_to: user.sys_id,
    state: '-3',
    start_date: '2026-03-10 22:00:00',
    cab_date: '2026-03-09',
  });
  return { change, group, user };
}

const one = (body: Json): Json => body.result as Json;
const list = (body: Json): Json[] => body.result as Json[];

describe('ServiceNowSimulator: record shapes per sysparm_display_value × sysparm_exclude_reference_link', () => {
  it('value mode with excluded links has exactly the sample record’s fields, every value a string', async () => {
    const { change } = seedChange();
    const sample = fixture<{ result: Json[] }>('change_request_table_api_record.json').result[0] as Json;
    const rec = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_exclude_reference_link=true`)).body);
    expect(Object.keys(rec).toSorted()).toEqual(Object.keys(sample).toSorted());
    expect(Object.values(rec).every((v) => typeof v === 'string')).toBe(true);
    expect(rec).toMatchObject({ number: 'CHG0030001', state: '-3', sys_mod_count: '0', sys_updated_on: '2026-03-09 17:30:02', sys_class_name: 'change_request' });
  });

  it('value mode by default renders a set reference as {link, value} and an empty one as ""', async () => {
    const { change, group } = seedChange();
    const rec = one((await get(`/api/now/table/change_request/${change.sys_id}`)).body);
    expect(rec.assignment_group).toEqual({ link: `${BASE}/api/now/table/sys_user_group/${group.sys_id}`, value: group.sys_id });
    expect(rec.cmdb_ci).toBe('');
    expect(rec.sys_domain).toEqual({ link: `${BASE}/api/now/table/sys_user_group/global`, value: 'global' });
  });

  it('display_value=true gives labels, names and local times; links unless excluded', async () => {
    const { change, group } = seedChange();
    const withLinks = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_display_value=true`)).body);
    expect(withLinks.assignment_group).toEqual({ display_value: 'Network', link: `${BASE}/api/now/table/sys_user_group/${group.sys_id}` });
    expect(withLinks).toMatchObject({ state: 'Authorize', type: 'Normal', risk: 'Moderate', start_date: '2026-03-10 15:00:00', cab_date: '2026-03-09' });
    const bare = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_display_value=true&sysparm_exclude_reference_link=true`)).body);
    expect(bare.assignment_group).toBe('Network');
    expect(bare.assigned_to).toBe('Bob Kowalski');
  });

  it('display_value=all renders every field as {display_value, value} strings, like the constructed connector fixture', async () => {
    const { change, group } = seedChange();
    const rec = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_display_value=all&sysparm_exclude_reference_link=true`)).body);
    const shaped = fixture<{ result: Json[] }>('CONSTRUCTED-change_request_table_api_display_value_all.json').result[0] as Json;
    const shapeOf = (v: unknown) => Object.keys(v as Json).toSorted().join(',');
    const shapes = Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, shapeOf(v)]));
    expect(new Set(Object.values(shapes))).toEqual(new Set(['display_value,value']));
    expect(Object.entries(rec).filter(([, v]) => typeof (v as Json).value !== 'string' || typeof (v as Json).display_value !== 'string')).toEqual([]);
    const common = Object.keys(shaped).filter((k) => k in rec);
    expect(common.length).toBeGreaterThan(40);
    expect(Object.fromEntries(common.map((k) => [k, shapes[k]]))).toEqual(Object.fromEntries(common.map((k) => [k, shapeOf(shaped[k])])));
    expect(rec.assignment_group).toEqual({ display_value: 'Network', value: group.sys_id });
    // 17:30:02 UTC is 10:30:02 in Los Angeles on 2026-03-09 (PDT since 2026-03-08).
    expect(rec.sys_updated_on).toEqual({ display_value: '2026-03-09 10:30:02', value: '2026-03-09 17:30:02' });
    const linked = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_display_value=all`)).body);
    expect(linked.assignment_group).toEqual({ display_value: 'Network', link: `${BASE}/api/now/table/sys_user_group/${group.sys_id}`, value: group.sys_id });
  });

  it('choice labels match the Change Management API sample for the same stored values', async () => {
    const sample = fixture<{ result: Record<string, { display_value: string; value: unknown }> }>('change_request_single_sn_chg_rest.json').result;
    const choiceFields = ['type', 'state', 'impact', 'urgency', 'priority', 'risk', 'upon_reject', 'upon_approval', 'phase', 'phase_state', 'escalation', 'close_code', 'approval', 'contact_type', 'scope', 'sys_class_name'];
    const values = Object.fromEntries(choiceFields.map((f) => [f, String(sample[f]?.value)]));
    const change = sim.createChange(values);
    const rec = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_display_value=all&sysparm_exclude_reference_link=true`)).body);
    const pick = (o: Record<string, unknown>) => Object.fromEntries(choiceFields.map((f) => [f, o[f]]));
    expect(pick(rec)).toEqual(pick(Object.fromEntries(choiceFields.map((f) => [f, { display_value: sample[f]?.display_value, value: values[f] }]))));
  });

  it('sysparm_fields limits the fields and supports dot-walking', async () => {
    const { change } = seedChange();
    const rec = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_fields=number,assignment_group.name,no_such_field`)).body);
    expect(rec).toEqual({ number: 'CHG0030001', 'assignment_group.name': 'Network' });
  });
});

describe('ServiceNowSimulator: lists and paging', () => {
  beforeEach(() => {
    for (let i = 0; i < 25; i++) sim.createChange({ short_description: `Change ${i}`, type: i % 5 === 0 ? 'emergency' : 'normal' }, { at: new Date(nowMs - (25 - i) * 1000) });
  });

  it('sends X-Total-Count and an RFC 5988 Link header with first/prev/next/last built from the request', async () => {
    const res = await get('/api/now/table/change_request?sysparm_query=ORDERBYnumber&sysparm_limit=10&sysparm_offset=10');
    expect(list(res.body).map((r) => r.number)).toEqual(Array.from({ length: 10 }, (_, i) => `CHG00300${11 + i}`));
    expect(res.headers.get('x-total-count')).toBe('25');
    const links = Object.fromEntries(
      (res.headers.get('link') ?? '').split(',').map((part) => {
        const m = /^<([^>]+)>;rel="(\w+)"$/.exec(part) ?? [];
        return [m[2], new URL(m[1] ?? '').searchParams.get('sysparm_offset')];
      }),
    );
    expect(links).toEqual({ first: '0', prev: '0', next: '20', last: '20' });
  });

  it('returns up to 10000 rows by default and omits the headers when asked', async () => {
    const res = await get('/api/now/table/change_request?sysparm_no_count=true&sysparm_suppress_pagination_header=true');
    expect(list(res.body)).toHaveLength(25);
    expect(res.headers.get('x-total-count')).toBeNull();
    expect(res.headers.get('link')).toBeNull();
  });

  it('answers an empty v1 query with the 404 sample body and v2 / unversioned with 200 []', async () => {
    const v1 = await get('/api/now/v1/table/change_request?sysparm_query=number=CHG9999999');
    expect(v1.status).toBe(404);
    expect(v1.body).toEqual(fixture('error_404_no_record_found.json'));
    for (const path of ['/api/now/v2/table/change_request', '/api/now/table/change_request']) {
      const res = await get(`${path}?sysparm_query=number=CHG9999999`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ result: [] });
    }
  });

  it('answers a missing record with the 404 sample body', async () => {
    const res = await get('/api/now/table/change_request/0123456789abcdef0123456789abcdef');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(fixture('error_404_no_record_found.json'));
  });

  it('applies the ACL after limit/offset: pages come back short while X-Total-Count counts every match', async () => {
    sim.hidden = (row) => row.type === 'emergency';
    const res = await get('/api/now/table/change_request?sysparm_query=ORDERBYnumber&sysparm_limit=10&sysparm_offset=0');
    expect(res.headers.get('x-total-count')).toBe('25');
    expect(list(res.body)).toHaveLength(8);
    const hidden = sim.listChanges().find((c) => c.type === 'emergency');
    expect((await get(`/api/now/table/change_request/${hidden?.sys_id}`)).status).toBe(404);
  });
});

const at = (s: number) => ({ at: new Date(Date.parse('2026-03-01T08:00:00Z') + s * 1000) });

describe('ServiceNowSimulator: keyset reads', () => {
  it('walks changes by (sys_updated_on, sys_id) with an extra ^OR query, returning same-second ties once each', async () => {
    for (let i = 0; i < 12; i++) sim.createChange({ type: ['normal', 'emergency', 'standard'][i % 3] }, at(Math.floor(i / 4)));
    const expected = sim
      .listChanges()
      .filter((c) => c.type !== 'standard')
      .toSorted((a, b) => ((a.sys_updated_on ?? '') + a.sys_id < (b.sys_updated_on ?? '') + b.sys_id ? -1 : 1))
      .map((c) => c.sys_id);
    const extra = 'type=normal^ORtype=emergency';
    const seen: string[] = [];
    let query = `${extra}^ORDERBYsys_updated_on^ORDERBYsys_id`;
    for (let guard = 0; guard < 20; guard++) {
      const q = encodeURIComponent(query);
      const page = list((await get(`/api/now/table/change_request?sysparm_query=${q}&sysparm_display_value=all&sysparm_exclude_reference_link=true&sysparm_limit=3&sysparm_offset=0`)).body);
      const ids = page.map((r) => (r.sys_id as { value: string }).value);
      seen.push(...ids);
      if (page.length < 3) break;
      const last = page[page.length - 1] as Record<string, { value: string }>;
      const t = last.sys_updated_on?.value;
      query = `${extra}^sys_updated_on>${t}^NQ${extra}^sys_updated_on=${t}^sys_id>${last.sys_id?.value}^ORDERBYsys_updated_on^ORDERBYsys_id`;
    }
    expect(seen).toEqual(expected);
    expect(new Set(sim.listChanges().map((c) => c.sys_updated_on)).size).toBe(3);
  });

  it('reads approvals and journal rows with the connector’s table queries', async () => {
    const change = sim.createChange({ short_description: 'x' });
    sim.addApproval(change.sys_id ?? '', { approver: 'admin', state: 'requested' });
    sim.addJournal(change.sys_id ?? '', 'work_notes', 'first note');
    sim.addJournal(change.sys_id ?? '', 'comments', 'a comment');
    const t = '2026-03-09 17:30:01';
    const approvals = `source_table=change_request^sys_updated_on>${t}^NQsource_table=change_request^sys_updated_on=${t}^sys_id>0^ORDERBYsys_updated_on^ORDERBYsys_id`;
    const a = list((await get(`/api/now/table/sysapproval_approver?sysparm_query=${encodeURIComponent(approvals)}&sysparm_display_value=all&sysparm_exclude_reference_link=true`)).body);
    expect(a.map((r) => r.sysapproval)).toEqual([{ display_value: 'CHG0030001', value: change.sys_id }]);
    expect(a[0]?.document_id).toEqual({ display_value: 'Change Request: CHG0030001', value: change.sys_id });
    const journal = `name=change_request^elementINwork_notes,comments^sys_created_on>${t}^NQname=change_request^elementINwork_notes,comments^sys_created_on=${t}^sys_id>0^ORDERBYsys_created_on^ORDERBYsys_id`;
    const j = list((await get(`/api/now/table/sys_journal_field?sysparm_query=${encodeURIComponent(journal)}`)).body);
    expect(j.map((r) => r.value).toSorted()).toEqual(['a comment', 'first note']);
    expect(Object.keys(j[0] ?? {})).toEqual(Object.keys(fixture<{ result: Json[] }>('sys_journal_field_rows.json').result[0] ?? {}));
  });
});

describe('ServiceNowSimulator: writes', () => {
  it('POST answers 201 with Location, DELETE 204, and the record is gone after', async () => {
    const created = await send('POST', '/api/now/table/change_request', { short_description: 'New change', impact: '1', urgency: '2' });
    expect(created.status).toBe(201);
    const rec = one(created.body);
    expect(rec).toMatchObject({ number: 'CHG0030001', state: '-5', priority: '2', sys_created_by: 'admin', approval: 'not requested' });
    expect(created.headers.get('location')).toBe(`${BASE}/api/now/table/change_request/${rec.sys_id}`);
    const del = await fetch(`${BASE}/api/now/table/change_request/${rec.sys_id}`, { method: 'DELETE', headers: AUTH });
    expect(del.status).toBe(204);
    expect((await get(`/api/now/table/change_request/${rec.sys_id}`)).status).toBe(404);
  });

  it('PATCH of work_notes appends a sys_journal_field row, reads back "" and bumps the change', async () => {
    const { change } = seedChange();
    nowMs += 5000;
    const res = await send('PATCH', `/api/now/table/change_request/${change.sys_id}`, { work_notes: 'Evidence bundle head: 9f2c' });
    expect(res.status).toBe(200);
    expect(one(res.body)).toMatchObject({ work_notes: '', sys_mod_count: '1', sys_updated_on: '2026-03-09 17:30:07' });
    expect(sim.journalFor(change.sys_id ?? '')).toEqual([
      expect.objectContaining({ name: 'change_request', element: 'work_notes', element_id: change.sys_id, value: 'Evidence bundle head: 9f2c', sys_created_by: 'admin', sys_created_on: '2026-03-09 17:30:07' }),
    ]);
    const shown = one((await get(`/api/now/table/change_request/${change.sys_id}?sysparm_display_value=true`)).body);
    expect(shown.work_notes).toBe('2026-03-09 10:30:07 - System Administrator (Work notes)\nEvidence bundle head: 9f2c\n\n');
  });

  it('refuses an illegal state transition with the business-rule abort body and leaves the record alone', async () => {
    const change = sim.createChange({ type: 'normal', state: '-5' });
    const res = await send('PATCH', `/api/now/table/change_request/${change.sys_id}`, { state: '-1' });
    expect(res.status).toBe(403);
    const sample = fixture<{ error: { message: string } }>('error_business_rule_abort_table_api.json');
    expect(res.body).toEqual({
      error: { message: sample.error.message, detail: expect.stringMatching(/^Operation against file 'change_request' was aborted by Business Rule 'Change Model: Check State Transition\^[0-9a-f]{32}'\. Business Rule Stack:Change Model: Check State Transition$/) },
      status: 'failure',
    });
    expect(sim.getChange(change.sys_id ?? '')).toMatchObject({ state: '-5', sys_mod_count: '0' });
  });

  it('forbids Review → Canceled and closing without close_code and close_notes', async () => {
    const change = sim.createChange({ type: 'normal', state: '0' });
    const path = `/api/now/table/change_request/${change.sys_id}`;
    expect((await send('PATCH', path, { state: '4' })).status).toBe(403);
    expect((await send('PATCH', path, { state: '3', close_code: 'successful' })).status).toBe(403);
    const closed = await send('PATCH', path, { state: '3', close_code: 'successful', close_notes: 'Done' });
    expect(closed.status).toBe(200);
    expect(one(closed.body)).toMatchObject({ state: '3', active: 'false', closed_at: '2026-03-09 17:30:02' });
  });

  it('keeps one-second resolution: two updates in the same second share sys_updated_on', () => {
    const change = sim.createChange({ short_description: 'a' });
    nowMs += 400;
    const first = sim.updateChange(change.sys_id ?? '', { short_description: 'b' });
    nowMs += 300;
    const second = sim.updateChange(change.sys_id ?? '', { short_description: 'c' });
    expect([first.sys_updated_on, second.sys_updated_on]).toEqual(['2026-03-09 17:30:02', '2026-03-09 17:30:02']);
    expect(second.sys_mod_count).toBe('2');
  });

  it('derives the change’s approval from its approvers and updates the change when it changes', () => {
    const change = sim.createChange({ type: 'normal', state: '-3' });
    const a = sim.addApproval(change.sys_id ?? '', { approver: 'admin' });
    const b = sim.addApproval(change.sys_id ?? '', { approver: 'admin' });
    expect(sim.getChange(change.sys_id ?? '')?.approval).toBe('requested');
    sim.updateApproval(a.sys_id ?? '', { state: 'approved' });
    expect(sim.getChange(change.sys_id ?? '')?.approval).toBe('requested');
    sim.updateApproval(b.sys_id ?? '', { state: 'approved' });
    expect(sim.getChange(change.sys_id ?? '')).toMatchObject({ approval: 'approved', approval_set: '2026-03-09 17:30:02' });
  });

  it('serves a raw record as stored, without a sys_id or with a malformed date', async () => {
    sim.insertRawChange({ number: 'CHG0099999', sys_updated_on: '09/03/2026 17:30' });
    const rows = list((await get('/api/now/table/change_request?sysparm_display_value=all')).body);
    expect(rows).toEqual([{ number: { display_value: 'CHG0099999', value: 'CHG0099999' }, sys_updated_on: { display_value: '09/03/2026 17:30', value: '09/03/2026 17:30' } }]);
    sim.insertRawChange({ sys_id: 'ffffffffffffffffffffffffffffffff', short_description: 42, sys_updated_on: '2026-03-09 17:30:00' });
    const queried = await get(`/api/now/table/change_request?sysparm_query=${encodeURIComponent('short_descriptionLIKE4^ORDERBYsys_updated_on^ORDERBYsys_id')}`);
    expect([queried.status, list(queried.body).map((r) => r.short_description)]).toEqual([200, [42]]);
  });
});
