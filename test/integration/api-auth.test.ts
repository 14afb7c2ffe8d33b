// server.apiTokens: the API a plugin or an operator calls needs a bearer token;
// webhooks (signed on their raw body) and the probes do not.

import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangegateConfig } from '../../src/app/registry.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';
import { registry } from '../../src/app/registry.ts';

let app: FastifyInstance;
let store: SqliteChangeStore;
const change = buildChange();

beforeAll(async () => {
  store = SqliteChangeStore.open(':memory:');
  await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const { server } = ChangegateConfig.parse({ server: { apiTokens: ['current-token-7f3a', 'previous-token-91bc'] } });
  app = buildServer({
    systems: registry.systems, store, engine: new SyncEngine({ store, logger, metrics }), metrics, logger, apiTokens: server.apiTokens });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await store.close();
});

const getChange = (authorization?: string) =>
  app.inject({ method: 'GET', url: `/v1/changes/${change.key}`, headers: authorization === undefined ? {} : { authorization } });

describe('API tokens', () => {
  it('refuse a request without a token with 401, a challenge and a message naming the header', async () => {
    const response = await getChange();
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="changegate"');
    expect(response.json()).toMatchObject({ error: { code: 'CG_UNAUTHORIZED', message: expect.stringMatching(/^header authorization: missing/) } });
  });

  it('refuse a wrong token and a token sent another way than Bearer', async () => {
    for (const authorization of ['Bearer current-token-7f3b', 'Bearer ', 'Basic Y3VycmVudC10b2tlbi03ZjNh', 'current-token-7f3a']) {
      const response = await getChange(authorization);
      expect({ authorization, status: response.statusCode, code: (response.json() as { error: { code: string } }).error.code }).toEqual({ authorization, status: 401, code: 'CG_UNAUTHORIZED' });
    }
  });

  it('accept either configured token, so one can be rotated while the other still works', async () => {
    for (const token of ['current-token-7f3a', 'previous-token-91bc']) {
      const response = await getChange(`Bearer ${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ change: { key: change.key } });
    }
    // The scheme is case-insensitive (RFC 9110).
    expect((await getChange('bearer current-token-7f3a')).statusCode).toBe(200);
  });

  it('leave the probes and the webhooks (signed instead) to their own rules', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // No webhook routes are configured here: the answer is the router's 404, not the token check's 401.
    const webhook = await app.inject({ method: 'POST', url: '/v1/webhooks/jira/jsm-cloud', payload: {} });
    expect(webhook.statusCode).toBe(404);
  });
});
