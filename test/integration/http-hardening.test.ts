// The HTTP surface as a hostile client meets it: odd query values, long and
// malformed path parameters, oversized headers, unknown and wrong methods, and
// list pages of large records. Every answer is a CG_ error body (or the data),
// never the framework's or Node's own, and never a 414 or 500. Requests are
// written byte for byte over a socket, so no client normalises them first.

import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { LIST_PAGE_BUDGET } from '../../src/server/routes/changes.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { at, buildChange, changeNumber, sysId } from '../support/change-builder.ts';
import { registry } from '../../src/app/registry.ts';

const LONG_KEY = `CHG-${'7'.repeat(146)}`;
const BIG = 30;
let app: FastifyInstance;
let store: SqliteChangeStore;
let port: number;

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  // 30 changes whose source records are ~100 KB each: 3 MB of raw in all.
  const items = Array.from({ length: BIG }, (_, i) => ({
    kind: 'change' as const,
    change: buildChange({
      nativeId: sysId(i + 1),
      key: changeNumber(i + 1),
      updatedAt: at(i),
      raw: { sys_id: sysId(i + 1), description: `${i}:`.padEnd(100_000, 'x') },
    }),
  }));
  items.push({ kind: 'change', change: buildChange({ nativeId: sysId(999), key: LONG_KEY, updatedAt: at(500), raw: { sys_id: sysId(999) } }) });
  await store.applyPage('sn-prod', 'changes', items, null);
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  app = buildServer({
    systems: registry.systems, store, engine: new SyncEngine({ store, logger, metrics }), metrics, logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await app.close();
  await store.close();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function raw(method: string, target: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const [status = '', ...lines] = text.slice(0, end).split('\r\n');
      const head = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(status.split(' ')[1]), headers: head, body: text.slice(end + 4) });
    });
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.end(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

const errorOf = (response: RawResponse): { code: string; kind: string; message: string; details: Record<string, unknown> } =>
  (JSON.parse(response.body) as { error: { code: string; kind: string; message: string; details: Record<string, unknown> } }).error;

describe('query values', () => {
  it.each(['0x10', '%205', '1e2', '+5', '-1', '5.0', '%35%20'])('refuses limit=%s (plain decimal digits only), naming the field', async (limit) => {
    const response = await raw('GET', `/v1/changes?limit=${limit}`);
    expect(response.status).toBe(400);
    expect(errorOf(response)).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field: 'limit', where: 'query' } });
    expect(errorOf(response).message).toMatch(/^query limit: /);
  });

  it('takes limit=5 and limit=007', async () => {
    for (const limit of ['5', '007']) {
      const response = await raw('GET', `/v1/changes?limit=${limit}`);
      expect(response.status).toBe(200);
      expect((JSON.parse(response.body) as { items: unknown[] }).items).toHaveLength(Number(limit));
    }
  });
});

describe('path parameters', () => {
  it('finds a change whose key is 150 characters long (past the router default of 100)', async () => {
    const response = await raw('GET', `/v1/changes/${LONG_KEY}`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ change: { key: LONG_KEY } });
    expect((await raw('GET', `/v1/changes/${'a'.repeat(200)}`)).status).toBe(404);
  });

  it('refuses a key over 200 characters with 400 naming the field, however long', async () => {
    for (const length of [201, 1000, 5000]) {
      const response = await raw('GET', `/v1/changes/${'a'.repeat(length)}`);
      expect({ length, status: response.status }).toEqual({ length, status: 400 });
      expect(errorOf(response).code).toBe('CG_INPUT_INVALID');
    }
    expect(errorOf(await raw('GET', `/v1/changes/${'a'.repeat(201)}`))).toMatchObject({ details: { field: 'key', where: 'params' } });
  });

  it('answers a malformed percent-escape 400 in the error shape', async () => {
    for (const target of ['/v1/changes/%zz', '/v1/changes/%', '/v1/changes/%E0%A4%A']) {
      const response = await raw('GET', target);
      expect({ target, status: response.status }).toEqual({ target, status: 400 });
      expect(errorOf(response)).toMatchObject({ code: 'CG_INPUT_INVALID', kind: 'input', details: { field: 'path' } });
    }
  });
});

describe('requests Node or the router would answer in their own shape', () => {
  it('answers headers over 16 KiB 431 with a CG_ body', async () => {
    const response = await raw('GET', '/healthz', { 'X-Padding': 'a'.repeat(20_000) });
    expect(response.status).toBe(431);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(errorOf(response)).toMatchObject({ code: 'CG_INPUT_INVALID', message: expect.stringMatching(/^headers: /) });
  });

  it('answers a method Node cannot parse 400 with a CG_ body', async () => {
    const response = await raw('FOO', '/v1/changes');
    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('CG_INPUT_INVALID');
  });

  it.each([
    ['PROPFIND', '/v1/changes', 'GET, HEAD'],
    ['TRACE', '/v1/changes', 'GET, HEAD'],
    ['DELETE', `/v1/changes/${changeNumber(1)}`, 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['OPTIONS', '/healthz', 'GET, HEAD'],
    ['PUT', '/%76%31/changes', 'GET, HEAD'],
  ])('answers %s %s 405 with Allow: %s', async (method, target, allow) => {
    const response = await raw(method, target);
    expect(response.status).toBe(405);
    expect(response.headers['allow']).toBe(allow);
    expect(errorOf(response)).toMatchObject({ code: 'CG_METHOD_NOT_ALLOWED', details: { allow: allow.split(', ') } });
  });

  it('still answers an unknown path 404', async () => {
    for (const method of ['GET', 'TRACE', 'PROPFIND']) {
      const response = await raw(method, '/v1/nothing');
      expect({ method, status: response.status, code: errorOf(response).code }).toEqual({ method, status: 404, code: 'CG_NOT_FOUND' });
    }
  });
});

describe('list pages', () => {
  interface Page {
    items: { key: string; raw?: unknown }[];
    nextCursor: string | null;
  }

  it('leave the source record out unless include=raw', async () => {
    const plain = await raw('GET', '/v1/changes?limit=5');
    const page = JSON.parse(plain.body) as Page;
    expect(page.items).toHaveLength(5);
    expect(page.items.every((c) => !('raw' in c))).toBe(true);
    expect(plain.body.length).toBeLessThan(5 * 10_000);
    const withRaw = JSON.parse((await raw('GET', '/v1/changes?limit=2&include=raw')).body) as Page;
    expect(withRaw.items.map((c) => c.raw)).toEqual([expect.objectContaining({ sys_id: sysId(1) }), expect.objectContaining({ sys_id: sysId(2) })]);
  });

  it('stop at the size budget with a cursor that continues right after, so paging with raw loses nothing', async () => {
    const first = await raw('GET', '/v1/changes?limit=1000&include=raw');
    const page = JSON.parse(first.body) as Page;
    expect(page.items.length).toBeLessThan(BIG);
    expect(page.items.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(first.body)).toBeLessThanOrEqual(LIST_PAGE_BUDGET + 1024);
    expect(page.nextCursor).not.toBeNull();

    const keys = page.items.map((c) => c.key);
    let cursor = page.nextCursor;
    while (cursor !== null) {
      const next = JSON.parse((await raw('GET', `/v1/changes?limit=1000&include=raw&cursor=${cursor}`)).body) as Page;
      keys.push(...next.items.map((c) => c.key));
      cursor = next.nextCursor;
    }
    const all = (JSON.parse((await raw('GET', '/v1/changes?limit=1000')).body) as Page).items.map((c) => c.key);
    expect(all).toHaveLength(BIG + 1);
    expect(keys).toEqual(all);
  });
});
