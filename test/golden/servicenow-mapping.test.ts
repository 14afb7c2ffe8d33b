// Golden tests: every ServiceNow sample record → its canonical form, stored as a
// reviewed JSON snapshot. The explicit assertions next to each snapshot pin the facts
// a reviewer checked (UTC dates, levels, names on refs), so a careless snapshot
// update cannot silently change them.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/domain/change.ts';
import { isChangegateError } from '../../src/errors.ts';
import {
  loadServiceNowMapping,
  mapServiceNowApproval,
  mapServiceNowChange,
  mapServiceNowJournal,
  type ServiceNowMapContext,
} from '../../connectors/servicenow/servicenow-mapping.ts';

type Row = Record<string, unknown>;

function fixture<T = { result: Row[] }>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8')) as T;
}

const ctx: ServiceNowMapContext = { instance: 'sn-demo', baseUrl: 'https://demo.service-now.com', mapping: loadServiceNowMapping() };

const strip = ({ raw: _raw, ...rest }: Change) => rest;

/** The canonical change minus `raw`, which is asserted by identity instead of being copied into the snapshot. */
function golden(change: Change | Change[]): string {
  return `${JSON.stringify(Array.isArray(change) ? change.map(strip) : strip(change), null, 2)}\n`;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

describe('ServiceNow change_request → canonical Change', () => {
  it('maps a Table API record read with display_value=false and excluded links (CHG0000023)', async () => {
    const record = fixture('change_request_table_api_record.json').result[0] as Row;
    const change = mapServiceNowChange(record, ctx);

    expect(change.raw).toBe(record);
    expect(change).toMatchObject({
      id: 'servicenow:sn-demo:70ad699e47410200e90d87e8dee4907d',
      key: 'CHG0000023',
      url: 'https://demo.service-now.com/nav_to.do?uri=change_request.do?sys_id=70ad699e47410200e90d87e8dee4907d',
      type: 'standard',
      state: 'closed',
      nativeState: '3',
      nativeStateLabel: null,
      risk: { impact: 'low', probability: null, level: 'medium' },
      actualStart: '2015-07-06T18:17:41Z',
      actualEnd: '2015-07-06T18:18:34Z',
      // Plain-string shape has no display values, so refs carry the sys_id only.
      requester: { id: '6816f79cc0a8016401c5a33be04be441', name: null },
      assignee: null,
      services: [],
      nativeRevision: 8,
      updatedAt: '2015-07-06T18:18:53Z',
    });
    await expect(golden(change)).toMatchFileSnapshot('./__snapshots__/change_request_table_api_record.json');
  });

  it('maps a Change Management API record with typed values, taking UTC values over display values (CHG0000024)', async () => {
    const record = fixture<{ result: Row }>('change_request_single_sn_chg_rest.json').result;
    const change = mapServiceNowChange(record, ctx);

    expect(change.raw).toBe(record);
    expect(change).toMatchObject({
      key: 'CHG0000024',
      state: 'closed',
      nativeState: '3',
      nativeStateLabel: 'Closed',
      // value 3.0 / display "Moderate"
      risk: { impact: 'low', probability: null, level: 'medium' },
      // display_value is 11:56:04 in the user's zone; value is UTC.
      actualStart: '2015-07-06T18:56:04Z',
      createdAt: '2015-07-06T18:55:46Z',
      updatedAt: '2015-07-06T18:59:27Z',
      requester: { id: '6816f79cc0a8016401c5a33be04be441', name: 'System Administrator' },
      assignmentGroup: { id: '287ebd7da9fe198100f92cc8d1d2154e', name: 'Network' },
      cab: { required: false, date: null, recommendation: null },
      nativeRevision: 10,
    });
    await expect(golden(change)).toMatchFileSnapshot('./__snapshots__/change_request_single_sn_chg_rest.json');
  });

  it('maps the change requests of a Change Management API list and nothing else', async () => {
    const rows = fixture('change_request_list_sn_chg_rest.json').result;
    const changeRows = rows.filter((row) => (row['sys_class_name'] as { value?: unknown } | undefined)?.value === 'change_request');
    const changes = changeRows.map((row) => mapServiceNowChange(row, ctx));

    expect(changes.map((c) => c.key)).toEqual(['CHG0000024']);
    // The list row is the same record as the single read; both shapes must agree.
    const single = mapServiceNowChange(fixture<{ result: Row }>('change_request_single_sn_chg_rest.json').result, ctx);
    expect(golden(changes[0] as Change)).toBe(golden(single));
    await expect(golden(changes)).toMatchFileSnapshot('./__snapshots__/change_request_list_sn_chg_rest.json');
  });

  it('maps a Table API record read with display_value=all and excluded links (constructed CHG0030001)', async () => {
    const record = fixture('CONSTRUCTED-change_request_table_api_display_value_all.json').result[0] as Row;
    const change = mapServiceNowChange(record, ctx);

    expect(change).toMatchObject({
      key: 'CHG0030001',
      type: 'normal',
      state: 'authorize',
      nativeState: '-3',
      nativeStateLabel: 'Authorize',
      risk: { impact: 'medium', probability: null, level: 'high' },
      plannedStart: '2026-03-10T22:00:00Z',
      plannedEnd: '2026-03-11T00:00:00Z',
      actualStart: null,
      assignee: { id: '5137153cc611227c000bbd1bd8cd2007', name: 'David Loo' },
      services: [{ id: '27d32778c0a8000b00db970eeaa60f16', name: 'Email' }],
      cis: [{ id: '281190e3c0a8000b003f593aa3f20ca6', name: 'EXCH-SD-05' }],
      approvalStatus: 'requested',
      cab: { required: true, date: '2026-03-09', recommendation: null },
      closeCode: null,
      // u_ fields exist on the record but the default mapping does not read them.
      links: { repos: [], commits: [], artifacts: [], pipelines: [] },
      custom: {},
      nativeRevision: 5,
    });
    await expect(golden(change)).toMatchFileSnapshot('./__snapshots__/CONSTRUCTED-change_request_table_api_display_value_all.json');
  });
});

describe('ServiceNow sys_journal_field → JournalEntry', () => {
  it('maps work notes and comments with their author and UTC time', async () => {
    const rows = fixture('sys_journal_field_rows.json').result;
    const mapped = rows.map((row) => mapServiceNowJournal(row, ctx));

    expect(mapped.map((m) => m.entry.kind)).toEqual(['work_note', 'comment', 'comment']);
    expect(mapped[0]).toEqual({
      changeNativeId: '965f140bdb4c8c105f6f00b5ca961922',
      entry: { id: '2c6420c31b0000506a4a85507e4bcb82', kind: 'work_note', author: 'admin', at: '2019-09-26T21:19:11Z', text: 'Team is actively looking into it.' },
    });
    await expect(`${JSON.stringify(mapped, null, 2)}\n`).toMatchFileSnapshot('./__snapshots__/sys_journal_field_rows.json');
  });
});

describe('ServiceNow sysapproval_approver → Approval', () => {
  it('maps approval rows, with decidedAt only once the approver decided (constructed)', async () => {
    const rows = fixture('CONSTRUCTED-sysapproval_approver_display_value_all.json').result;
    const mapped = rows.map((row) => mapServiceNowApproval(row, ctx));

    expect(mapped.map((m) => m.changeNativeId)).toEqual(['3d5f2a1c47410200e90d87e8dee49a01', '3d5f2a1c47410200e90d87e8dee49a01']);
    expect(mapped[0]?.approval).toMatchObject({
      approver: { id: '6816f79cc0a8016401c5a33be04be441', name: 'System Administrator' },
      state: 'approved',
      nativeState: 'approved',
      decidedAt: '2026-03-09T17:29:41Z',
    });
    expect(mapped[1]?.approval).toMatchObject({ state: 'requested', decidedAt: null, group: { id: 'b85d44954a3623120004689b2d5dd60a', name: 'CAB Approval' } });
    await expect(`${JSON.stringify(mapped, null, 2)}\n`).toMatchFileSnapshot('./__snapshots__/CONSTRUCTED-sysapproval_approver_display_value_all.json');
  });

  it('rejects the sanitized fixture rows, naming the field they lack, instead of inventing an approval state', () => {
    const file = fixture<Record<string, { result: Row | Row[] }>>('sysapproval_approver_fixture.json');
    const listRows = file['GET /api/now/table/sysapproval_approver (list)']?.result as Row[];
    expect(listRows).toHaveLength(3);
    for (const row of listRows) {
      const err = thrown(() => mapServiceNowApproval(row, ctx));
      expect(isChangegateError(err, 'CG_SN_RECORD_INVALID')).toBe(true);
      expect((err as { details: unknown }).details).toEqual({ field: 'state', record: row['sys_id'] });
    }
    // The PATCH responses echo state but not the change they approve.
    const patched = file['PATCH /api/now/table/sysapproval_approver/{sys_id} {state: approved}']?.result as Row;
    const err = thrown(() => mapServiceNowApproval(patched, ctx));
    expect(isChangegateError(err, 'CG_SN_RECORD_INVALID')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ field: 'sysapproval', record: 'test-ticket-id' });
  });
});
