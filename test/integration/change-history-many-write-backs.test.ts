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
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { NewOutboxItem } from '../../src/store/outbox-store.ts';
import { openStores } from '../../src/store/open-stores.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { historyServer, pageHistory, PAGINGS } from '../support/history-paging.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-history-many-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


const change = buildChange({ updatedAt: '2026-03-02T09:00:00Z' });
const other = buildChange({ nativeId: 'b'.repeat(32), key: 'CHG0030002', updatedAt: '2026-03-02T09:00:00Z' });

function note(changeId: string, nativeId: string, name: string): NewOutboxItem {
  // Evidence notes: never superseded, so every one stays in the history as queued.
  return { instance: 'sn-prod', changeId, nativeId, source: 'evidence', idempotencyKey: `${changeId}:${name}`, payload: { action: 'comment', note: { title: name, tone: 'info', lines: [name] } } };
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
    server = historyServer(stores);

    for (const [order, limit] of PAGINGS) {
      const items = await pageHistory(server, change.key, order, limit);
      const ids = items.map((e) => e.id);
      const firstAts = items.map((e) => Date.parse(e.firstAt));
      // The change's first revision and its 1,500 write-backs, none twice, none of the other change's.
      expect({ order, limit, entries: ids.length, distinct: new Set(ids).size }).toEqual({ order, limit, entries: 1501, distinct: 1501 });
      expect(ids.filter((id) => id.startsWith('write-back:'))).toHaveLength(1500);
      expect(firstAts).toEqual(firstAts.toSorted((a, b) => (order === 'asc' ? a - b : b - a)));
    }
  }, 60_000);
});
