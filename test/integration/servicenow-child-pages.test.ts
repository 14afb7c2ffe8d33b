// One change's approvals and journal are read page by page: every page up to
// X-Total-Count even when ACLs empty one on the way, and, when the instance
// suppresses the paging headers, on until a page comes back short. Past the
// page bound the re-fetch fails rather than mirror a truncated list.

import { readFileSync } from 'node:fs';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { isChangegateError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

type Row = Record<string, unknown>;
const fixture = (name: string): Row[] =>
  (JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8')) as { result: Row[] }).result;

const BASE = 'https://acme.service-now.com';
const TABLE = `${BASE}/api/now/table`;
const CHANGE = fixture('CONSTRUCTED-change_request_table_api_display_value_all.json')[0] as Row;
const APPROVAL = fixture('CONSTRUCTED-sysapproval_approver_display_value_all.json')[0] as Row;
const CHANGE_ID = '3d5f2a1c47410200e90d87e8dee49a01';

const approval = (n: number): Row => {
  const sysId = `${String(n).padStart(2, '0')}f0c2e447410200e90d87e8dee49b11`;
  return { ...APPROVAL, sys_id: { display_value: sysId, value: sysId } };
};

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function connector(pageSize: number) {
  const instance = ServiceNowInstance.parse({ id: 'sn-test', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'svc', password: 'pw' }, pageSize });
  return createServiceNowConnector(instance, { mapping: loadServiceNowMapping(), logger: createLogger({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 } });
}

/** The change, an empty journal, and approvals served by offset; `hidden` offsets are withheld (an ACL), `headers` false suppresses paging headers. */
function serve(approvals: Row[], opts: { hidden?: number[]; headers?: boolean } = {}): number[] {
  const offsets: number[] = [];
  server.use(
    http.get(`${TABLE}/change_request/:id`, () => HttpResponse.json({ result: CHANGE })),
    http.get(`${TABLE}/sys_journal_field`, () => HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': '0' } })),
    http.get(`${TABLE}/sysapproval_approver`, ({ request }) => {
      const params = new URL(request.url).searchParams;
      const offset = Number(params.get('sysparm_offset'));
      const limit = Number(params.get('sysparm_limit'));
      offsets.push(offset);
      const rows = approvals.slice(offset, offset + limit).filter((_, k) => !(opts.hidden ?? []).includes(offset + k));
      const headers: Record<string, string> = opts.headers === false ? {} : { 'X-Total-Count': String(approvals.length) };
      return HttpResponse.json({ result: rows }, { headers });
    }),
  );
  return offsets;
}

const approvalIds = (items: Awaited<ReturnType<ReturnType<typeof connector>['fetchOne']>>) =>
  (items ?? []).flatMap((item) => (item.kind === 'approval' ? [item.approval.id] : []));

describe('ServiceNow connector: a change\'s children over several pages', () => {
  it('reads every page up to the total', async () => {
    const offsets = serve([1, 2, 3, 4, 5].map(approval));
    const items = await connector(2).fetchOne(CHANGE_ID);
    expect(approvalIds(items)).toHaveLength(5);
    expect(offsets).toEqual([0, 2, 4]);
  });

  it('walks past a page an ACL emptied, as long as the total says more rows exist', async () => {
    const offsets = serve([1, 2, 3, 4, 5].map(approval), { hidden: [2, 3] });
    const items = await connector(2).fetchOne(CHANGE_ID);
    expect(approvalIds(items)).toHaveLength(3);
    expect(offsets).toEqual([0, 2, 4]);
  });

  it('without paging headers, asks again after a full page and stops after a short one', async () => {
    const offsets = serve([1, 2, 3].map(approval), { headers: false });
    const items = await connector(2).fetchOne(CHANGE_ID);
    expect(approvalIds(items)).toHaveLength(3);
    expect(offsets).toEqual([0, 2]);
  });

  it('without paging headers, stops at an empty page after a full one', async () => {
    const offsets = serve([1, 2, 3, 4].map(approval), { headers: false });
    const items = await connector(2).fetchOne(CHANGE_ID);
    expect(approvalIds(items)).toHaveLength(4);
    expect(offsets).toEqual([0, 2, 4]);
  });
});

describe('ServiceNow connector: a change with more children than a re-fetch reads (100 pages)', () => {
  it('fails the one-change re-fetch naming the table and the change, and mirrors and assesses nothing from a partial list', async () => {
    serve(Array.from({ length: 101 }, (_, n) => approval(n)));
    const store = SqliteChangeStore.open(':memory:');
    const owed: string[] = [];
    const engine = new SyncEngine({
      store,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      onChangesWritten: async (_instance, ids) => void owed.push(...ids),
    });
    engine.register({ connector: connector(1), pageSize: 1, overlapMs: 0 });
    try {
      const error = await engine.syncOne('sn-test', CHANGE_ID).then(
        () => null,
        (err: unknown) => err,
      );
      expect(isChangegateError(error) ? error.code : error).toBe('CG_SN_TOO_MANY_ROWS');
      expect((error as Error).message).toMatch(/sysapproval_approver.*CHG0030001/);
      // The next sync's approvals stream brings every row; until then nothing is judged on 100 of 101.
      expect(await store.getChange('CHG0030001')).toBeNull();
      expect(owed).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
