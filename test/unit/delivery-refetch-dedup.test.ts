// A burst of webhook deliveries about a few records costs one re-fetch per
// record, not one per delivery: a record is fetched once per batch, and a
// delivery recorded before a fetch of its record started (a later batch of the
// same burst) is covered by that fetch. A delivery recorded after the fetch
// started gets a fetch of its own, since that fetch may have read an older
// version than the one it announces.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangegateError } from '../../src/errors.ts';
import { processOwner } from '../../src/store/claim-owner.ts';
import type { ConnectorWebhook } from '../../src/kit/connector.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { ApplyResult } from '../../src/store/change-store.ts';
import { SqliteDeliveryStore } from '../../src/store/sqlite/sqlite-delivery-store.ts';
import { DeliveryProcessor } from '../../src/sync/delivery-processor.ts';

const applied: ApplyResult = { changesWritten: 1, changesUnchanged: 0, changesStale: 0, approvalsWritten: 0, journalWritten: 0, invalid: 0 } as ApplyResult;

const webhook: ConnectorWebhook = {
  verify: () => ({ ok: true }) as ReturnType<ConnectorWebhook['verify']>,
  deliveryId: () => null,
  toRecordIds: (body) => [(body as { issue: { id: string } }).issue.id],
};

/** Batch after batch until none is due (an unstarted processor's drain works one batch). */
async function drainAll(work: DeliveryProcessor): Promise<number> {
  let total = 0;
  for (let n = await work.drain(); n > 0; n = await work.drain()) total += n;
  return total;
}

describe('webhook re-fetches in a burst', () => {
  let dir: string;
  let store: SqliteDeliveryStore;
  let now: number;
  const fetched: string[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cg-refetch-'));
    store = SqliteDeliveryStore.open(join(dir, 'store.db'));
    now = Date.parse('2026-12-05T10:00:00Z');
    fetched.length = 0;
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const processor = (batchSize: number) =>
    new DeliveryProcessor({
      store,
      engine: {
        async syncOne(_instance, nativeId) {
          fetched.push(nativeId);
          now += 5; // a fetch takes time on the processor's clock
          return applied;
        },
      },
      webhookOf: () => webhook,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      clock: () => new Date(now),
      options: { batchSize, concurrency: 2 },
    });

  async function burst(count: number, records: string[]): Promise<void> {
    for (let i = 0; i < count; i++) {
      now += 1;
      await store.record({ system: 'jira', instance: 'jsm', deliveryId: `d-${now}-${i}`, receivedAt: new Date(now).toISOString(), body: { issue: { id: records[i % records.length] } } });
    }
  }

  it('fetches each record once for 60 deliveries about 3 records, across batches, and finishes every delivery', async () => {
    await burst(60, ['10001', '10002', '10003']);
    expect(await drainAll(processor(10))).toBe(60);
    expect(fetched.toSorted()).toEqual(['10001', '10002', '10003']);
    const left = await store.claim(100, new Date(now + 3_600_000));
    expect(left).toEqual([]);
  });

  it('fetches again for a delivery recorded after the last fetch of its record started', async () => {
    const work = processor(50);
    await burst(6, ['10001', '10002']);
    await drainAll(work);
    expect(fetched.toSorted()).toEqual(['10001', '10002']);
    // A newer edit of 10001 after its fetch: the fetch may have read the older version.
    await burst(1, ['10001']);
    await drainAll(work);
    expect(fetched.toSorted()).toEqual(['10001', '10001', '10002']);
  });

  it('works, at its next pass, the deliveries a pass claimed and could not settle because the store failed', async () => {
    await burst(4, ['10001', '10002', '10003', '10004']);
    let failures = 1;
    const flaky = new Proxy(store, {
      get(target, name) {
        if (name === 'complete') {
          return (id: string, at: Date) => (failures-- > 0 ? Promise.reject(new ChangegateError('CG_STORE_BUSY', 'the store is locked by another process')) : target.complete(id, at));
        }
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const work = new DeliveryProcessor({
      store: flaky,
      engine: { syncOne: async () => applied },
      webhookOf: () => webhook,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      clock: () => new Date(now),
      owner: processOwner(),
      // The 30 s lease never runs out here: only the release brings them back.
      options: { pollMs: 20 },
    });
    work.start();
    try {
      await vi.waitFor(async () => expect(await store.pendingCount()).toBe(0), { timeout: 5_000, interval: 20 });
    } finally {
      await work.stop();
    }
    expect(await store.claim(100, new Date(now))).toEqual([]);
  });
});
