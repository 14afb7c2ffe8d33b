// /readyz per instance, as an operator polling it sees a sync come and go:
// syncing while a run is in progress, the last success once one finished, and
// the code of the last failure until a run succeeds again.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance, PageRequest, PageResult } from '../../src/kit/connector.ts';
import { ChangegateError } from '../../src/errors.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';
import { registry } from '../../src/app/registry.ts';

/** One page of one change; a page can be held until the test lets it go, or refused. */
class GatedSource implements ConnectorInstance {
  readonly system = 'servicenow' as const;
  readonly instanceId = 'sn-prod';
  readonly streams = [{ name: 'changes', description: 'changes' }];
  refuse = false;
  gate: Promise<void> = Promise.resolve();
  reading: () => void = () => undefined;

  async readPage(_request: PageRequest): Promise<PageResult> {
    this.reading();
    await this.gate;
    if (this.refuse) throw new ChangegateError('CG_SN_AUTH_REJECTED', 'HTTP 401 from ServiceNow');
    return { items: [{ kind: 'change', change: buildChange() }], last: null, total: 1, hasMore: false, apiCalls: 1 };
  }

  async fetchOne(): Promise<null> {
    return null;
  }
}

const NOW = '2026-03-02T09:00:00.000Z';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).toReversed()) await close();
});

async function world() {
  const store = SqliteChangeStore.open(':memory:');
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const engine = new SyncEngine({ store, logger, metrics, clock: () => new Date(NOW) });
  const source = new GatedSource();
  engine.register({ connector: source, pageSize: 100, overlapMs: 0 });
  const app = buildServer({
    systems: registry.systems, store, engine, metrics, logger });
  await app.ready();
  closers.push(() => store.close(), () => app.close());
  const readyz = async () => (await app.inject('/readyz')).json() as Record<string, unknown>;
  return { engine, source, readyz };
}

describe('GET /readyz', () => {
  it('reports each instance syncing, its last success and the code of its last failure, from what the sync engine wrote', async () => {
    const { engine, source, readyz } = await world();
    expect(await readyz()).toEqual({ status: 'ready', store: { ok: true, changes: 0 }, instances: [{ id: 'sn-prod', syncing: false, lastSuccessAt: null, lastError: null, failedSinceSuccess: 0, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }] });

    const gate = Promise.withResolvers<void>();
    const reading = Promise.withResolvers<void>();
    source.gate = gate.promise;
    source.reading = reading.resolve;
    const run = engine.sync('sn-prod');
    await reading.promise;
    expect((await readyz()).instances).toEqual([{ id: 'sn-prod', syncing: true, lastSuccessAt: null, lastError: null, failedSinceSuccess: 0, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }]);
    gate.resolve();
    await run;
    expect(await readyz()).toEqual({ status: 'ready', store: { ok: true, changes: 1 }, instances: [{ id: 'sn-prod', syncing: false, lastSuccessAt: NOW, lastError: null, failedSinceSuccess: 0, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }] });

    source.refuse = true;
    await expect(engine.sync('sn-prod')).rejects.toMatchObject({ code: 'CG_SN_AUTH_REJECTED' });
    expect((await readyz()).instances).toEqual([{ id: 'sn-prod', syncing: false, lastSuccessAt: NOW, lastError: { code: 'CG_SN_AUTH_REJECTED', at: NOW }, failedSinceSuccess: 1, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }]);

    source.refuse = false;
    await engine.sync('sn-prod');
    expect((await readyz()).instances).toEqual([{ id: 'sn-prod', syncing: false, lastSuccessAt: NOW, lastError: null, failedSinceSuccess: 0, staleAfterMs: 900_000, unreadyWhenStale: false, stale: null }]);
  });
});
