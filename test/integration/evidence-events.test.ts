// CI results and deployments in the evidence ledger as an auditor meets them:
// a JUnit report, a SARIF log and a GitHub deployment status for a change's
// commit are posted over the events routes; once processed, each is one entry
// of the change's ledger with a one-line summary and the normalised event as
// its payload. A crash before the deliveries were completed processes them
// again, and the ledger still holds each once; the exported bundle verifies.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerEventRoutes } from '../../src/server/routes/events.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { fixtureBytes } from '../support/source-delivery.ts';

const SECRET = 'gh-secret';
// The commit the deployment status fixture deploys; the results are posted for it too.
const SHA = 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e';
const junit = fixtureBytes('CONSTRUCTED-junit-surefire-merged.xml');
const sarif = fixtureBytes('CONSTRUCTED-sarif-codeql-trivy.sarif.json');
// GitHub's deployment status, its deployment described with the change key (as a pipeline names the change it deploys).
const deployment = (() => {
  const body = JSON.parse(readFileSync(new URL('../fixtures/events/github_deployment_status.json', import.meta.url), 'utf8')) as { deployment: Record<string, unknown> };
  body.deployment['description'] = 'Deploy CHG0030001';
  return Buffer.from(JSON.stringify(body));
})();
const sign = (body: Buffer): string => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

let stores: StoreBundle;
let app: FastifyInstance;
afterEach(async () => {
  await app.close();
  await stores.close();
});

describe('CI events and deployments in the evidence ledger', () => {
  it('records each completed test run, scan and deployment once per change, through a crash before completion, in a bundle that verifies', async () => {
    let clock = new Date('2026-03-02T10:00:00Z');
    stores = openSqliteStores(':memory:');
    app = Fastify();
    installErrorHandler(app, createMetrics({ defaultMetrics: false }));
    registerEventRoutes(app, { sources: [{ id: 'github', kind: 'github', secrets: [SECRET] }], kindOf: eventSourceKind, events: stores.events, maxResultsBytes: 16 * 1024, clock: () => clock });
    await app.ready();
    const change = buildChange({ key: 'CHG0030001', links: { repos: [], commits: [SHA], artifacts: [], pipelines: [] } });
    await stores.changes.applyPage(change.instance, 'changes', [{ kind: 'change', change }], null);
    const correlator = new Correlator({ events: stores.events, changes: stores.changes, services: {}, monitors: [], heartbeatMaxAgeMs: 900_000 });
    // The first completion fails as a process killed before it would: the deliveries stay due and are processed again.
    let crashes = 1;
    const events = new Proxy(stores.events, {
      get(target, name, receiver) {
        if (name === 'completeAll' && crashes > 0) {
          return async () => {
            crashes -= 1;
            throw new Error('killed before completing');
          };
        }
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as EventStore;
    const processor = new EventProcessor({ events, kindOf: eventSourceKind, correlator, evidence: stores.evidence, reassess: async () => undefined, logger: pino({ level: 'silent' }), clock: () => clock });

    const results = (body: Buffer, type: string, name = '') =>
      app.inject({ method: 'POST', url: `/v1/events/github/results?commit=${SHA}&change=CHG0030001${name}`, payload: body, headers: { 'content-type': type, 'x-hub-signature-256': sign(body) } });
    expect((await results(junit, 'application/xml', '&name=unit%20tests')).statusCode).toBe(202);
    expect((await results(sarif, 'application/sarif+json')).statusCode).toBe(202);
    const deployed = await app.inject({
      method: 'POST',
      url: '/v1/events/github',
      payload: deployment,
      headers: { 'content-type': 'application/json', 'x-github-event': 'deployment_status', 'x-github-delivery': 'd-1', 'x-hub-signature-256': sign(deployment) },
    });
    expect(deployed.statusCode).toBe(202);

    expect(await processor.drain()).toBe(3);
    expect(await stores.events.pendingCount()).toBe(3);
    clock = new Date(clock.getTime() + 60_000);
    expect(await processor.drain()).toBe(3);
    expect(await stores.events.pendingCount()).toBe(0);
    // The same deployment status delivered again (a redelivery under a new id) is the same event.
    await app.inject({ method: 'POST', url: '/v1/events/github', payload: deployment, headers: { 'content-type': 'application/json', 'x-github-event': 'deployment_status', 'x-github-delivery': 'd-2', 'x-hub-signature-256': sign(deployment) } });
    expect(await processor.drain()).toBe(1);

    const ledger = await stores.evidence.list(change.id);
    expect(ledger.map((e) => [e.kind, e.source, e.summary])).toEqual([
      ['event', 'github', 'tests "unit tests" on f95f852: 4 passed, 2 failed, 1 skipped'],
      ['event', 'github', 'scan "CodeQL, Trivy" on f95f852: 1 critical, 3 high, 1 medium, 1 low'],
      ['deployment', 'github', 'deployed f95f852 to production: success'],
    ]);
    // The payload is the normalised event, not the body that was posted.
    expect(ledger[2]?.payload).toMatchObject({ kind: 'deploy', commit: SHA, status: 'success', source: 'github' });
    expect(ledger[2]?.payload).not.toHaveProperty('deployment_status');

    const bundle = JSON.parse(JSON.stringify(buildBundle({ id: change.id, key: change.key, instance: change.instance, title: change.title }, ledger, clock.toISOString())));
    expect(verifyBundle(bundle)).toMatchObject({ ok: true, entries: 3, changeKey: 'CHG0030001' });
  });
});
