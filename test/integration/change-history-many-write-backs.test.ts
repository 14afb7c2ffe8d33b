// A change changegate wrote to more than a thousand times (a long-lived change
// re-assessed and noted on for months): GET /v1/changes/:key/history pages
// through every write-back to the end, in either order, each exactly once,
// including a batch queued at one instant that a page boundary cuts through.
// On SQLite: queueing 1,500 items one by one on FerretDB takes minutes, so the
// MongoDB outbox's part (its history pages) is held by the outbox contract.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import type { NewOutboxItem } from '../../src/store/outbox-store.ts';
import { openStores } from '../../src/store/open-stores.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-history-many-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


const change = buildChange({ updatedAt: '2026-03-02T09:00:00Z' });
const other = buildChange({ nativeId: 'b'.repeat(32), key: 'CHG0030002', updatedAt: '2026-03-02T09:00:00Z' });

function note(changeId: string, nativeId: string, name: string): NewOutboxItem {
  // Evidence notes: never superseded, so every one stays in the history as queued.
  return { instance: 'sn-prod', changeId, nativeId, source: 'evidence', idempotencyKey: `${changeId}:${name}`, payload: { action: 'comment', note: { title: name, tone: 'info', lines: [name] } } };
}

interface Page {
  items: { id: string; kind: string; firstAt: string }[];
  nextCursor: string | null;
}

describe('history of a change with more than 1,000 write-backs', () => {
  let stores: StoreBundle;
  let server: FastifyInstance;

  afterEach(async () => {
    await server.close();
    await stores.close();
  });

  it('pages to the end in either order and lists every write-back exactly once', async () => {
    stores = await openStores({ kind: 'sqlite', path: join(dir, 'changegate.db') });
    await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }, { kind: 'change', change: other }], null);
    // 1,200 queued at one instant (their order is by id), then 300 one second apart, and some for another change.
    await stores.outbox.enqueue(Array.from({ length: 1200 }, (_, i) => note(change.id, change.nativeId, `burst-${i}`)), new Date('2026-03-02T10:00:00Z'));
    for (let i = 0; i < 300; i++) await stores.outbox.enqueue([note(change.id, change.nativeId, `later-${i}`)], new Date(Date.parse('2026-03-02T11:00:00Z') + i * 1000));
    await stores.outbox.enqueue([note(other.id, other.nativeId, 'elsewhere')], new Date('2026-03-02T10:30:00Z'));
    const logger = pino({ level: 'silent' });
    const metrics = createMetrics({ defaultMetrics: false });
    server = buildServer({
      systems: registry.systems,
      store: stores.changes,
      engine: new SyncEngine({ store: stores.changes, logger, metrics }),
      metrics,
      logger,
      history: { assessments: stores.assessments, outbox: stores.outbox, ownWritesOf: () => undefined },
    });

    for (const [order, limit] of [['asc', 1000], ['desc', 1000], ['asc', 333], ['desc', 333]] as const) {
      const ids: string[] = [];
      const firstAts: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await server.inject({ method: 'GET', url: `/v1/changes/${change.key}/history?order=${order}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}` });
        expect(response.statusCode).toBe(200);
        const page = response.json() as Page;
        expect(page.items.length).toBeLessThanOrEqual(limit);
        ids.push(...page.items.map((e) => e.id));
        firstAts.push(...page.items.map((e) => Date.parse(e.firstAt)));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 20);
      expect({ order, limit, done: cursor === null }).toEqual({ order, limit, done: true });
      // The change's first revision and its 1,500 write-backs, none twice, none of the other change's.
      expect({ order, limit, entries: ids.length, distinct: new Set(ids).size }).toEqual({ order, limit, entries: 1501, distinct: 1501 });
      expect(ids.filter((id) => id.startsWith('write-back:'))).toHaveLength(1500);
      const sorted = firstAts.toSorted((a, b) => (order === 'asc' ? a - b : b - a));
      expect(firstAts).toEqual(sorted);
    }
  }, 60_000);
});
