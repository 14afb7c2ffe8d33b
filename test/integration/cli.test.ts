// The `changegate` command as an operator runs it: a child process, its exit
// code, what it prints.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { MIGRATIONS } from '../../src/store/sqlite/sqlite-schema.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function changegate(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, CHANGEGATE_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

let dir: string;
let server: SimulatorServer;
let sim: ServiceNowSimulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
  server = await startSimulatorServer(() => sim.handlers());
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  sim.bulkCreateChanges(120, { seed: 5 });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('changegate CLI', () => {
  it('exits 2 on an invalid configuration, naming file, line and path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'instances:\n  - id: sn\n    system: servicenow\n    baseUrl: https://x.service-now.com\n    auth: { kind: basic, username: u }\n');
    const { code, stderr } = await changegate(['sync', '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('CG_CONFIG_INVALID');
    expect(stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+ instances\\[0\\]\\.auth\\.password`));
  });

  it('exits 2 when a configuration file named by CHANGEGATE_CONFIG is missing', async () => {
    const { code, stderr } = await changegate(['sync'], { CHANGEGATE_CONFIG: join(dir, 'nope.yaml') });
    expect(code).toBe(2);
    expect(stderr).toContain('CG_CONFIG_NOT_FOUND');
  });

  it('syncs once, printing plain progress lines in a pipe and a JSON report', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(
      file,
      `store: { kind: sqlite, path: ${join(dir, 'cli.db')} }\nlog: { level: warn }\ninstances:\n  - { id: sn-cli, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: \${SN_PASSWORD} }, pageSize: 50 }\n`,
    );
    const { code, stdout, stderr } = await changegate(['sync', '--config', file], { SN_PASSWORD: 'admin' });
    expect(code).toBe(0);
    expect(stderr).toMatch(/^sn-cli changes: [\d,]+\/120 records · [\d,]+\/s/m);
    expect(stderr).not.toContain('\r');
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { instance: string; streams: { stream: string; records: number }[] };
    expect(report.instance).toBe('sn-cli');
    expect(report.streams.find((s) => s.stream === 'changes')?.records).toBe(120);

    const unknown = await changegate(['sync', '--config', file, '--instance', 'nope'], { SN_PASSWORD: 'admin' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('CG_INSTANCE_UNKNOWN');
  });

  it('exits 2 on a store written by a newer changegate, naming the file and both schema versions', async () => {
    const db = join(dir, 'newer.db');
    SqliteChangeStore.open(db).close();
    const newer = new DatabaseSync(db);
    newer.exec(`UPDATE schema_version SET version = ${MIGRATIONS.length + 3}`);
    newer.close();
    const file = join(dir, 'newer.yaml');
    writeFileSync(file, `store: { kind: sqlite, path: ${db} }\nlog: { level: fatal }\ninstances:\n  - { id: sn-cli, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin } }\n`);
    const { code, stderr } = await changegate(['sync', '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('CG_STORE_TOO_NEW');
    expect(stderr).toContain(`store.path ${db} was written by a newer changegate (schema ${MIGRATIONS.length + 3}, this build knows ${MIGRATIONS.length})`);
  });

  it('exits 1 when a sync fails, saying why', async () => {
    const file = join(dir, 'wrong-password.yaml');
    writeFileSync(file, `store: { kind: sqlite, path: ${join(dir, 'cli2.db')} }\nlog: { level: fatal }\ninstances:\n  - { id: sn-cli, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: wrong }, retries: 0 }\n`);
    const { code, stderr } = await changegate(['sync', '--config', file]);
    expect(code).toBe(1);
    expect(stderr).toContain('CG_SN_AUTH_REJECTED');
    expect(stderr).not.toContain('wrong');
  });

  it('validates mapping files, naming file and line, exit 2 on errors', async () => {
    const mappings = join(dir, 'mappings');
    mkdirSync(mappings);
    copyFileSync(join(ROOT, 'mappings/servicenow.default.yaml'), join(mappings, 'servicenow.yaml'));
    expect((await changegate(['mappings', 'validate', mappings])).code).toBe(0);
    writeFileSync(join(mappings, 'broken.yaml'), 'kind: servicenow-mapping\nversion: 1\nstates:\n  "-5": newish\n');
    const { code, stdout } = await changegate(['mappings', 'validate', mappings]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/broken\.yaml:4:\d+ states/);
  });

  it('checks a Jira mapping against the live site with --instance', async () => {
    let jira: JiraSimulator | undefined;
    const site = await startSimulatorServer(() => jira?.handlers() ?? []);
    try {
      jira = new JiraSimulator({ baseUrl: site.url, auth: { basic: [{ email: 'ops@acme.example', apiToken: 'tok' }] } });
      const config = (mapping: string) =>
        `store: { kind: sqlite, path: ${join(dir, 'live.db')} }\ninstances:\n  - { id: jsm, system: jira, baseUrl: "${site.url}", auth: { kind: basic, email: ops@acme.example, apiToken: tok }, projects: [ITSM], mapping: ${mapping} }\n`;
      const file = join(dir, 'live.yaml');
      writeFileSync(file, config(join(ROOT, 'mappings/jira.default.yaml')));
      const good = await changegate(['mappings', 'validate', '--instance', 'jsm', '--config', file]);
      expect(good.stdout).toMatch(/^ok /);
      expect(good.code).toBe(0);

      const renamed = join(dir, 'jira-renamed.yaml');
      writeFileSync(renamed, readFileSync(join(ROOT, 'mappings/jira.default.yaml'), 'utf8').replace('  Implementing: implement', '  In progress: implement'));
      writeFileSync(file, config(renamed));
      const bad = await changegate(['mappings', 'validate', '--instance', 'jsm', '--config', file]);
      expect(bad.code).toBe(2);
      expect(bad.stdout).toContain('In progress');
      expect(bad.stdout).toContain('Implementing');
    } finally {
      await site.close();
    }
  });

  it('prints the JSON Schema of changegate.yaml', async () => {
    const { code, stdout } = await changegate(['config', 'schema']);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['store', 'server', 'instances']));
  });

  it('exits 2 on an unknown command', async () => {
    const { code, stderr } = await changegate(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command');
  });
});
