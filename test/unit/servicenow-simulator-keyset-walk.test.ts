// The ServiceNow simulator answers keyset pages (what the connector sends) by
// walking its rows kept in ORDERBY order from the cursor, so a page of a
// million-row table costs the rows after the cursor. The answer must be the
// one a filter and sort of the whole table gives: the same rows, in the same
// order, and the same total (X-Total-Count), for every cursor and filter.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keysetQuery } from '../../connectors/servicenow/keyset-query.ts';
import { compileEncodedQuery, type FieldAccessor } from '../../connectors/servicenow/simulator/encoded-query.ts';
import { SimStore, SimTable } from '../../connectors/servicenow/simulator/record-store.ts';
import { defineTable, DT, S, type Row } from '../../connectors/servicenow/simulator/table-schema.ts';

const TABLE = defineTable('change_request', 'Change Request', 'number', { sys_id: S, sys_updated_on: DT, type: S, number: S });
const TIMES = ['', '2026-03-01 08:00:00', '2026-03-01 08:00:01', '2026-03-01 09:30:00', '2026-03-02 00:00:00'];

const rowArb = fc.record({
  sys_id: fc.stringMatching(/^[0-9a-f]{4}$/),
  sys_updated_on: fc.constantFrom(...TIMES),
  type: fc.constantFrom('normal', 'standard', 'emergency'),
  number: fc.stringMatching(/^CHG00[0-9]{3}$/),
});

const cursorArb = fc.option(fc.record({ updatedAt: fc.constantFrom(...TIMES.slice(1).map((t) => `${t.replace(' ', 'T')}Z`)), id: fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{4}$/)) }), { nil: null });

const resolve = (path: string): FieldAccessor | undefined => (TABLE.fields.has(path) ? { get: (row: Row) => row[path] ?? '', numeric: false } : undefined);

/** What ServiceNow's table API means by the query: every matching row, sorted, then the first `needed`. */
function bruteForce(rows: readonly Row[], query: string, needed: number): { ids: string[]; total: number } {
  const c = compileEncodedQuery(query, resolve);
  const matched = rows.filter(c.matches);
  return { ids: c.order(matched).slice(0, needed).map((r) => r.sys_id ?? ''), total: matched.length };
}

describe('simulator keyset paging', () => {
  it('answers each page as a filter and sort of the whole table would, with or without an instance filter', () => {
    fc.assert(
      fc.property(fc.uniqueArray(rowArb, { selector: (r) => r.sys_id, maxLength: 60 }), cursorArb, fc.constantFrom(null, 'type=normal', 'type=normal^ORtype=emergency'), fc.integer({ min: 1, max: 25 }), (rows, cursor, extra, needed) => {
        const store = new SimStore();
        const table = store.add(new SimTable(TABLE));
        for (const row of rows) table.put(row);
        const query = keysetQuery({ table: 'change_request', extra, timeField: 'sys_updated_on', idField: 'sys_id' }, cursor);
        const got = store.select('change_request', query, needed);
        const want = bruteForce(rows, query, needed);
        expect({ ids: got.rows.slice(0, needed).map((r) => r.sys_id), total: got.total }).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });

  it('sees a row written after the rows were first sorted', () => {
    const store = new SimStore();
    const table = store.add(new SimTable(TABLE));
    table.put({ sys_id: 'aaaa', sys_updated_on: '2026-03-01 08:00:00', type: 'normal', number: 'CHG00001' });
    const query = keysetQuery({ table: 'change_request', extra: null, timeField: 'sys_updated_on', idField: 'sys_id' }, { updatedAt: '2026-03-01T07:00:00Z', id: '' });
    expect(store.select('change_request', query).total).toBe(1);
    table.put({ sys_id: 'bbbb', sys_updated_on: '2026-03-01 09:00:00', type: 'normal', number: 'CHG00002' });
    expect(store.select('change_request', query).rows.map((r) => r.sys_id)).toEqual(['aaaa', 'bbbb']);
  });
});
