import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert as checkProperty, date as arbitraryDate, property } from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Change } from '../../src/domain/change.ts';
import { ChangegateError } from '../../src/errors.ts';
import {
  DEFAULT_SERVICENOW_MAPPING,
  formatServiceNowDate,
  loadServiceNowMapping,
  mapServiceNowApproval,
  mapServiceNowChange,
  mapServiceNowJournal,
  parseServiceNowDate,
  type ServiceNowMapContext,
} from '../../connectors/servicenow/servicenow-mapping.ts';

type Row = Record<string, unknown>;
type Pair = { display_value: string; value: string };

function fixtureRow(name: string): Row {
  const file = JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8')) as { result: Row[] };
  return file.result[0] as Row;
}

const tableRecord = () => fixtureRow('change_request_table_api_record.json');
const displayAllRecord = () => fixtureRow('CONSTRUCTED-change_request_table_api_display_value_all.json');
const ctx: ServiceNowMapContext = { instance: 'sn-test', baseUrl: 'https://acme.service-now.com', mapping: loadServiceNowMapping() };

function caught(fn: () => unknown): ChangegateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChangegateError) return err;
    throw err;
  }
  throw new Error('expected a ChangegateError');
}

const REFERENCES = ['requested_by', 'opened_by', 'assigned_to', 'assignment_group', 'business_service', 'cmdb_ci'];

/** Re-shapes a display_value=all record as other request flags would return it (reference §1.4). */
function reshape(record: Row, shape: 'all-with-links' | 'values-only' | 'values-with-links'): Row {
  const out: Row = {};
  for (const [name, field] of Object.entries(record)) {
    const { display_value, value } = field as Pair;
    const link = `https://acme.service-now.com/api/now/table/sys_user/${value}`;
    const isRef = REFERENCES.includes(name) && value !== '';
    if (shape === 'all-with-links') out[name] = isRef ? { display_value, link, value } : { display_value, value };
    else if (shape === 'values-with-links') out[name] = isRef ? { link, value } : value;
    else out[name] = value;
  }
  return out;
}

/** What must not depend on the response shape: everything but raw, and names only where display values exist. */
const unname = (ref: { id: string } | null) => (ref === null ? null : { id: ref.id, name: null });

function withoutNames(change: Change): unknown {
  const { raw: _raw, ...rest } = change;
  return {
    ...rest,
    nativeStateLabel: null,
    requester: unname(change.requester),
    assignee: unname(change.assignee),
    assignmentGroup: unname(change.assignmentGroup),
    services: change.services.map(unname),
    cis: change.cis.map(unname),
  };
}

describe('field shapes', () => {
  it('maps the same record identically whether references carry links or not', () => {
    const base = mapServiceNowChange(displayAllRecord(), ctx);
    const linked = mapServiceNowChange(reshape(displayAllRecord(), 'all-with-links'), ctx);
    expect({ ...linked, raw: null }).toEqual({ ...base, raw: null });
  });

  it.each(['values-only', 'values-with-links'] as const)('maps the %s shape to the same values, without display names', (shape) => {
    const base = mapServiceNowChange(displayAllRecord(), ctx);
    const plain = mapServiceNowChange(reshape(displayAllRecord(), shape), ctx);
    expect(plain.requester).toEqual({ id: '46d44a23a9fe19810012d100cca80666', name: null });
    expect(withoutNames(plain)).toEqual(withoutNames(base));
  });

  it('refuses a display_value=true field, whose dates would be in the user time zone', () => {
    const record = { ...tableRecord(), start_date: { display_value: '2015-07-06 11:17:41' } };
    const err = caught(() => mapServiceNowChange(record, ctx));
    expect(err.code).toBe('CG_SN_RECORD_INVALID');
    expect(err.details).toMatchObject({ field: 'start_date', record: 'CHG0000023' });
  });
});

describe('record errors', () => {
  it('fails an unmapped state with the value and the mapping file to edit', () => {
    const err = caught(() => mapServiceNowChange({ ...tableRecord(), state: '7' }, ctx));
    expect(err.code).toBe('CG_MAPPING_UNKNOWN_VALUE');
    expect(err.message).toBe(`change CHG0000023 has state "7", which ${DEFAULT_SERVICENOW_MAPPING} does not map; add it under states:`);
    expect(err.details).toEqual({ field: 'state', value: '7', file: DEFAULT_SERVICENOW_MAPPING, record: 'CHG0000023' });
  });

  it('fails an unmapped type or level naming the table to extend', () => {
    expect(caught(() => mapServiceNowChange({ ...tableRecord(), type: 'expedited' }, ctx)).message).toContain('type "expedited"');
    const level = caught(() => mapServiceNowChange({ ...tableRecord(), impact: '9' }, ctx));
    expect(level.code).toBe('CG_MAPPING_UNKNOWN_VALUE');
    expect(level.message).toContain('add it under levels.impact:');
  });

  it('fails a record without sys_id, naming the field and the record number', () => {
    const { sys_id: _id, ...record } = tableRecord();
    const err = caught(() => mapServiceNowChange(record, ctx));
    expect(err.code).toBe('CG_SN_RECORD_INVALID');
    expect(err.details).toEqual({ field: 'sys_id', record: 'CHG0000023' });
    const { number: _n, ...anonymous } = record;
    expect(caught(() => mapServiceNowChange(anonymous, ctx)).details).toEqual({ field: 'sys_id', record: '(no number)' });
  });

  it('fails a malformed date, naming the field, the value and the record', () => {
    const err = caught(() => mapServiceNowChange({ ...tableRecord(), work_start: '07/06/2015 18:17' }, ctx));
    expect(err.code).toBe('CG_SN_RECORD_INVALID');
    expect(err.details).toMatchObject({ field: 'work_start', value: '07/06/2015 18:17', record: 'CHG0000023' });
    expect(err.message).toContain('CHG0000023');
    expect(err.message).toContain('work_start');
  });

  it('fails a record that is not a change request instead of mapping incident states', () => {
    const err = caught(() => mapServiceNowChange({ ...tableRecord(), sys_class_name: 'incident', state: '2' }, ctx));
    expect(err.code).toBe('CG_SN_RECORD_INVALID');
    expect(err.details).toMatchObject({ field: 'sys_class_name', record: 'CHG0000023' });
  });

  it('fails a journal row of another journal field and an approval row in an unmapped state', () => {
    const journal = { sys_id: 'j1', element_id: 'c1', element: 'approval_history', value: 'x', sys_created_on: '2026-01-01 00:00:00', sys_created_by: 'a' };
    expect(caught(() => mapServiceNowJournal(journal, ctx)).details).toEqual({ field: 'element', record: 'j1' });
    const approval = { sys_id: 'a1', sysapproval: 'c1', state: 'escalated', sys_updated_on: '2026-01-01 00:00:00' };
    const err = caught(() => mapServiceNowApproval(approval, ctx));
    expect(err.code).toBe('CG_MAPPING_UNKNOWN_VALUE');
    expect(err.message).toContain('add it under approvalStates:');
  });

  it('maps a duplicate approval as cancelled and takes the change from document_id when sysapproval is empty', () => {
    const row = { sys_id: 'a2', sysapproval: '', document_id: { link: 'https://x/api/now/table/change_request/c9', value: 'c9' }, state: 'duplicate', sys_updated_on: '2026-01-01 00:00:00' };
    const { changeNativeId, approval } = mapServiceNowApproval(row, ctx);
    expect(changeNativeId).toBe('c9');
    expect(approval).toMatchObject({ state: 'cancelled', nativeState: 'duplicate', decidedAt: null });
  });
});

describe('custom mapping file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-sn-mapping-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads u_ fields for probability, links, list CIs and custom values', () => {
    const spec = parse(readFileSync(DEFAULT_SERVICENOW_MAPPING, 'utf8')) as Record<string, Record<string, unknown>>;
    spec['fields'] = { ...spec['fields'], probability: 'u_probability', cis: 'u_affected_cis', links: { repos: 'u_repositories', commits: 'u_commits' } };
    spec['levels'] = { ...spec['levels'], u_probability: { '1': 'high', '2': 'medium', '3': 'low' } };
    spec['custom'] = { releaseTrain: 'u_release_train', category: 'u_not_on_this_record' };
    const file = join(dir, 'servicenow.acme.yaml');
    writeFileSync(file, stringify(spec));

    const change = mapServiceNowChange(displayAllRecord(), { ...ctx, mapping: loadServiceNowMapping(file) });
    expect(change.risk).toEqual({ impact: 'medium', probability: 'low', level: 'high' });
    expect(change.cis).toEqual([
      { id: '281190e3c0a8000b003f593aa3f20ca6', name: 'EXCH-SD-05' },
      { id: '53fdbc8637c10200e94b6d2843990e5b', name: 'EXCH-SD-06' },
    ]);
    expect(change.links).toEqual({ repos: ['acme/payments-api', 'acme/payments-infra'], commits: ['9fceb02d0ae598e95dc970b74767f19372d61af8'], artifacts: [], pipelines: [] });
    expect(change.custom).toEqual({ releaseTrain: '2026.03-b', category: null });
    expect(loadServiceNowMapping(file).nativeFields).toEqual(expect.arrayContaining(['u_probability', 'u_affected_cis', 'u_repositories', 'u_release_train']));
  });

  it('reports a mistyped key and a wrong value type by file, line and path', () => {
    const text = readFileSync(DEFAULT_SERVICENOW_MAPPING, 'utf8')
      .replace('  assignee: assigned_to', '  asignee: assigned_to')
      .replace('"-4": assess', '"-4": asess');
    const file = join(dir, 'servicenow.typo.yaml');
    writeFileSync(file, text);
    const lineOf = (needle: string) => text.split('\n').findIndex((line) => line.includes(needle)) + 1;

    const err = caught(() => loadServiceNowMapping(file));
    expect(err.code).toBe('CG_MAPPING_INVALID');
    const issues = err.details['issues'] as string[];
    expect(issues).toContainEqual(`${file}:${lineOf('asignee:')}:12 fields.asignee: unknown key "asignee"; did you mean "assignee"?`);
    expect(issues).toContainEqual(expect.stringMatching(new RegExp(`^${file}:\\d+:\\d+ fields.assignee: required`)));
    expect(issues).toContainEqual(expect.stringContaining(`${file}:${lineOf('asess')}:9 states.-4: expected one of new, assess`));
  });
});

describe('ServiceNow dates', () => {
  it('turns stored UTC text into ISO and back', () => {
    expect(parseServiceNowDate('2015-07-06 18:18:53', 'closed_at')).toBe('2015-07-06T18:18:53Z');
    expect(parseServiceNowDate('', 'closed_at')).toBeNull();
    expect(formatServiceNowDate('2026-03-09T10:30:02.750-07:00')).toBe('2026-03-09 17:30:02');
  });

  it.each(['2015-13-06 18:18:53', '2015-07-06T18:18:53Z', '2015-07-06 24:00:00', '2015-07-06', 'soon'])('rejects %s naming the field', (value) => {
    const err = caught(() => parseServiceNowDate(value, 'start_date'));
    expect(err.code).toBe('CG_SN_RECORD_INVALID');
    expect(err.details).toMatchObject({ field: 'start_date', value });
  });

  it('round-trips every second-precision instant', () => {
    checkProperty(
      property(arbitraryDate({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (date) => {
        const iso = `${date.toISOString().slice(0, 19)}Z`;
        expect(parseServiceNowDate(formatServiceNowDate(iso), 'sys_updated_on')).toBe(iso);
      }),
    );
  });
});
