// /readyz per instance, as an operator polling it sees a sync come and go:
// syncing while a run is in progress, the last success once one finished, and
// the code of the last failure until a run succeeds again.

import { describe, expect, it } from 'vitest';
import { readinessWorld } from '../support/readiness-world.ts';

const NOW = '2026-03-02T09:00:00.000Z';

async function world() {
  const { engine, source, app } = await readinessWorld({ clock: () => new Date(NOW) });
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
