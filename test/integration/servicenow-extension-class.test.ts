// A change of an extension class (a table extending change_request, listed
// under `classes:` in the mapping) is mirrored with its approvals and its work
// notes, whichever table name ServiceNow gives them: the table they were
// written through (change_request) or the change's class. The reference leaves
// it unverified (sys_journal_field.name, sysapproval_approver.source_table), so
// both run, through the real connector, engine and store, and through the
// re-fetch of one change a webhook triggers.

import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { ServiceNowSimulator, type ChildRowsNamed } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const BASE = 'https://acme.service-now.com';
const EXTENSION = 'u_change_request_ext';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function world(childRowsNamed: ChildRowsNamed) {
  const sim = new ServiceNowSimulator({ baseUrl: BASE, childRowsNamed });
  server.resetHandlers(...sim.handlers());
  const instance = ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0 });
  // The site's mapping lists its extension class (mappings/README.md, `classes`).
  const mapping = { ...loadServiceNowMapping(), classes: new Set(['change_request', EXTENSION]) };
  const logger = createLogger({ level: 'silent' });
  const connector = createServiceNowConnector(instance, { mapping, logger });
  const store = SqliteChangeStore.open(':memory:');
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  const hour = new Date(Date.now() - 3_600_000);
  /** A change of `sys_class_name` with one approved approver and one work note. */
  const change = (sysClassName: string, title: string) => {
    const row = sim.createChange({ short_description: title, sys_class_name: sysClassName }, { at: hour });
    const sysId = row.sys_id as string;
    sim.addApproval(sysId, { approver: 'admin', state: 'approved' }, { at: hour });
    sim.addJournal(sysId, 'work_notes', `Rollback rehearsed for ${title}.`, 'admin', { at: hour });
    return { sysId, number: row.number as string };
  };
  return { sim, store, engine, connector, change };
}

describe.each<ChildRowsNamed>(['table', 'class'])('a change of an extension class, its children named by %s', (childRowsNamed) => {
  it('is mirrored with its approval and its work note, like a change_request', async () => {
    const w = world(childRowsNamed);
    const plain = w.change('change_request', 'Patch the payments DB');
    const extended = w.change(EXTENSION, 'Rotate the HSM keys');
    expect(w.sim.journalFor(extended.sysId)[0]?.name).toBe(childRowsNamed === 'table' ? 'change_request' : EXTENSION);

    await w.engine.sync('sn');

    for (const { number, title } of [
      { number: plain.number, title: 'Patch the payments DB' },
      { number: extended.number, title: 'Rotate the HSM keys' },
    ]) {
      const mirrored = await w.store.getChange(number);
      expect(mirrored?.change.title).toBe(title);
      expect(mirrored?.approvals.map((a) => a.state)).toEqual(['approved']);
      expect(mirrored?.journal.map((j) => j.text)).toEqual([`Rollback rehearsed for ${title}.`]);
    }
    await w.store.close();
  });

  it('is re-fetched with its approval and its work note when a webhook names it', async () => {
    const w = world(childRowsNamed);
    const extended = w.change(EXTENSION, 'Rotate the HSM keys');
    const items = (await w.connector.fetchOne(extended.sysId)) ?? [];
    expect(items.map((i) => i.kind).toSorted()).toEqual(['approval', 'change', 'journal']);
    await w.store.close();
  });
});
