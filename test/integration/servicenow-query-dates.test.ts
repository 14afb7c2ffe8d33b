// The keyset reads send literal dates (`sys_updated_on>2026-03-01 10:00:00`) that the
// instance must compare with its stored UTC values. Reference §10 lists that as
// inferred, not verified, so the connector checks it on a row before relying on it:
// an instance that read the literals in the API user's zone would make a user west
// of UTC skip hours of changes without a sign. Run through the real engine and store
// against the simulator, once per way an instance can read them.

import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const BASE = 'https://query-dates.service-now.test';
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  server.resetHandlers();
  server.events.removeAllListeners();
});
afterAll(() => server.close());

const instance = ServiceNowInstance.parse({ id: 'sn-dates', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'admin', password: 'admin' }, pageSize: 10 });

/** A simulator of 35 changes updated over the last day, an engine and a store on it; the change_request queries sent are recorded. */
function world(queryDates: 'utc' | 'user', timeZone: string) {
  const sim = new ServiceNowSimulator({ baseUrl: BASE, timeZone, queryDates });
  sim.bulkCreateChanges(35, { seed: 11, end: new Date(Date.now() - 3_600_000) });
  server.use(...sim.handlers());
  const queries: string[] = [];
  server.events.on('request:start', ({ request }) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith('/change_request')) queries.push(url.searchParams.get('sysparm_query') ?? '');
  });
  const store = SqliteChangeStore.open(':memory:');
  const logger = pino({ level: 'silent' });
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  const connector = createServiceNowConnector(instance, { mapping: loadServiceNowMapping(), logger, retry: { baseMs: 1, maxMs: 5 } });
  engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  return { sim, store, engine, queries };
}

describe('literal dates in ServiceNow queries', () => {
  it('checks once that the instance reads them as UTC, then mirrors every change', async () => {
    const { sim, store, engine, queries } = world('utc', 'America/Los_Angeles');
    await engine.sync('sn-dates');
    expect(await store.countChanges('sn-dates')).toBe(35);
    // The second page's cursor row looked up by its stored value, once: later pages rely on the answer.
    const checks = queries.filter((q) => q.startsWith('sys_id='));
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatch(/^sys_id=[0-9a-f]{32}\^sys_updated_on=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    const late = sim.createChange({ short_description: 'Raise the mail relay quota' });
    await engine.sync('sn-dates');
    expect((await store.getChange(late.number as string))?.change.title).toBe('Raise the mail relay quota');
    expect(queries.filter((q) => q.startsWith('sys_id='))).toHaveLength(1);
    await store.close();
  });

  it('stops the sync with CG_SN_QUERY_TIME_ZONE when the instance reads them in a zone west of UTC, before anything is skipped', async () => {
    const { store, engine } = world('user', 'America/Los_Angeles');
    await expect(engine.sync('sn-dates')).rejects.toMatchObject({
      code: 'CG_SN_QUERY_TIME_ZONE',
      kind: 'config',
      message: expect.stringMatching(/API user's time zone.*GMT/),
    });
    // The first page (no literal in its query) is stored; the stream's cursor stays where the next run can resume.
    expect(await store.countChanges('sn-dates')).toBe(10);
    await store.close();
  });

  it('stops as well in a zone east of UTC, where reads would start early (re-reading) instead of late', async () => {
    const { engine } = world('user', 'Europe/Berlin');
    await expect(engine.sync('sn-dates')).rejects.toMatchObject({ code: 'CG_SN_QUERY_TIME_ZONE' });
  });

  it('syncs when the API user is on GMT, where both readings agree', async () => {
    const { store, engine } = world('user', 'GMT');
    await engine.sync('sn-dates');
    expect(await store.countChanges('sn-dates')).toBe(35);
    await store.close();
  });
});
