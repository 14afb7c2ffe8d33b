// What deploy/Dockerfile does, on this machine: the project packed by `npm pack`,
// unpacked, installed without development dependencies from the lockfile, then
// `serve` started on Node 24 against a ServiceNow simulator over real HTTP. It
// fails when a module on the path from bin/changegate.js imports a devDependency
// (msw, vitest...) or when the pack lacks a file the service reads at run time.
// The package is unpacked outside any node_modules: Node does not strip types
// there.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoSimulator } from '../../connectors/servicenow/simulator/demo-data.ts';
import type { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { freePort, until } from '../support/serve-child.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const INSTANCE = 'sn-prod';

/** The parent `npm test` exports its own package and prefix; the child npm must see only the unpacked package. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix$)/i.test(name)) delete env[name];
  }
  return env;
}

function npm(args: string[], cwd: string): string {
  const run = spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
  return run.stdout;
}

interface Exit {
  code: number | null;
  stderr: string;
}

/** Runs the unpacked package's launcher the way the image's ENTRYPOINT does, with `tmp` as its temporary directory. */
function changegate(pkg: string, args: string[], tmp: string): { child: ChildProcess; exited: Promise<Exit> } {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', CHANGEGATE_CONFIG: '', TMPDIR: tmp };
  // The launcher's own default, not the variable's, is what is tested.
  delete env['NODE_COMPILE_CACHE'];
  mkdirSync(tmp, { recursive: true });
  const child = spawn(process.execPath, ['--max-semi-space-size=8', 'bin/changegate.js', ...args], {
    cwd: pkg,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((done) => child.on('exit', (code) => done({ code, stderr })));
  return { child, exited };
}

describe('a production install (npm pack, npm ci --omit=dev)', () => {
  let dir: string;
  let pkg: string;
  let sim: ServiceNowSimulator;
  let server: SimulatorServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-prod-'));
    npm(['pack', '--pack-destination', dir, '--silent'], ROOT);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack wrote no tarball');
    const untar = spawnSync('tar', ['xzf', tarball], { cwd: dir, encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`tar: ${untar.stderr}`);
    pkg = join(dir, 'package');
    // npm pack never includes the lockfile; the image copies it beside package.json, so does this.
    copyFileSync(join(ROOT, 'package-lock.json'), join(pkg, 'package-lock.json'));
    npm(['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], pkg);
    server = await startSimulatorServer(() => sim.handlers());
    sim = createDemoSimulator(server.url, { count: 20 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the service and its runtime dependencies, without tests or development dependencies', () => {
    const parts = ['bin/changegate.js', 'src/main.ts', 'connectors/servicenow/servicenow-connector.ts', 'mappings/servicenow.default.yaml'];
    expect(parts.filter((part) => !existsSync(join(pkg, part)))).toEqual([]);
    expect(existsSync(join(pkg, 'test'))).toBe(false);
    expect(existsSync(join(pkg, 'node_modules', 'fastify'))).toBe(true);
    const dev = ['msw', 'vitest', 'fast-check', 'autocannon', 'typescript'];
    expect(dev.filter((name) => existsSync(join(pkg, 'node_modules', name)))).toEqual([]);
  });

  it('serves: healthy, ready, and a ServiceNow change mirrored after the first sync', async () => {
    const port = await freePort();
    const config = join(dir, 'changegate.yaml');
    writeFileSync(
      config,
      [
        `store: { kind: sqlite, path: ${join(dir, 'changegate.db')} }`,
        `server: { listen: "127.0.0.1:${port}" }`,
        'log: { level: warn }',
        'instances:',
        `  - { id: ${INSTANCE}, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, pageSize: 50 }`,
        '',
      ].join('\n'),
    );
    const wanted = sim.listChanges()[7];
    if (wanted === undefined) throw new Error('the simulator holds no changes');
    const url = `http://127.0.0.1:${port}`;
    const tmp = join(dir, 'tmp');
    const serving = changegate(pkg, ['serve', '--config', config], tmp);
    let exit: Exit | undefined;
    void serving.exited.then((e) => (exit = e));
    const stillRunning = () => {
      if (exit) throw new Error(`serve exited ${exit.code}:\n${exit.stderr}`);
    };
    try {
      await until('serve to listen', 30_000, async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), { everyMs: 200, stillRunning });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', store: { ok: true } });

      const key = String(wanted.number);
      const mirrored = await until(
        `${key} in the mirror`,
        30_000,
        async () => {
          const response = await fetch(`${url}/v1/changes/${key}`);
          return response.status === 200 ? ((await response.json()) as { change: Record<string, unknown> }) : undefined;
        },
        { everyMs: 200, stillRunning },
      );
      expect(mirrored.change).toMatchObject({ key, title: wanted.short_description, instance: INSTANCE });
    } finally {
      serving.child.kill('SIGTERM');
      await serving.exited;
    }
    // The launcher ran the service with Node's compile cache on, in its default place: the next start reads its modules from there.
    const cached = readdirSync(join(tmp, 'node-compile-cache'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    expect(cached.length).toBeGreaterThan(100);
  });

  it('without configuration, refuses the demo (its simulators need msw) with exit 2 and says what to give', async () => {
    const { code, stderr } = await changegate(pkg, ['serve'], join(dir, 'tmp')).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('[CG_CONFIG_NOT_FOUND]');
    expect(stderr).toContain('configuration');
  });
});
