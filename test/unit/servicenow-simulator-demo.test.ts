import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoSimulator } from '../../connectors/servicenow/simulator/demo-data.ts';
import { ServiceNowSimulator, type Row } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';

const BASE = 'https://demo.service-now.com';
const clock = () => new Date('2026-03-09T17:30:00Z');
const sim = createDemoSimulator(BASE, { clock });
const changes = sim.listChanges();
const approvals = sim.rows('sysapproval_approver');
const journal = sim.rows('sys_journal_field');
const byChange = (rows: Row[], field: string) => Map.groupBy(rows, (r) => r[field] ?? '');
const approvalsOf = byChange(approvals, 'sysapproval');

describe('seedDemoData', () => {
  it('creates 300 changes covering every type in every state its model allows', () => {
    expect(changes).toHaveLength(300);
    const legal = {
      normal: ['-5', '-4', '-3', '-2', '-1', '0', '3', '4'],
      standard: ['-5', '-2', '-1', '0', '3', '4'],
      emergency: ['-5', '-3', '-2', '-1', '0', '3', '4'],
    };
    const expected = Object.entries(legal).flatMap(([type, states]) => states.map((s) => `${type}:${s}`));
    expect(new Set(changes.map((c) => `${c.type}:${c.state}`))).toEqual(new Set(expected));
  });

  it('keeps each change consistent with its lifecycle', () => {
    const date = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
    const problems = changes.flatMap((c) => {
      const mine = approvalsOf.get(c.sys_id ?? '') ?? [];
      const found: string[] = [];
      const fail = (why: string) => found.push(`${c.number} (${c.type}, state ${c.state}): ${why}`);
      if (c.state === '3' && !(c.active === 'false' && c.close_code && c.close_notes && date.test(c.work_start ?? '') && date.test(c.work_end ?? '') && date.test(c.closed_at ?? ''))) fail('closed without close fields or actual dates');
      if (c.state === '4' && c.active !== 'false') fail('canceled but active');
      if (c.state === '-1' && !c.work_start) fail('implementing without work_start');
      if (['-2', '-1', '0', '3'].includes(c.state ?? '') && (c.approval !== 'approved' || mine.some((a) => a.state !== 'approved'))) fail('past Authorize without approval');
      if ((c.state === '-3' || c.state === '-4') && !mine.some((a) => a.state === 'requested')) fail('awaiting approval with nobody asked');
      if (mine.some((a) => a.state === 'rejected') && !['-5', '4'].includes(c.state ?? '')) fail('rejected but moving on');
      if (c.type === 'standard' && (mine.length > 0 || !c.std_change_producer_version)) fail('standard change with approvers or without template');
      const activity = [...mine.map((a) => a.sys_updated_on ?? ''), ...journal.filter((j) => j.element_id === c.sys_id).map((j) => j.sys_created_on ?? '')];
      if (activity.some((at) => at > (c.sys_updated_on ?? ''))) fail('activity after sys_updated_on');
      return found;
    });
    expect(problems).toEqual([]);
  });

  it('leaves gaps for the policy to find: missing backout plans and planned dates, self-approval', () => {
    const nonStandard = changes.filter((c) => c.type !== 'standard');
    expect(nonStandard.some((c) => c.backout_plan === '')).toBe(true);
    expect(changes.some((c) => c.active === 'true' && c.start_date === '')).toBe(true);
    expect(approvals.some((a) => changes.find((c) => c.sys_id === a.sysapproval)?.requested_by === a.approver)).toBe(true);
  });

  it('adds approvals in every state, work notes, comments and approval comments', () => {
    expect(new Set(approvals.map((a) => a.state))).toEqual(new Set(['approved', 'rejected', 'requested']));
    expect(new Set(journal.map((j) => `${j.name}:${j.element}`))).toEqual(new Set(['change_request:work_notes', 'change_request:comments', 'sysapproval_approver:comments']));
  });

  it('is deterministic for a seed and clock, and varies with the seed', () => {
    expect(createDemoSimulator(BASE, { clock, count: 40 }).listChanges()).toEqual(createDemoSimulator(BASE, { clock, count: 40 }).listChanges());
    expect(createDemoSimulator(BASE, { clock, count: 40, seed: 2 }).listChanges()).not.toEqual(createDemoSimulator(BASE, { clock, count: 40 }).listChanges());
  });

  it('bulkCreateChanges makes many varied changes with unique ids and same-second ties', () => {
    const big = new ServiceNowSimulator({ baseUrl: BASE, clock });
    const rows = big.bulkCreateChanges(50_000, { seed: 7 });
    expect(big.store.require('change_request').size).toBe(50_000);
    expect(new Set(rows.map((r) => r.sys_id)).size).toBe(50_000);
    expect(new Set(rows.map((r) => r.sys_updated_on)).size).toBeLessThan(48_000);
    expect(new Set(rows.map((r) => `${r.type}:${r.state}`)).size).toBeGreaterThan(15);
    expect(rows.filter((r) => r.state === '3').every((r) => r.close_code !== '' && r.work_end !== '')).toBe(true);
    expect(rows.every((r) => r.sys_updated_on !== undefined && r.sys_updated_on <= '2026-03-09 17:30:00')).toBe(true);
  });
});

describe('createDemoSimulator over the Table API', () => {
  const server = setupServer(...sim.handlers());
  beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
  afterAll(() => server.close());

  it('serves the demo changes with resolvable group, user and CI names', async () => {
    const res = await fetch(`${BASE}/api/now/table/change_request?sysparm_query=state=-3^ORDERBYnumber&sysparm_display_value=true&sysparm_exclude_reference_link=true&sysparm_limit=5`, {
      headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
    });
    const rows = ((await res.json()) as { result: Record<string, string>[] }).result;
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.state).toBe('Authorize');
      expect(r.assigned_to).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
      expect(r.cmdb_ci).not.toBe('');
      expect(r.business_service).not.toBe('');
    }
    const groups = sim.rows('sys_user_group').map((g) => g.name);
    expect(groups).toEqual(expect.arrayContaining(['Change Advisory Board', 'Change Management', 'Network', 'Database Administration']));
  });
});
