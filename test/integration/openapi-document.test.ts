// The OpenAPI document is generated from the route declarations: every route
// the server registered is in it (and nothing else), token routes carry the
// bearer scheme and their 401, each error answer lists the codes the route
// gives, and `changegate openapi` prints what GET /openapi.json serves.

import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validationInstances } from '../../src/app/validation-instances.ts';
import { runOpenApi } from '../../src/cli/openapi-command.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer, routesOf } from '../../src/server/build-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteDeliveryStore } from '../../src/store/sqlite/sqlite-delivery-store.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';
import { SqliteEventStore } from '../../src/store/sqlite/sqlite-event-store.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { InstanceConfig, registry } from '../../src/app/registry.ts';

interface Operation {
  operationId: string;
  security: Record<string, string[]>[];
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  responses: Record<string, { content: Record<string, { schema: { properties?: { error?: { properties: { code: { enum: string[] } } } } } }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

let app: FastifyInstance;
let store: SqliteChangeStore;
let deliveries: SqliteDeliveryStore;
let document: Document;

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  deliveries = SqliteDeliveryStore.open(':memory:');
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const instances = [InstanceConfig.parse({ id: 'sn-prod', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' } })];
  app = buildServer({
    systems: registry.systems,
    store,
    engine: new SyncEngine({ store, logger, metrics }),
    metrics,
    logger,
    apiTokens: ['openapi-test-token'],
    validate: { policy: loadPolicy(), instances: validationInstances(instances, registry), lastSyncAt: () => new Date() },
    webhooks: { deliveries, connectorOf: () => undefined },
    history: { assessments: SqliteAssessmentStore.open(':memory:'), outbox: SqliteOutboxStore.open(':memory:'), ownWritesOf: () => undefined },
    evidence: SqliteEvidenceStore.open(':memory:'),
    events: { sources: [], kindOf: eventSourceKind, events: SqliteEventStore.open(':memory:') },
  });
  await app.ready();
  document = (await app.inject('/openapi.json')).json();
});

afterAll(async () => {
  await app.close();
  await store.close();
  await deliveries.close();
});

const operationsOf = (doc: Document): string[] => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
const asOpenApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}');
const codes = (op: Operation | undefined, status: number): string[] | undefined => op?.responses[String(status)]?.content['application/json']?.schema.properties?.error?.properties.code.enum;

describe('GET /openapi.json', () => {
  it('is served without a token, as OpenAPI 3.1 with the bearer scheme', async () => {
    expect((await app.inject('/openapi.json')).statusCode).toBe(200);
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
  });

  it('documents every route the server registered and no other (HEAD routes fastify adds to GET ones aside)', () => {
    const registered = routesOf(app)
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${asOpenApiPath(r.url)}`);
    expect(registered.length).toBeGreaterThanOrEqual(9);
    expect(operationsOf(document).toSorted()).toEqual(registered.toSorted());
  });

  it('marks token routes with the bearer scheme and their 401, public ones with none', () => {
    const marks = routesOf(app)
      .filter((r) => r.method !== 'HEAD')
      .map((route) => {
        const op = document.paths[asOpenApiPath(route.url)]?.[route.method.toLowerCase()];
        return { route: `${route.method} ${route.url}`, access: route.access, security: op?.security, tokenRefusal: codes(op, 401)?.includes('CG_UNAUTHORIZED') ?? false };
      });
    const expected = marks.map(({ route, access }) => ({ route, access, security: access === 'token' ? [{ bearer: [] }] : [], tokenRefusal: access === 'token' }));
    expect(marks).toEqual(expected);
    expect(marks.filter((m) => m.access === 'token').length).toBeGreaterThanOrEqual(3);
  });

  it('lists per status the codes a route answers with, the status taken from the error table', () => {
    const getChange = document.paths['/v1/changes/{key}']?.['get'];
    expect(codes(getChange, 404)).toEqual(['CG_NOT_FOUND']);
    expect(codes(getChange, 400)).toEqual(['CG_INPUT_INVALID']);
    const webhook = document.paths['/v1/webhooks/jira/{instance}']?.['post'];
    expect(codes(webhook, 404)?.toSorted()).toEqual(['CG_INSTANCE_UNKNOWN', 'CG_WEBHOOK_UNSUPPORTED']);
    expect(codes(webhook, 401)?.toSorted()).toEqual(['CG_WEBHOOK_SIGNATURE_INVALID', 'CG_WEBHOOK_SIGNATURE_MISSING']);
    expect(codes(webhook, 413)).toEqual(['CG_INPUT_INVALID']);
    expect(codes(document.paths['/v1/validate']?.['post'], 404)).toEqual(['CG_INSTANCE_UNKNOWN']);
    const history = document.paths['/v1/changes/{key}/history']?.['get'];
    expect(codes(history, 404)).toEqual(['CG_NOT_FOUND']);
    expect(codes(history, 401)).toEqual(['CG_UNAUTHORIZED']);
  });

  it('describes limit as the integer it is on the wire', () => {
    const limit = document.paths['/v1/changes']?.['get']?.parameters?.find((p) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } });
  });
});

describe('the results route', () => {
  it('documents the file types it reads, its names, and every refusal with its code', () => {
    const op = document.paths['/v1/events/{source}/results']?.['post'] as Operation & { requestBody: { content: Record<string, { schema: Record<string, unknown> }> } };
    expect(Object.keys(op.requestBody.content)).toEqual(['application/xml', 'text/xml', 'application/sarif+json', 'application/json']);
    expect(op.requestBody.content['application/xml']?.schema).toEqual({ type: 'string' });
    expect(op.parameters?.filter((p) => p.in === 'query').map((p) => [p.name, p.required])).toEqual([
      ['commit', false],
      ['change', false],
      ['run', false],
      ['repo', false],
      ['branch', false],
      ['name', false],
      ['environment', false],
      ['url', false],
    ]);
    expect([codes(op, 413), codes(op, 415), codes(op, 422)]).toEqual([['CG_INPUT_INVALID'], ['CG_RESULTS_TYPE_UNSUPPORTED'], ['CG_RESULTS_INVALID']]);
    expect(Object.keys(op.responses)).toEqual(['202', '400', '401', '404', '413', '415', '422', '500', '503']);
  });
});

describe('changegate openapi', () => {
  it('prints the document a fully configured server serves', () => {
    let printed = '';
    expect(runOpenApi(registry, { write: (text: string) => (printed += text) })).toBe(0);
    expect(JSON.parse(printed)).toEqual(document);
  });
});
