// Paging a change's history to its end through the real HTTP route, for the
// tests that hold each source of it (write-backs, assessments, revisions,
// enforcement records, approvals) to a page's worth of reads: the server as
// `serve` builds it around a store bundle, a wrapper counting what a store
// hands back, and the page loop.

import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { expect } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import type { AssessmentStore } from '../../src/store/assessment-store.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

export interface HistoryItem {
  id: string;
  kind: string;
  firstAt: string;
  by?: unknown;
  seq?: number;
}

/** The orders and page sizes each test pages with: a large page and one that splits every crowded instant. */
export const PAGINGS = [
  ['asc', 1000],
  ['desc', 1000],
  ['asc', 333],
  ['desc', 333],
] as const;

/** How many records one answer of a store holds: a list's items, a map's entries, a mirrored change's approvals and notes. */
function recordsIn(answer: unknown): number {
  if (Array.isArray(answer)) return answer.length;
  if (answer instanceof Map) return answer.size;
  if (typeof answer === 'object' && answer !== null && 'approvals' in answer && 'journal' in answer) {
    const { approvals, journal } = answer as { approvals: unknown; journal: unknown };
    return (Array.isArray(approvals) ? approvals.length : 0) + (Array.isArray(journal) ? journal.length : 0);
  }
  return 0;
}

/**
 * `store`, counting every item its reads hand back: what a history page costs in that store's records. `except`:
 * reads not counted (those of another kind of entry the same store serves, bounded by its own test).
 */
export function countingReads<T extends object>(store: T, except: readonly string[] = []): { store: T; read: () => number } {
  let read = 0;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (except.includes(String(prop))) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const answer: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        read += recordsIn(answer);
        return answer;
      };
    },
  });
  return { store: proxy, read: () => read };
}

/** The HTTP app over `stores`, with the change store or the assessment store replaced (by a counting wrapper). */
export function historyServer(stores: StoreBundle, replaced: { changes?: ChangeStore; assessments?: AssessmentStore } = {}): FastifyInstance {
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  return buildServer({
    systems: registry.systems,
    store: replaced.changes ?? stores.changes,
    engine: new SyncEngine({ store: stores.changes, logger, metrics }),
    metrics,
    logger,
    history: { assessments: replaced.assessments ?? stores.assessments, outbox: stores.outbox, ownWritesOf: () => undefined },
  });
}

/**
 * Every entry of `key`'s history, page by page in `order`, each page no longer than `limit`; with `read`, each
 * request reads at most the page and one more to tell whether another follows. Fails past 20 pages.
 */
export async function pageHistory(server: FastifyInstance, key: string, order: 'asc' | 'desc', limit: number, read?: () => number): Promise<HistoryItem[]> {
  const items: HistoryItem[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const before = read?.() ?? 0;
    const response = await server.inject({ method: 'GET', url: `/v1/changes/${key}/history?order=${order}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}` });
    expect(response.statusCode).toBe(200);
    if (read !== undefined) expect({ order, limit, pages, read: read() - before }).toEqual({ order, limit, pages, read: expect.toSatisfy((n: number) => n <= limit + 1) });
    const page = response.json() as { items: HistoryItem[]; nextCursor: string | null };
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null && pages < 20);
  expect({ order, limit, done: cursor === null }).toEqual({ order, limit, done: true });
  return items;
}
