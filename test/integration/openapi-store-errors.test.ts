// A store that cannot answer, met by a read route of the real server: the
// answer (status, code, Retry-After) is one GET /openapi.json declares for that
// route, so a client generated from the document expects it.

import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChanges } from '../support/change-builder.ts';

interface Response {
  headers?: Record<string, unknown>;
  content: Record<string, { schema: { properties?: { error?: { properties: { code: { enum: string[] } } } } } }>;
}
type Document = { paths: Record<string, Record<string, { responses: Record<string, Response> }>> };

let dir: string;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).toReversed()) await close();
  rmSync(dir, { recursive: true, force: true });
});

/** The real server on a SQLite file holding a few changes; the document as it serves it. */
async function world(): Promise<{ app: FastifyInstance; store: SqliteChangeStore; path: string; document: Document }> {
  dir = mkdtempSync(join(tmpdir(), 'cg-openapi-store-'));
  const path = join(dir, 'changegate.db');
  const store = SqliteChangeStore.open(path);
  await store.applyPage('sn-prod', 'changes', buildChanges(3).map((change) => ({ kind: 'change', change })), { updatedAt: '2026-03-01T00:00:00.000Z', id: 'x' });
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const app = buildServer({ systems: registry.systems, store, engine: new SyncEngine({ store, logger, metrics }), metrics, logger });
  await app.ready();
  closers.push(() => store.close(), () => app.close());
  return { app, store, path, document: (await app.inject('/openapi.json')).json() };
}

/** What the document declares for one answer of GET `path`: its codes and whether it names Retry-After. */
function declared(document: Document, path: string, status: number): { codes: string[]; retryAfter: boolean } {
  const response = document.paths[path]?.['get']?.responses[String(status)];
  return { codes: response?.content['application/json']?.schema.properties?.error?.properties.code.enum ?? [], retryAfter: response?.headers?.['Retry-After'] !== undefined };
}

describe('a read route meeting a store fault', () => {
  it('answers a corrupt store 503 CG_STORE_UNAVAILABLE with Retry-After, as its OpenAPI entry declares', async () => {
    const { app, path, document } = await world();
    // The mirror's pages into the main file, then garbage over the root page of the changes table.
    const side = new DatabaseSync(path);
    side.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const root = Number((side.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'changes'`).get() as { rootpage: number }).rootpage);
    const pageSize = Number((side.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
    side.close();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (root - 1) * pageSize);
    closeSync(fd);

    for (const [url, route] of [
      ['/v1/changes?limit=5', '/v1/changes'],
      ['/v1/changes/CHG0030001', '/v1/changes/{key}'],
    ] as const) {
      const answer = await app.inject(url);
      expect({ url, status: answer.statusCode, code: answer.json().error?.code, retryAfter: answer.headers['retry-after'] }).toEqual({ url, status: 503, code: 'CG_STORE_UNAVAILABLE', retryAfter: '5' });
      expect(declared(document, route, 503)).toEqual({ codes: expect.arrayContaining(['CG_STORE_UNAVAILABLE', 'CG_STORE_BUSY']), retryAfter: true });
    }
  });

  it('answers a store that fails to read 500 CG_STORE_FAILED, as its OpenAPI entry declares', async () => {
    const { app, store, document } = await world();
    // A connection that can no longer read: neither busy nor a fault the health check knows.
    await store.close();
    const answer = await app.inject('/v1/changes?limit=5');
    expect({ status: answer.statusCode, code: answer.json().error?.code }).toEqual({ status: 500, code: 'CG_STORE_FAILED' });
    expect(declared(document, '/v1/changes', 500).codes).toContain('CG_STORE_FAILED');
  });
});
