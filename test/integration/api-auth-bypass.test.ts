// server.apiTokens cannot be walked around: the token check is decided on the
// route the router matched, so every spelling of a protected route's path that
// the router accepts (percent-escapes, absolute-form and proxy-form targets,
// HEAD) is refused without a token. The cases are generated from the server's
// own route table, so a route added later is covered without touching this file.

import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validationInstances } from '../../src/app/validation-instances.ts';
import { InstanceConfig } from '../../src/app/registry.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer, routesOf } from '../../src/server/build-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteDeliveryStore } from '../../src/store/sqlite/sqlite-delivery-store.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';
import { registry } from '../../src/app/registry.ts';

const TOKEN = 'bypass-test-token-5d1e';
const change = buildChange();
let app: FastifyInstance;
let store: SqliteChangeStore;
let deliveries: SqliteDeliveryStore;
let port: number;

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  deliveries = SqliteDeliveryStore.open(':memory:');
  await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const instances = [
    InstanceConfig.parse({ id: 'sn-prod', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' } }),
  ];
  app = buildServer({
    systems: registry.systems,
    store,
    engine: new SyncEngine({ store, logger, metrics }),
    metrics,
    logger,
    apiTokens: [TOKEN],
    validate: { policy: loadPolicy(), instances: validationInstances(instances, registry), lastSyncAt: () => new Date() },
    webhooks: { deliveries, connectorOf: () => undefined },
    history: { assessments: SqliteAssessmentStore.open(':memory:'), outbox: SqliteOutboxStore.open(':memory:'), ownWritesOf: () => undefined },
    evidence: SqliteEvidenceStore.open(':memory:'),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await app.close();
  await store.close();
  await deliveries.close();
});

interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** One request written byte for byte (no client normalises the target), answered over a fresh connection. */
function raw(method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', rest = ''] = text.split('\r\n\r\n', 2);
      resolve({ status: Number(head.split(' ')[1]), head, body: rest });
    });
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (body !== '') lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** A concrete path for a route pattern (`:key` filled with a mirrored change's key). */
const concrete = (url: string): string => url.replace(':key', change.key).replace(':instance', 'sn-prod');

/** Every spelling the router maps onto the same route. */
const encodeFirst = (segment: string): string => `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`;

function spellings(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const digit = first.replace(/\d/, (d) => `%${d.charCodeAt(0).toString(16)}`);
  return [
    path,
    `/${encodeFirst(first)}/${rest.join('/')}`,
    `/${digit}/${rest.join('/')}`,
    `/${first}/${rest.map((s) => (s.length > 0 ? encodeFirst(s) : s)).join('/')}`,
    `http://x${path}`,
    `http://anything.example${path}`,
    `http://127.0.0.1:${port}${path}`,
    `${path}?limit=1`,
  ];
}

const VALIDATE_BODY = JSON.stringify({ system: 'servicenow', instance: 'sn-prod', key: change.key, from: 'assess', to: 'authorize' });

describe('API tokens cannot be bypassed', () => {
  it('the route table declares its public routes, and everything else needs a token', () => {
    const routes = routesOf(app);
    const open = routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`);
    expect(open.toSorted()).toEqual(
      [
        'GET /healthz',
        'HEAD /healthz',
        'GET /readyz',
        'HEAD /readyz',
        'GET /metrics',
        'HEAD /metrics',
        'GET /openapi.json',
        'HEAD /openapi.json',
        'POST /v1/webhooks/servicenow/:instance',
        'POST /v1/webhooks/jira/:instance',
      ].toSorted(),
    );
    expect(routes.filter((r) => r.access === 'token').length).toBeGreaterThanOrEqual(4);
    // The auditor's history is the API's like the change it belongs to.
    expect(routes.filter((r) => r.url === '/v1/changes/:key/history').map((r) => `${r.method} ${r.access}`).toSorted()).toEqual(['GET token', 'HEAD token']);
  });

  it('every protected route answers 401 to every spelling of its path without a token', async () => {
    const protectedRoutes = routesOf(app).filter((r) => r.access === 'token');
    const answers: string[] = [];
    for (const route of protectedRoutes) {
      for (const target of spellings(concrete(route.url))) {
        const response = await raw(route.method, target, {}, route.method === 'POST' ? VALIDATE_BODY : '');
        const challenged = response.head.toLowerCase().includes('www-authenticate: bearer realm="changegate"');
        // HEAD answers carry no body; the others carry the error shape.
        const code = route.method === 'HEAD' ? 'CG_UNAUTHORIZED' : (JSON.parse(response.body || '{}') as { error?: { code?: string } }).error?.code;
        answers.push(`${route.method} ${target} → ${response.status} ${code} ${challenged ? 'challenge' : 'no challenge'}`);
      }
    }
    expect(answers.filter((a) => !a.endsWith('→ 401 CG_UNAUTHORIZED challenge'))).toEqual([]);
    expect(answers.length).toBeGreaterThanOrEqual(protectedRoutes.length * 8);
  });

  it('the same spellings with the token reach the route (the refusal above is the token check, not a miss)', async () => {
    for (const target of [...spellings(`/v1/changes/${change.key}`), ...spellings(`/v1/changes/${change.key}/history`)]) {
      const response = await raw('GET', target, { Authorization: `Bearer ${TOKEN}` });
      expect({ target, status: response.status }).toEqual({ target, status: 200 });
      expect(JSON.parse(response.body)).toMatchObject({ change: { key: change.key } });
    }
  });

  it('the five requests of the hostile test answer 401', async () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/%761/changes?limit=1', ''],
      ['GET', `/v%31/changes/${change.key}`, ''],
      ['POST', '/%761/validate', VALIDATE_BODY],
      ['GET', 'http://x/v1/changes?limit=1', ''],
      ['GET', `http://anything.example/v1/changes/${change.key}`, ''],
    ];
    for (const [method, target, body] of cases) {
      const response = await raw(method, target, {}, body);
      expect({ target, status: response.status }).toEqual({ target, status: 401 });
    }
  });

  it('public routes stay open', async () => {
    expect((await raw('GET', '/healthz')).status).toBe(200);
    expect((await raw('GET', '/%68ealthz')).status).toBe(200);
    expect((await raw('GET', '/metrics')).status).toBe(200);
  });
});
