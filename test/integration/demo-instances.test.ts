// The built-in demo: both simulators over real HTTP, and a first sync of each
// instance (the connectors the app builds, the real engine, an in-memory SQLite
// store) mirrors every change the simulator was seeded with.

import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnector } from '../../src/app/build-connectors.ts';
import { startDemoInstances, type DemoInstances } from '../../src/app/demo-instances.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { registry } from '../../src/app/registry.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';

const logger = pino({ level: 'silent' });
let demo: DemoInstances;

beforeAll(async () => {
  demo = await startDemoInstances({ logger, count: 60 });
});
afterAll(async () => {
  await demo.close();
});

async function mirroredKeys(store: ChangeStore, instance: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listChanges({ instance, limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    keys.push(...page.items.map((c) => c.key));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return keys.toSorted();
}

/** A first (full) sync of one demo instance; returns the mirrored keys, approval rows per key and the rejected records. */
async function firstSync(instance: string): Promise<{ keys: string[]; approvals: Map<string, number>; rejected: number }> {
  const metrics = createMetrics({ defaultMetrics: false });
  const store = SqliteChangeStore.open(':memory:');
  const engine = new SyncEngine({ store, logger, metrics });
  const config = demo.instances.find((i) => i.id === instance);
  if (!config) throw new Error(`no demo instance ${instance}`);
  engine.register({ connector: buildConnector(config, registry, { logger, metrics }), pageSize: config.pageSize, overlapMs: config.overlap });
  const report = await engine.sync(instance, { full: true });
  const keys = await mirroredKeys(store, instance);
  const approvals = new Map<string, number>();
  for (const key of keys) approvals.set(key, (await store.getChange(key, { instance }))?.approvals.length ?? 0);
  const rejected = (await store.listRejected(instance)).length + report.streams.reduce((sum, s) => sum + s.invalid, 0);
  await store.close();
  return { keys, approvals, rejected };
}

describe('startDemoInstances', () => {
  it('serves a ServiceNow and a Jira Cloud demo instance over real HTTP', () => {
    expect(demo.instances.map((i) => [i.id, i.system])).toEqual([
      ['sn-demo', 'servicenow'],
      ['jsm-demo', 'jira'],
    ]);
    for (const instance of demo.instances) expect(instance.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const jira = JiraInstance.parse(demo.instances[1]);
    expect(jira.auth.kind === 'basic' && typeof jira.webhookSecret === 'string').toBe(true);
  });

  it('mirrors every seeded ServiceNow change request on the first sync', async () => {
    const seeded = demo.simulators.servicenow.listChanges().map((row) => String(row['number']));
    const { keys, rejected } = await firstSync('sn-demo');
    expect(seeded).toHaveLength(60);
    expect(keys).toEqual(seeded.toSorted());
    expect(rejected).toBe(0);
  });

  it('mirrors every seeded Jira change issue on the first sync', async () => {
    const issues = demo.simulators.jira.store.all;
    const { keys, approvals, rejected } = await firstSync('jsm-demo');
    expect(issues).toHaveLength(60);
    expect(keys).toEqual(issues.map((issue) => issue.key).toSorted());
    expect(rejected).toBe(0);
    // JSM approvals come along: one mirrored row per approver of each approval (one when nobody was asked).
    const expected = new Map(issues.map((issue) => [issue.key, issue.approvals.reduce((n, a) => n + Math.max(1, a.approvers.length), 0)]));
    expect(approvals).toEqual(expected);
    expect([...expected.values()].some((n) => n > 0)).toBe(true);
  });

  it("points the Jira site's signed admin webhook at changegate's /v1/webhooks/jira/jsm-demo once it listens", async () => {
    const received: { url: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(202).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    try {
      demo.setChangegateUrl(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}`);
      const issue = demo.simulators.jira.store.all[0];
      if (!issue) throw new Error('no seeded issue');
      demo.simulators.jira.addComment(issue.key, 'Smoke tests green.');
      await demo.simulators.jira.flushWebhooks();

      expect(received.map((r) => r.url)).toEqual(['/v1/webhooks/jira/jsm-demo']);
      const config = demo.instances.find((i) => i.id === 'jsm-demo');
      if (!config) throw new Error('no jsm-demo');
      const hook = buildConnector(config, registry, { logger, metrics: createMetrics({ defaultMetrics: false }) }).webhook;
      const delivery = received[0];
      if (!hook || !delivery) throw new Error('no webhook verifier or delivery');
      expect(hook.verify(delivery.body, delivery.headers)).toEqual({ ok: true });
      expect(hook.toRecordIds(JSON.parse(delivery.body.toString('utf8')))).toEqual([issue.id]);
    } finally {
      receiver.close();
    }
  });
});
