// What the store-health tests share: the whole process (createApp, serve) on a
// SQLite file in a temporary directory, against the demo's ServiceNow and Jira
// simulators over loopback HTTP with write-back on, driven as an operator and
// a webhook sender would: real HTTP requests to /healthz, /readyz, a signed
// Jira delivery, /v1/validate. A restart is a second world on the same file
// path and the same simulators.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { startDemoInstances, type DemoInstances } from '../../src/app/demo-instances.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';
import { openSqliteStores, type SqliteStoresOptions } from '../../src/store/sqlite/sqlite-store-adapter.ts';

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  /** Wall-clock time from request to the whole answer. */
  ms: number;
}

export interface StoreWorld {
  app: ChangegateApp;
  url: string;
  path: string;
  get(route: string): Promise<Answer>;
  /** A delivery for a Jira issue of the demo site, signed with the instance's secret, as the site would post it. */
  webhook(): Promise<Answer>;
  validate(instance: 'sn-demo' | 'jsm-demo'): Promise<Answer>;
  /** Until /readyz answers `status` with a store matching `store`, for up to `withinMs`. */
  readyzBecomes(status: number, store: Record<string, unknown>, withinMs: number): Promise<Answer>;
  /** Both instances synced once and every queued ticket write settled. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** The demo simulators, a handful of changes each; ServiceNow fails closed, Jira open. */
export async function startSimulators(): Promise<DemoInstances> {
  return startDemoInstances({ logger: pino({ level: 'silent' }), count: 6 });
}

export async function startWorld(demo: DemoInstances, dir: string, stores: SqliteStoresOptions = {}): Promise<StoreWorld> {
  const path = join(dir, 'store', 'changegate.db');
  const config = ChangegateConfig.parse({ store: { kind: 'sqlite', path }, server: { listen: '127.0.0.1:0' }, log: { level: 'fatal' } });
  // Syncs run at start-up and when a test asks: a scheduled run must not race the test's own.
  const instances = demo.instances.map((i) => ({ ...i, schedule: '0 0 1 1 *', failMode: i.system === 'servicenow' ? ('closed' as const) : ('open' as const) }));
  const app = await createApp(
    { config: { ...config, instances }, file: join(dir, 'changegate.yaml'), registry },
    { logger: pino({ level: 'silent' }), openStores: async () => openSqliteStores(path, stores) },
  );
  const url = await app.serve({ runNow: true });
  demo.setChangegateUrl(url);
  const jira = instances.find((i) => i.system === 'jira');
  const secret = String((jira as { webhookSecret?: unknown } | undefined)?.webhookSecret);
  const issue = demo.simulators.jira.store.all[0];
  const sysId = String(demo.simulators.servicenow.listChanges()[0]?.sys_id);

  const request = async (route: string, init: RequestInit = {}): Promise<Answer> => {
    const started = performance.now();
    const response = await fetch(`${url}${route}`, init);
    const text = await response.text();
    const ms = performance.now() - started;
    return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), ms };
  };

  const world: StoreWorld = {
    app,
    url,
    path,
    get: (route) => request(route),
    webhook() {
      const raw = JSON.stringify({ timestamp: Date.now(), webhookEvent: 'jira:issue_updated', issue: { id: issue?.id, key: issue?.key } });
      return request('/v1/webhooks/jira/jsm-demo', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`,
          'x-atlassian-webhook-identifier': randomUUID(),
        },
        body: raw,
      });
    },
    validate(instance) {
      const body =
        instance === 'sn-demo'
          ? { system: 'servicenow', instance, key: String(demo.simulators.servicenow.getChange(sysId)?.number), from: 'assess', to: 'authorize' }
          : { system: 'jira', instance, key: String(issue?.key), from: 'assess', to: 'authorize' };
      return request('/v1/validate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    },
    async readyzBecomes(status, store, withinMs) {
      let last: Answer | undefined;
      await expect
        .poll(
          async () => {
            last = await request('/readyz');
            return { status: last.status, store: last.body['store'] };
          },
          { timeout: withinMs, interval: 100 },
        )
        .toMatchObject({ status, store });
      return last as Answer;
    },
    async settled() {
      // In a hook too (expect.poll is for tests only): polled by hand.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const ready = await request('/readyz');
        const runs = (ready.body['instances'] ?? []) as { lastSuccessAt: string | null }[];
        const counts = await app.outbox.counts();
        if (runs.length === 2 && runs.every((i) => i.lastSuccessAt !== null) && counts.pending + counts.claimed === 0 && counts.done > 0) return;
        if (Date.now() > deadline) throw new Error(`not settled after 60 s: ${JSON.stringify({ runs, counts })}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async close() {
      await app.close();
    },
  };
  return world;
}

/** Another process holding the store's write lock (`BEGIN IMMEDIATE`) until `release()`. */
export async function holdWriteLock(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const { DatabaseSync } = require('node:sqlite');
    // Waits for a write of the service in flight (its writes are short) instead of failing at once.
    const db = new DatabaseSync(process.argv[1], { timeout: 10000 });
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); process.exit(0); });
    process.stdin.resume();
  `;
  const child: ChildProcess = spawn(process.execPath, ['-e', script, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  let locked = false;
  // A holder that dies before taking the lock fails the test at once, saying so, instead of at its timeout.
  const died = once(child, 'exit').then(([code]) => {
    if (!locked) throw new Error(`the process meant to hold the write lock exited ${String(code)} before taking it`);
  });
  await Promise.race([once(child.stdout as NodeJS.ReadableStream, 'data').then(() => (locked = true)), died]);
  return {
    async release() {
      const exited = once(child, 'exit');
      child.stdin?.end();
      await exited;
    },
  };
}
