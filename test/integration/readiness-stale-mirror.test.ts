// /readyz and a stale mirror, as a load balancer polling it sees an instance's
// syncs fail: ready while the last success is within the instance's bound,
// 503 naming the instance once it is older, ready again after a success. A
// first sync still running is judged as before any sync ran.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/changegate-app.ts';
import { registry } from '../../src/app/registry.ts';
import { parseConfigText } from '../../src/config/load-config.ts';
import { readinessWorld } from '../support/readiness-world.ts';

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const MIN = 60_000;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).toReversed()) await close();
});

/** `unreadyWhenStale`: as for an instance that sets `unreadyAfter: 15m`; false, as for one that sets none. */
async function world(unreadyWhenStale = true) {
  let now = T0;
  const { engine, source, app } = await readinessWorld({ clock: () => new Date(now), staleness: { staleAfterMs: 15 * MIN, unreadyWhenStale } });
  const readyz = async () => {
    const answer = await app.inject('/readyz');
    const body = answer.json() as { status: string; instances: Record<string, unknown>[] };
    return { code: answer.statusCode, status: body.status, instance: body.instances[0] };
  };
  const at = (minutes: number) => (now = T0 + minutes * MIN);
  /** A sync `minutes` after T0 that succeeds. */
  const succeedAt = async (minutes: number) => {
    at(minutes);
    source.refuse = false;
    await engine.sync('sn-prod');
  };
  /** A sync `minutes` after T0 that ServiceNow refuses. */
  const failAt = async (minutes: number) => {
    at(minutes);
    source.refuse = true;
    await expect(engine.sync('sn-prod')).rejects.toMatchObject({ code: 'CG_SN_AUTH_REJECTED' });
  };
  return { engine, source, readyz, succeedAt, failAt, at };
}

describe('GET /readyz with a stale mirror', () => {
  it('answers 503 naming the instance, its last success, the failures since and the bound once its syncs fail past the bound; 200 after a success', async () => {
    const { readyz, succeedAt, failAt } = await world();
    await succeedAt(0);
    expect(await readyz()).toMatchObject({ code: 200, status: 'ready', instance: { id: 'sn-prod', lastSuccessAt: '2026-03-02T09:00:00.000Z', failedSinceSuccess: 0, stale: null } });

    await failAt(5);
    await failAt(10);
    // Within the bound: the mirror is 10 minutes old, the validate endpoint still answers by the policy.
    expect(await readyz()).toMatchObject({ code: 200, status: 'ready', instance: { failedSinceSuccess: 2, lastError: { code: 'CG_SN_AUTH_REJECTED' }, stale: null } });

    await failAt(16);
    const unready = await readyz();
    expect(unready).toMatchObject({
      code: 503,
      status: 'unready',
      instance: { id: 'sn-prod', lastSuccessAt: '2026-03-02T09:00:00.000Z', failedSinceSuccess: 3, staleAfterMs: 15 * MIN, unreadyWhenStale: true, lastError: { code: 'CG_SN_AUTH_REJECTED', at: '2026-03-02T09:16:00.000Z' } },
    });
    expect(unready.instance?.['stale']).toBe(
      'the mirror of sn-prod is stale: last successful sync at 2026-03-02T09:00:00.000Z (16 min ago; 3 syncs failed since, the last with CG_SN_AUTH_REJECTED), more than the 15 min allowed',
    );

    await succeedAt(17);
    expect(await readyz()).toMatchObject({ code: 200, status: 'ready', instance: { lastSuccessAt: '2026-03-02T09:17:00.000Z', failedSinceSuccess: 0, lastError: null, stale: null } });
  });

  it('answers 503 when no sync has run past the bound since the last success, failed or not', async () => {
    const { readyz, succeedAt, at } = await world();
    await succeedAt(0);
    at(15);
    expect((await readyz()).code).toBe(200);
    at(20);
    expect(await readyz()).toMatchObject({ code: 503, instance: { failedSinceSuccess: 0, stale: expect.stringContaining('(20 min ago), more than the 15 min allowed') } });
  });

  it('keeps a first sync still running ready, however long it takes; once it has failed, the bound counts from the start', async () => {
    const { engine, source, readyz, succeedAt, at } = await world();
    const gate = Promise.withResolvers<void>();
    const reading = Promise.withResolvers<void>();
    source.gate = gate.promise;
    source.reading = reading.resolve;
    const first = engine.sync('sn-prod');
    await reading.promise;
    at(40);
    expect(await readyz()).toMatchObject({ code: 200, status: 'ready', instance: { syncing: true, lastSuccessAt: null, stale: null } });
    source.refuse = true;
    gate.resolve();
    await expect(first).rejects.toMatchObject({ code: 'CG_SN_AUTH_REJECTED' });
    source.gate = Promise.resolve();
    expect(await readyz()).toMatchObject({
      code: 503,
      status: 'unready',
      instance: { lastSuccessAt: null, failedSinceSuccess: 1, stale: 'the mirror of sn-prod is stale: no successful sync since changegate started (40 min ago; 1 sync failed since, the last with CG_SN_AUTH_REJECTED), more than the 15 min allowed' },
    });
    await succeedAt(41);
    expect((await readyz()).code).toBe(200);
  });

  it('without unreadyAfter, reports the stale mirror but stays ready: the CI webhooks and the other instances keep being served', async () => {
    const { readyz, succeedAt, failAt } = await world(false);
    await succeedAt(0);
    await failAt(16);
    expect(await readyz()).toMatchObject({
      code: 200,
      status: 'ready',
      instance: { failedSinceSuccess: 1, staleAfterMs: 15 * MIN, unreadyWhenStale: false, stale: expect.stringMatching(/^the mirror of sn-prod is stale: last successful sync at 2026-03-02T09:00:00\.000Z/) },
    });
    await succeedAt(17);
    expect(await readyz()).toMatchObject({ code: 200, instance: { stale: null } });
  });

  it('keeps a first sync that failed within the bound of the start ready', async () => {
    const { readyz, failAt, at } = await world();
    await failAt(1);
    expect(await readyz()).toMatchObject({ code: 200, instance: { failedSinceSuccess: 1, stale: null } });
    at(16);
    expect((await readyz()).code).toBe(503);
  });
});

const configText = (store: string, extra: string) => `store: { kind: sqlite, path: ${store} }
instances:
  - { id: sn-prod, system: servicenow, baseUrl: https://acme.service-now.com, auth: { kind: basic, username: u, password: p }${extra} }
`;

/** The bound /readyz reports for one ServiceNow instance configured with `extra`. */
async function boundsOf(extra: string): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-unready-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfigText(configText(join(dir, 'cg.db'), extra), 'cg.yaml', {}, registry);
  const app = await createApp({ config, file: join(dir, 'cg.yaml'), registry }, { logger: pino({ level: 'silent' }) });
  closers.push(() => app.close());
  const body = (await app.server().inject('/readyz')).json() as { instances: { staleAfterMs: number; unreadyWhenStale: boolean }[] };
  return body.instances.map((i) => [i.staleAfterMs, i.unreadyWhenStale]);
}

describe('unreadyAfter in changegate.yaml', () => {
  it('judges staleness by the larger of maxStaleness and three sync intervals, and turns it into 503 only at an explicit duration', async () => {
    expect(await boundsOf('')).toEqual([[15 * MIN, false]]);
    expect(await boundsOf(', schedule: "0 * * * *"')).toEqual([[180 * MIN, false]]);
    expect(await boundsOf(', maxStaleness: 40m')).toEqual([[40 * MIN, false]]);
    expect(await boundsOf(', schedule: "0 * * * *", unreadyAfter: 45m')).toEqual([[45 * MIN, true]]);
  });

  it('refuses a bound of zero or a bad duration, naming the field', () => {
    for (const bad of ['0', '0m', 'soon']) {
      expect(() => parseConfigText(configText('cg.db', `, unreadyAfter: ${bad}`), 'cg.yaml', {}, registry)).toThrow(
        expect.objectContaining({ code: 'CG_CONFIG_INVALID', details: expect.objectContaining({ issues: [expect.stringMatching(/^cg\.yaml:3:\d+ instances\[0\]\.unreadyAfter: expected a duration/)] }) }),
      );
    }
  });
});
