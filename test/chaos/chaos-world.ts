// One run's world: the ServiceNow and Jira simulators over real HTTP (as the
// demo seeds them, smaller), a store directory, and `changegate serve` as a
// child process that syncs both every second and writes back. The run drives
// it from outside, as an operator's bad day would: it kills the process, holds
// the SQLite lock, fills the "disk", deletes the store, and breaks the ITSMs.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { http, HttpResponse } from 'msw';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import type { WebhookOptions } from '../../connectors/jira/simulator/sim-types.ts';
import { createDemoSimulator } from '../../connectors/servicenow/simulator/demo-data.ts';
import type { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { DEMO_JIRA_USER, DEMO_SERVICENOW_USER } from '../../src/app/demo-instances.ts';
import { InstanceConfig as InstanceSchema } from '../../src/app/registry.ts';
import type { InstanceConfig } from '../../src/config/schema.ts';
import { freePort } from '../support/serve-child.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PRELOAD = join(import.meta.dirname, 'disk-full-preload.ts');
export const SN_ID = 'sn-chaos';
export const JIRA_ID = 'jsm-chaos';
const WEBHOOK_SECRET = 'whsec-chaos';
// The fields the changegate update set adds to change_request, as the writer names them.
export const VERDICT_COLUMNS: string[] = Object.values(VERDICT_FIELDS);

export type SystemName = 'servicenow' | 'jira';

/** What the request hook sees: which simulator, and whether the request reads the change list or writes a ticket. */
export interface SimRequest {
  system: SystemName;
  method: string;
  path: string;
  /** A page of the change list (what a sync reads). */
  listing: boolean;
  /** A write changegate makes to a ticket (a note, a verdict, a move). */
  write: boolean;
}

/** The hook may answer for the simulator (a dropped connection), or let it answer (undefined). */
export type RequestHook = (request: SimRequest) => 'drop' | undefined;

interface Serving {
  child: ChildProcess;
  startedAt: number;
  exited: Promise<void>;
  alive: boolean;
}

export interface ChaosWorld {
  dir: string;
  dbFile: string;
  url: string;
  /** The instances `serve` runs, as the config schema parsed them. */
  instances: InstanceConfig[];
  sn: ServiceNowSimulator;
  jira: JiraSimulator;
  /** The Jira site's webhook settings, read at every delivery batch: the run turns loss, duplication and reordering on and off. */
  webhook: WebhookOptions;
  /** Writes changegate made to either ticket system (echoes of them start a quiet period over). */
  writes: number;
  hook: RequestHook | undefined;
  /** The file whose presence makes every SQLite connection of the child refuse to grow (see disk-full-preload.ts). */
  diskFullFlag: string;
  /** When the current process started (epoch ms), null when none runs. */
  servingSince(): number | null;
  alive(): boolean;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** Lines the child wrote at error level or above (pino JSON), for the run's report. */
  errors: string[];
  close(): Promise<void>;
}

export interface WorldOptions {
  changes: number;
  seed: number;
}

const isJiraWrite = (method: string, path: string): boolean =>
  (method === 'POST' && /\/issue\/[^/]+\/(comment|transitions)$/.test(path)) || (method === 'PUT' && /\/properties\//.test(path));
const isServiceNowWrite = (method: string, path: string): boolean => method !== 'GET' && path.includes('/api/now/table/');

export async function createWorld(options: WorldOptions): Promise<ChaosWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-chaos-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const webhook: WebhookOptions = { url: `${url}/v1/webhooks/jira/${JIRA_ID}`, secret: WEBHOOK_SECRET, maxRetries: 2 };
  let sn: ServiceNowSimulator | undefined;
  let jira: JiraSimulator | undefined;
  let serving: Serving | null = null;

  const hookFor = (system: SystemName) =>
    http.all(/.*/, ({ request }) => {
      const method = request.method.toUpperCase();
      const path = new URL(request.url).pathname;
      const write = system === 'servicenow' ? isServiceNowWrite(method, path) : isJiraWrite(method, path);
      const listing = system === 'servicenow' ? method === 'GET' && path.endsWith('/api/now/table/change_request') : path.endsWith('/search/jql');
      if (write) world.writes += 1;
      const verdict = world.hook?.({ system, method, path, listing, write });
      return verdict === 'drop' ? HttpResponse.error() : undefined;
    });
  const snHook = hookFor('servicenow');
  const jiraHook = hookFor('jira');
  const snServer: SimulatorServer = await startSimulatorServer(() => [snHook, ...(sn?.handlers() ?? [])]);
  const jiraServer: SimulatorServer = await startSimulatorServer(() => [jiraHook, ...(jira?.handlers() ?? [])]);
  sn = createDemoSimulator(snServer.url, { count: options.changes, seed: options.seed, customFields: VERDICT_COLUMNS });
  jira = new JiraSimulator({ baseUrl: jiraServer.url, auth: { basic: [DEMO_JIRA_USER] }, webhook });
  jira.seedDemoData({ count: options.changes, seed: options.seed });

  const dbFile = join(dir, 'changegate.db');
  const configFile = join(dir, 'changegate.yaml');
  // Short timeouts and few retries keep a run to seconds; a sync every second keeps the quiet period short.
  const common = { schedule: '* * * * * *', pageSize: 20, overlap: '2m', retries: 3, timeout: '1s', writeBack: true };
  const instances = [
    { id: SN_ID, system: 'servicenow', baseUrl: snServer.url, auth: { kind: 'basic', ...DEMO_SERVICENOW_USER }, ...common },
    { id: JIRA_ID, system: 'jira', baseUrl: jiraServer.url, auth: { kind: 'basic', ...DEMO_JIRA_USER }, projects: ['ITSM'], webhookSecret: WEBHOOK_SECRET, ...common },
  ];
  // JSON is YAML: the file `serve` reads, and the same instances parsed here for the checker's own reading.
  writeFileSync(configFile, JSON.stringify({ store: { kind: 'sqlite', path: dbFile }, server: { listen: `127.0.0.1:${port}` }, log: { level: 'error' }, instances }, null, 2));
  const diskFullFlag = join(dir, 'disk-full');

  const world: ChaosWorld = {
    dir,
    dbFile,
    url,
    instances: instances.map((i) => InstanceSchema.parse(i)),
    sn,
    jira,
    webhook,
    writes: 0,
    hook: undefined,
    diskFullFlag,
    errors: [],
    servingSince: () => (serving?.alive ? serving.startedAt : null),
    alive: () => serving?.alive ?? false,
    async start() {
      if (serving?.alive) return;
      const child = spawn(process.execPath, ['--import', PRELOAD, 'src/main.ts', 'serve', '--config', configFile], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CHANGEGATE_CHAOS_DISK_FULL: diskFullFlag },
      });
      let out = '';
      const keep = (chunk: Buffer): void => {
        out += chunk.toString();
        const lines = out.split('\n');
        out = lines.pop() ?? '';
        world.errors.push(...lines.filter((l) => l.trim() !== ''));
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const current: Serving = { child, startedAt: Date.now(), alive: true, exited: Promise.resolve() };
      current.exited = new Promise<void>((done) =>
        child.on('exit', () => {
          current.alive = false;
          done();
        }),
      );
      serving = current;
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (!current.alive) throw new Error(`changegate serve exited at start-up: ${world.errors.slice(-3).join(' | ')}`);
        const up = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
        if (up) return;
        if (Date.now() > deadline) throw new Error('changegate serve did not listen within 30 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      if (!serving?.alive) return;
      serving.child.kill('SIGKILL');
      await serving.exited;
    },
    async stop() {
      if (!serving?.alive) return;
      const current = serving;
      current.child.kill('SIGTERM');
      const stopped = await Promise.race([current.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!stopped) {
        world.errors.push('changegate serve did not stop within 10 s of SIGTERM');
        current.child.kill('SIGKILL');
        await current.exited;
      }
    },
    async close() {
      await world.kill();
      world.hook = undefined;
      await jira?.flushWebhooks();
      await snServer.close();
      await jiraServer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
