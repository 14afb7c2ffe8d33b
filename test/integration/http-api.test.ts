import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { at, buildApproval, buildChange, buildJournalEntry, changeNumber, sysId } from '../support/change-builder.ts';
import { registry } from '../../src/app/registry.ts';

let app: FastifyInstance;
let store: SqliteChangeStore;

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  const items = Array.from({ length: 25 }, (_, i) => ({
    kind: 'change' as const,
    change: buildChange({
      nativeId: sysId(i + 1),
      key: changeNumber(i + 1),
      instance: 'sn-prod',
      updatedAt: at(i),
      state: i % 2 === 0 ? 'implement' : 'closed',
      nativeRevision: 1,
    }),
  }));
  await store.applyPage('sn-prod', 'changes', items, null);
  await store.applyPage(
    'sn-prod',
    'approvals',
    [{ kind: 'approval', changeNativeId: sysId(1), approval: buildApproval({ id: 'appr-1', state: 'approved' }) }],
    null,
  );
  await store.applyPage('sn-prod', 'journal', [{ kind: 'journal', changeNativeId: sysId(1), entry: buildJournalEntry({ id: 'jn-1', text: 'Backout tested on staging.' }) }], null);
  // A second observed version of CHG0030001.
  const first = items[0];
  if (!first) throw new Error('no items');
  await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: { ...first.change, title: 'Patch the edge routers (rescheduled)', nativeRevision: 2, updatedAt: at(100) } }], null);
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  app = buildServer({
    systems: registry.systems, store, engine: new SyncEngine({ store, logger, metrics }), metrics, logger });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await store.close();
});

describe('HTTP API', () => {
  it('answers health, readiness and metrics', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/readyz')).json()).toMatchObject({ status: 'ready', store: { ok: true, changes: 25 } });
    const metrics = await app.inject('/metrics');
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('changegate_sync_runs_total');
  });

  it('pages through the mirror with a cursor, filtered by state', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await app.inject({ url: '/v1/changes', query: { state: 'implement', limit: '5', ...(cursor ? { cursor } : {}) } });
      expect(response.statusCode).toBe(200);
      const body = response.json() as { items: { key: string; state: string }[]; nextCursor: string | null };
      for (const item of body.items) {
        expect(item.state).toBe('implement');
        seen.push(item.key);
      }
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(13);
    expect(new Set(seen).size).toBe(13);
  });

  it('filters by updatedSince', async () => {
    const body = (await app.inject({ url: '/v1/changes', query: { updatedSince: at(20), limit: '100' } })).json() as { items: { key: string }[] };
    expect(body.items.map((c) => c.key)).toEqual([changeNumber(21), changeNumber(22), changeNumber(23), changeNumber(24), changeNumber(25), changeNumber(1)]);
  });

  it('returns one change with approvals, journal and revisions', async () => {
    const response = await app.inject(`/v1/changes/${changeNumber(1)}`);
    expect(response.statusCode).toBe(200);
    const body = response.json() as {
      change: { title: string };
      approvals: { id: string }[];
      journal: { text: string }[];
      revisions: { seq: number; nativeRevision: number; diff: { path: string; from?: unknown; to?: unknown }[] }[];
    };
    expect(body.change.title).toBe('Patch the edge routers (rescheduled)');
    expect(body.approvals.map((a) => a.id)).toEqual(['appr-1']);
    expect(body.journal.map((j) => j.text)).toEqual(['Backout tested on staging.']);
    expect(body.revisions.map((r) => r.nativeRevision)).toEqual([1, 2]);
    // No event source configured in this server: the change has no correlated events, and says so.
    expect((body as unknown as { events: unknown[] }).events).toEqual([]);
    expect(body.revisions[1]?.diff).toContainEqual(expect.objectContaining({ path: 'title', to: 'Patch the edge routers (rescheduled)' }));
  });

  it('answers 404 with a code for an unknown change', async () => {
    const response = await app.inject('/v1/changes/CHG9999999');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'CG_NOT_FOUND', details: { field: 'key' } } });
  });

  it.each([
    [{ state: 'done' }, 'state'],
    [{ limit: '0' }, 'limit'],
    [{ updatedSince: 'yesterday' }, 'updatedSince'],
    [{ cursor: '%%%' }, 'cursor'],
    [{ colour: 'blue' }, 'colour'],
  ])('refuses bad query %j naming the field', async (query, field) => {
    const response = await app.inject({ url: '/v1/changes', query });
    expect(response.statusCode).toBe(400);
    const body = response.json() as { error: { code: string; message: string; details: { field: string } } };
    expect(body.error.code).toBe('CG_INPUT_INVALID');
    expect(body.error.details.field).toBe(field);
  });

  it('answers an unknown route with a code', async () => {
    const response = await app.inject('/v2/nothing');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'CG_NOT_FOUND' } });
  });
});
