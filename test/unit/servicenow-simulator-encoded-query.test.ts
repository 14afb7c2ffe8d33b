import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileEncodedQuery, parseEncodedQuery, type ResolveField } from '../../connectors/servicenow/simulator/encoded-query.ts';
import type { Row } from '../../connectors/servicenow/simulator/table-schema.ts';

const FIELDS: Record<string, boolean> = { sys_id: false, sys_updated_on: false, type: false, active: false, state: true, short_description: false, assigned_to: false };
const resolve: ResolveField = (path) => (path in FIELDS ? { get: (row: Row) => row[path] ?? '', numeric: FIELDS[path] === true } : undefined);

function run(query: string, rows: Row[]): string[] {
  const c = compileEncodedQuery(query, resolve);
  return c.order(rows.filter(c.matches)).map((r) => r.sys_id ?? '');
}

const rows: Row[] = [
  { sys_id: 'a1', sys_updated_on: '2024-01-01 00:00:00', type: 'normal', active: 'true', state: '-5', short_description: 'Patch Oracle DB', assigned_to: '' },
  { sys_id: 'b2', sys_updated_on: '2024-01-01 00:00:00', type: 'emergency', active: 'true', state: '-1', short_description: 'Replace router card', assigned_to: 'u1' },
  { sys_id: '0c', sys_updated_on: '2024-01-01 00:00:00', type: 'standard', active: 'false', state: '3', short_description: 'Restart pool', assigned_to: 'u2' },
  { sys_id: 'd4', sys_updated_on: '2024-01-02 08:30:00', type: 'normal', active: 'false', state: '4', short_description: 'oracle upgrade', assigned_to: '' },
  { sys_id: 'e5', sys_updated_on: '2023-12-31 23:59:59', type: 'emergency', active: 'true', state: '-10', short_description: 'Rotate certificate', assigned_to: 'u1' },
];

describe('parseEncodedQuery', () => {
  it('splits ^, ^OR, ^NQ and ORDERBY terms into blocks, groups and order', () => {
    const p = parseEncodedQuery('active=true^type=normal^ORtype=emergency^NQstate>=3^ORDERBYsys_updated_on^ORDERBYDESCsys_id');
    expect(p.blocks).toEqual([
      [[{ field: 'active', op: '=', value: 'true' }], [{ field: 'type', op: '=', value: 'normal' }, { field: 'type', op: '=', value: 'emergency' }]],
      [[{ field: 'state', op: '>=', value: '3' }]],
    ]);
    expect(p.orderBy).toEqual([{ field: 'sys_updated_on', desc: false }, { field: 'sys_id', desc: true }]);
  });

  it('reads IN lists, NOT LIKE, value-less operators and a literal ^^ inside a value', () => {
    const p = parseEncodedQuery('elementINwork_notes,comments^short_descriptionNOT LIKEdb^assigned_toISEMPTY^short_description=a^^b');
    expect(p.blocks[0]).toEqual([
      [{ field: 'element', op: 'IN', value: 'work_notes,comments' }],
      [{ field: 'short_description', op: 'NOT LIKE', value: 'db' }],
      [{ field: 'assigned_to', op: 'ISEMPTY', value: '' }],
      [{ field: 'short_description', op: '=', value: 'a^b' }],
    ]);
  });
});

describe('compileEncodedQuery', () => {
  it.each([
    ['type=normal', ['a1', 'd4']],
    ['type!=normal', ['b2', '0c', 'e5']],
    ['typeINnormal,standard', ['a1', '0c', 'd4']],
    ['typeNOT INnormal,standard', ['b2', 'e5']],
    ['short_descriptionLIKEoracle', ['a1', 'd4']],
    ['short_descriptionNOT LIKEoracle', ['b2', '0c', 'e5']],
    ['short_descriptionSTARTSWITHre', ['b2', '0c']],
    ['short_descriptionENDSWITHcard', ['b2']],
    ['assigned_toISEMPTY', ['a1', 'd4']],
    ['assigned_toISNOTEMPTY', ['b2', '0c', 'e5']],
    ['sys_updated_on>2024-01-01 00:00:00', ['d4']],
    ['sys_updated_on>=2024-01-01 00:00:00', ['a1', 'b2', '0c', 'd4']],
    ['sys_updated_on<2024-01-01 00:00:00', ['e5']],
    ['sys_updated_on<=2024-01-01 00:00:00', ['a1', 'b2', '0c', 'e5']],
    ['sys_id>a1', ['b2', 'd4', 'e5']],
    // state is an integer field: -10 < -5 numerically although "-10" > "-5" as text.
    ['state<-5', ['e5']],
    ['state>=3', ['0c', 'd4']],
  ])('%s', (query, expected) => {
    expect(run(query, rows).toSorted()).toEqual([...expected].toSorted());
  });

  it('ANDs ^ terms and ORs ^OR with the condition before it', () => {
    expect(run('active=true^type=normal^ORtype=emergency', rows).toSorted()).toEqual(['a1', 'b2', 'e5']);
  });

  it('ORs whole ^NQ blocks', () => {
    expect(run('type=standard^NQstate=4', rows).toSorted()).toEqual(['0c', 'd4']);
  });

  it('ignores a term on an unknown field and runs the rest, as ServiceNow does by default', () => {
    const c = compileEncodedQuery('u_nope=1^type=normal', resolve);
    expect(rows.filter(c.matches).map((r) => r.sys_id)).toEqual(['a1', 'd4']);
    expect(c.ignoredFields).toEqual(['u_nope']);
  });

  it('sorts by several ORDERBY terms over the whole result, NQ blocks included', () => {
    expect(run('type=standard^NQtype=normal^ORDERBYsys_updated_on^ORDERBYsys_id', rows)).toEqual(['0c', 'a1', 'd4']);
    expect(run('ORDERBYDESCsys_updated_on^ORDERBYsys_id', rows)).toEqual(['d4', '0c', 'a1', 'b2', 'e5']);
  });

  it('returns the keyset continuation the connector sends: after (T, id), same-second ties by sys_id', () => {
    const q = 'active=true^sys_updated_on>2024-01-01 00:00:00^NQactive=true^sys_updated_on=2024-01-01 00:00:00^sys_id>a1^ORDERBYsys_updated_on^ORDERBYsys_id';
    expect(run(q, rows)).toEqual(['b2']);
    const withOr = 'type=normal^ORtype=emergency^sys_updated_on>2023-12-31 23:59:59^NQtype=normal^ORtype=emergency^sys_updated_on=2023-12-31 23:59:59^sys_id>e5^ORDERBYsys_updated_on^ORDERBYsys_id';
    expect(run(withOr, rows)).toEqual(['a1', 'b2', 'd4']);
  });

  it('a keyset walk in pages of any size returns every row exactly once, in (updated, id) order', () => {
    const row = fc.record({
      sys_id: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
      second: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(row, { selector: (r) => r.sys_id, maxLength: 40 }), fc.integer({ min: 1, max: 7 }), (specs, pageSize) => {
        const table: Row[] = specs.map((s) => ({ sys_id: s.sys_id, sys_updated_on: `2024-01-01 00:00:0${s.second}` }));
        const expected = [...table].toSorted((a, b) => ((a.sys_updated_on ?? '') + a.sys_id < (b.sys_updated_on ?? '') + b.sys_id ? -1 : 1)).map((r) => r.sys_id);
        const seen: string[] = [];
        let query = 'ORDERBYsys_updated_on^ORDERBYsys_id';
        for (;;) {
          const page = (() => {
            const c = compileEncodedQuery(query, resolve);
            return c.order(table.filter(c.matches)).slice(0, pageSize);
          })();
          seen.push(...page.map((r) => r.sys_id ?? ''));
          const last = page[page.length - 1];
          if (page.length < pageSize || !last) break;
          const t = last.sys_updated_on;
          query = `sys_updated_on>${t}^NQsys_updated_on=${t}^sys_id>${last.sys_id}^ORDERBYsys_updated_on^ORDERBYsys_id`;
        }
        expect(seen).toEqual(expected);
      }),
    );
  });

  it('selects only the first rows of a large sorted result when asked for a page', () => {
    const many: Row[] = Array.from({ length: 2000 }, (_, i) => ({ sys_id: String((i * 7919) % 2000).padStart(4, '0'), sys_updated_on: '2024-01-01 00:00:00' }));
    const c = compileEncodedQuery('ORDERBYsys_id', resolve);
    expect(c.order(many, 10).map((r) => r.sys_id)).toEqual(['0000', '0001', '0002', '0003', '0004', '0005', '0006', '0007', '0008', '0009']);
  });
});
