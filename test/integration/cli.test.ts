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
import { freePort, spawnServe } from '../support/serve-child.ts';
import { changegate } from '../support/cli-child.ts';

const ROOT = resolve(import.meta.dirname, '../..');


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

/** A Jira instance entry of changegate.yaml that never syncs in a test (its schedule is once a year, its site closed). */
const jiraEntry = (id: string): string => `  - { id: ${id}, system: jira, baseUrl: "http://127.0.0.1:9", auth: { kind: basic, email: ops@acme.example, apiToken: t }, projects: [ITSM], schedule: "0 0 1 1 *" }`;

/** A github (signing) and a jenkins (token) event source, each with extra keys. */
const resultsSources = (github: string, jenkins = ''): string =>
  `events:\n  sources:\n    - { id: github, kind: github, secrets: [s]${github} }\n    - { id: jenkins, kind: jenkins, secrets: [t]${jenkins} }\n`;

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
    expect(stdout).toMatch(/^sn-cli: \d+ records read, \d+ written, \d+ unchanged, 0 stale, 0 rejected \(\d+\.\d s\)$/m);

    const json = await changegate(['sync', '--config', file, '--json'], { SN_PASSWORD: 'admin' });
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout) as { format: number; exitCode: number; rejected: number; reports: { instance: string; streams: { stream: string; records: number }[] }[]; failures: unknown[] };
    expect(answer).toMatchObject({ format: 1, exitCode: 0, rejected: 0, failures: [] });
    expect(answer.reports[0]?.instance).toBe('sn-cli');
    expect(answer.reports[0]?.streams.map((s) => s.stream)).toEqual(['approvals', 'journal', 'changes']);

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

      // A status name carrying a RIGHT-TO-LEFT OVERRIDE and an escape sequence is printed escaped, in the text and in --json.
      const crafted = join(dir, 'jira-crafted.yaml');
      writeFileSync(crafted, readFileSync(join(ROOT, 'mappings/jira.default.yaml'), 'utf8').replace('  Implementing: implement', '  "Imple\u202Ementing\u001b[2K": implement'));
      writeFileSync(file, config(crafted));
      const unsafe = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;
      const text = await changegate(['mappings', 'validate', '--instance', 'jsm', '--config', file]);
      expect(text.code).toBe(2);
      expect(text.stdout).toContain('Imple\\u202ementing\\u001b[2K');
      expect(text.stdout.split('\n').filter((line) => unsafe.test(line))).toEqual([]);
      const json = await changegate(['mappings', 'validate', '--instance', 'jsm', '--config', file, '--json']);
      expect(json.stdout.split('\n').filter((line) => unsafe.test(line))).toEqual([]);
      // JSON escapes: the problems parse back to the name as the file holds it.
      expect((JSON.parse(json.stdout) as { problems: string[] }).problems.join('\n')).toContain('Imple\u202Ementing\u001b[2K');
    } finally {
      await site.close();
    }
  });

  it('stops quietly when the reader of its output goes away (| head), never with a stack trace', async () => {
    const closed = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, ['src/main.ts', 'openapi'], { cwd: ROOT, env: { ...process.env, CHANGEGATE_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      // Like `head -1`: read the first chunk, then close the pipe while the command still writes.
      child.stdout.once('data', () => child.stdout.destroy());
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => done({ code, stderr }));
    });
    expect(closed.stderr).toBe('');
    expect(closed.code).toBe(0);
  });

  it('prints the JSON Schema of changegate.yaml', async () => {
    const { code, stdout } = await changegate(['config', 'schema']);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['store', 'server', 'instances']));
  });

  it('exits 1 when records were rejected, saying how many and why', async () => {
    const mapping = join(dir, 'servicenow.no-implement.yaml');
    writeFileSync(mapping, readFileSync(join(ROOT, 'mappings/servicenow.default.yaml'), 'utf8').replace(/^ {2}"-1": implement.*\n/m, ''));
    const implementing = sim.listChanges().filter((c) => c['state'] === '-1').length;
    expect(implementing).toBeGreaterThan(0);
    const file = join(dir, 'lossy.yaml');
    writeFileSync(
      file,
      `store: { kind: sqlite, path: ${join(dir, 'lossy.db')} }\nlog: { level: fatal }\ninstances:\n  - { id: sn-cli, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, mapping: ${mapping} }\n`,
    );
    const { code, stdout, stderr } = await changegate(['sync', '--config', file]);
    expect(code).toBe(1);
    expect(stdout).toContain(`, ${implementing} rejected (`);
    expect(stdout).toMatch(new RegExp(`^  ${implementing} rejected with CG_MAPPING_UNKNOWN_VALUE, e\\.g\\. .*"-1"`, 'm'));
    expect(stderr).toContain(`changegate sync: ${implementing} records were rejected and not stored`);

    const json = JSON.parse((await changegate(['sync', '--config', file, '--json', '--full'])).stdout) as { exitCode: number; rejected: number };
    expect(json).toMatchObject({ exitCode: 1, rejected: implementing });
  });

  it('exits 2 on a usage error with that command\'s own help, never 1 or a stack trace', async () => {
    const bogus = await changegate(['check', 'CHG0030001', '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stdout).toBe('');
    expect(bogus.stderr).toMatch(/^changegate check: Unknown option '--bogus'\.\n\nusage: changegate check KEY /);
    expect(bogus.stderr).toContain('Examples:\n  changegate check CHG0030001');
    expect(bogus.stderr).not.toMatch(/CG_INTERNAL|\n\s+at /);

    const missing = await changegate(['check']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^changegate check: missing KEY\n\nusage: changegate check KEY/);

    const value = await changegate(['sync', '--instance']);
    expect(value.code).toBe(2);
    expect(value.stderr).toMatch(/^changegate sync: Option '--instance <value>' argument missing\n\nusage: changegate sync /);
  });

  it('prints each command\'s own help with examples, and the version', async () => {
    const sync = await changegate(['sync', '--help']);
    const check = await changegate(['check', '-h']);
    const mappings = await changegate(['mappings', 'validate', '--help']);
    expect([sync.code, check.code, mappings.code]).toEqual([0, 0, 0]);
    expect(sync.stdout).toMatch(/^usage: changegate sync \[--instance ID\]/);
    expect(sync.stdout).toContain('Examples:\n  changegate sync --config changegate.yaml');
    expect(check.stdout).toMatch(/^usage: changegate check KEY/);
    expect(check.stdout).toContain('--json');
    expect(mappings.stdout).toMatch(/^usage: changegate mappings validate/);
    expect(new Set([sync.stdout, check.stdout, mappings.stdout]).size).toBe(3);

    const version = await changegate(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version).toMatchObject({ code: 0, stdout: `changegate ${pkg.version}\n` });
  });

  it('prints mapping results as JSON with --json', async () => {
    const { code, stdout } = await changegate(['mappings', 'validate', join(ROOT, 'mappings'), '--json']);
    expect(code).toBe(0);
    const answer = JSON.parse(stdout) as { format: number; exitCode: number; files: { file: string; ok: boolean; errors: string[]; warnings: string[] }[] };
    expect(answer).toMatchObject({ format: 1, exitCode: 0 });
    expect(answer.files.map((f) => f.file.split('/').at(-1))).toEqual(['jira.default.yaml', 'policy.default.yaml', 'servicenow.default.yaml', 'services.yaml']);
    expect(answer.files.every((f) => f.ok && f.errors.length === 0 && f.warnings.length === 0)).toBe(true);
  });

  it('describes every key of changegate.yaml in its JSON Schema, for editors', async () => {
    const { stdout } = await changegate(['config', 'schema']);
    const undescribed: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const n = node as { properties?: Record<string, { description?: string }>; anyOf?: unknown[]; oneOf?: unknown[]; items?: unknown };
      for (const [key, value] of Object.entries(n.properties ?? {})) {
        if (typeof value.description !== 'string' || value.description === '') undescribed.push(`${path}.${key}`);
        walk(value, `${path}.${key}`);
      }
      for (const branch of [...(n.anyOf ?? []), ...(n.oneOf ?? [])]) walk(branch, path);
      if (n.items) walk(n.items, `${path}[]`);
    };
    walk(JSON.parse(stdout), '');
    expect(undescribed).toEqual([]);
    expect(stdout).toContain('"description": "When `serve` syncs the instance: a cron expression');
  });

  it('validates a configuration, printing every problem as JSON with --json', async () => {
    const file = join(dir, 'several.yaml');
    writeFileSync(file, 'log: { level: verbose }\ninstances:\n  - { id: sn, system: servicenow, baseUrl: "https://x.example", schedule: "*/61 * * * *", auth: { kind: basic, username: u, password: ${SN_PW} } }\n');
    const { code, stdout } = await changegate(['config', 'validate', '--config', file, '--json']);
    expect(code).toBe(2);
    const answer = JSON.parse(stdout) as { exitCode: number; code: string; issues: string[] };
    expect(answer).toMatchObject({ exitCode: 2, code: 'CG_CONFIG_INVALID' });
    expect(answer.issues.map((i) => i.slice(file.length + 1).replace(/^\d+:\d+ /, ''))).toEqual([
      'log.level: "verbose" is not one of fatal, error, warn, info, debug, trace',
      'instances[0].schedule: the minute field "*/61": step 61 is outside 1–59; e.g. "*/2 * * * *" (every 2 minutes)',
      'instances[0].auth.password: environment variable SN_PW is not set; export it, or give a default as ${SN_PW:-value}',
    ]);
    const ok = await changegate(['config', 'validate', '--config', file], { SN_PW: 'x' });
    expect(ok.code).toBe(2);
    writeFileSync(file, 'instances: []\n');
    expect(await changegate(['config', 'validate', '--config', file])).toMatchObject({ code: 0, stdout: `ok      ${file}\n` });
  });

  it('refuses a listen port above 65535 when validating, naming the line, rather than passing it to crash serve', async () => {
    const file = join(dir, 'port.yaml');
    writeFileSync(file, 'log: { level: info }\nserver: { listen: "127.0.0.1:99999" }\n');
    const { code, stdout } = await changegate(['config', 'validate', '--config', file, '--json']);
    expect(code).toBe(2);
    const answer = JSON.parse(stdout) as { code: string; issues: string[] };
    expect(answer.code).toBe('CG_CONFIG_INVALID');
    expect(answer.issues).toEqual([expect.stringMatching(/:2:\d+ server\.listen: .*port 99999 is outside 0–65535/)]);
    // The environment variable that wins over server.listen is held to the same rule, before anything starts.
    const served = await changegate(['serve'], { CHANGEGATE_LISTEN: '127.0.0.1:70000' });
    expect(served.code).toBe(2);
    expect(served.stderr).toContain('[CG_CONFIG_INVALID] environment CHANGEGATE_LISTEN:');
    expect(served.stderr).not.toContain('CG_INTERNAL');
  });

  it('refuses a store.uri that is no MongoDB connection string as a configuration error naming the field, never echoing it', async () => {
    const file = join(dir, 'mongo-uri.yaml');
    writeFileSync(file, 'log: { level: info }\nstore: { kind: mongodb, uri: "${CG_TEST_MONGO_URI}" }\n');
    const wrongScheme = 'https://admin:hunter2-wrong-scheme@db.internal:27017';
    const validated = await changegate(['config', 'validate', '--config', file, '--json'], { CG_TEST_MONGO_URI: wrongScheme });
    expect(validated.code).toBe(2);
    const answer = JSON.parse(validated.stdout) as { code: string; issues: string[] };
    expect(answer.issues).toEqual([expect.stringMatching(/:2:\d+ store\.uri: expected a MongoDB connection string \(mongodb:\/\/ or mongodb\+srv:\/\/\)/)]);
    expect(validated.stdout).not.toContain('hunter2');
    // A connection string the driver refuses (an option it does not know) stops serve the same way, before anything starts.
    const served = await changegate(['serve', '--config', file], { CG_TEST_MONGO_URI: 'mongodb://admin:hunter2-bad-option@127.0.0.1:9/?replicaSett=rs0' });
    expect(served.code).toBe(2);
    expect(served.stderr).toMatch(/\[CG_CONFIG_INVALID\] store\.uri: /);
    expect(served.stderr).not.toContain('CG_INTERNAL');
    expect(served.stderr).not.toContain('hunter2');
  });

  it('never echoes a secret given in a list (API tokens, event source secrets) when it has the wrong type', async () => {
    const file = join(dir, 'listed-secrets.yaml');
    writeFileSync(file, 'server: { apiTokens: [731904562288] }\nevents:\n  sources:\n    - { id: pipeline, kind: generic, secrets: [true, 55013377] }\n');
    const { code, stdout } = await changegate(['config', 'validate', '--config', file, '--json']);
    expect(code).toBe(2);
    const answer = JSON.parse(stdout) as { issues: string[] };
    expect(answer.issues.map((i) => i.slice(file.length + 1).replace(/^\d+:\d+ /, ''))).toEqual([
      'server.apiTokens[0]: expected a string, got a value',
      'events.sources[0].secrets[0]: expected a string, got a value',
      'events.sources[0].secrets[1]: expected a string, got a value',
    ]);
    expect(stdout).not.toMatch(/731904562288|55013377/);
  });

  it('warns, without refusing, of a Jira webhookSecret that allowUnsignedWebhooks lets deliveries bypass: in config validate and once at serve start', async () => {
    const port = await freePort();
    const file = join(dir, 'unsigned.yaml');
    writeFileSync(
      file,
      [
        `store: { kind: sqlite, path: ${JSON.stringify(join(dir, 'unsigned.db'))} }`,
        `server: { listen: "127.0.0.1:${port}" }`,
        'instances:',
        '  - id: jsm-cloud',
        '    system: jira',
        '    baseUrl: http://127.0.0.1:9',
        '    auth: { kind: basic, email: ops@acme.example, apiToken: t }',
        '    projects: [ITSM]',
        '    schedule: "0 0 1 1 *"',
        '    webhookSecret: ${CG_TEST_JIRA_HOOK}',
        '    allowUnsignedWebhooks: true',
        '',
      ].join('\n'),
    );
    const env = { CG_TEST_JIRA_HOOK: 'hook-secret-never-shown' };
    const warning = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:11:\\d+ instances\\[0\\]\\.allowUnsignedWebhooks: .*webhookSecret`);
    const validated = await changegate(['config', 'validate', '--config', file], env);
    expect(validated.code).toBe(0);
    const [head, line, ...rest] = validated.stdout.split('\n');
    expect([head, rest]).toEqual([`warn    ${file}`, ['']]);
    expect(line?.replace(/^ {2}warning: /, '')).toMatch(warning);
    const json = JSON.parse((await changegate(['config', 'validate', '--config', file, '--json'], env)).stdout) as { exitCode: number; issues: string[]; warnings: string[] };
    expect(json).toMatchObject({ exitCode: 0, issues: [] });
    expect(json.warnings).toEqual([expect.stringMatching(warning)]);
    expect(validated.stdout + JSON.stringify(json)).not.toContain('hook-secret-never-shown');

    const serve = spawnServe({ configFile: file, port, env: { ...process.env, ...env } });
    try {
      await serve.ready;
      const logged = serve.lines().filter((l) => l['level'] === 40 && String(l['msg']).includes('allowUnsignedWebhooks'));
      expect(logged.map((l) => String(l['msg']))).toEqual([expect.stringMatching(warning)]);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('warns of a signing event source that takes results signed over the file alone (config validate, once at serve start), and refuses requireBoundSignature on a token source', async () => {
    const file = join(dir, 'results-bound.yaml');
    writeFileSync(file, resultsSources(''));
    const validated = await changegate(['config', 'validate', '--config', file]);
    expect(validated.code).toBe(0);
    expect(validated.stdout.split('\n')).toEqual([
      `warn    ${file}`,
      expect.stringMatching(/^ {2}warning: .*:3:\d+ events\.sources\[0\]\.results\.requireBoundSignature: source "github" takes results uploads signed over the file alone: .*send X-Changegate-Signature-256/),
      '',
    ]);
    writeFileSync(file, resultsSources(', results: { requireBoundSignature: true }'));
    expect(await changegate(['config', 'validate', '--config', file])).toMatchObject({ code: 0, stdout: `ok      ${file}\n` });
    writeFileSync(file, resultsSources('', ', results: { requireBoundSignature: true }'));
    const refused = JSON.parse((await changegate(['config', 'validate', '--config', file, '--json'])).stdout) as { exitCode: number; issues: string[] };
    expect(refused.exitCode).toBe(2);
    expect(refused.issues).toEqual([expect.stringMatching(/events\.sources\[1\]\.results\.requireBoundSignature: a jenkins source sends its secret as a token/)]);

    // serve warns of it once at start, naming the line, and starts.
    const port = await freePort();
    const served = join(dir, 'results-bound-serve.yaml');
    writeFileSync(served, `store: { kind: sqlite, path: ${JSON.stringify(join(dir, 'results-bound.db'))} }\nserver: { listen: "127.0.0.1:${port}" }\n${resultsSources('')}`);
    const serve = spawnServe({ configFile: served, port });
    try {
      await serve.ready;
      const logged = serve.lines().filter((l) => l['level'] === 40 && String(l['msg']).includes('requireBoundSignature'));
      expect(logged.map((l) => String(l['msg']))).toEqual([expect.stringMatching(/:5:\d+ events\.sources\[0\]\.results\.requireBoundSignature: source "github" takes results uploads signed over the file alone/)]);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('warns of a policy override or waiver on an instance the configuration does not have: config validate, mappings validate --config, once at serve start', async () => {
    const port = await freePort();
    const policies = join(dir, 'shared-policy');
    mkdirSync(policies);
    const policy = join(policies, 'policy.shared.yaml');
    writeFileSync(
      policy,
      [
        'kind: policy',
        'version: "2026.1-shared"',
        'overrides:',
        '  - match: { instance: jsm-prod, type: standard }',
        '    rules:',
        '      implement.lower-environments: { order: [UAT] }',
        '  - match: { instance: jsm-prd, type: normal }',
        '    rules:',
        '      implement.lower-environments: { order: [SIT, UAT] }',
        'waivers:',
        '  - { change: ITSM-42, instance: jsm-stage, gate: implement.ci-green, by: cab@acme.example, reason: pipeline migration, until: "2030-01-01T00:00:00Z" }',
        '',
      ].join('\n'),
    );
    const file = join(dir, 'shared-policy.yaml');
    writeFileSync(
      file,
      [`store: { kind: sqlite, path: ${JSON.stringify(join(dir, 'shared-policy.db'))} }`, `server: { listen: "127.0.0.1:${port}" }`, `policy: ${JSON.stringify(policy)}`, 'instances:', jiraEntry('jsm-prod'), jiraEntry('jsm-test'), ''].join('\n'),
    );
    const at = (line: number, path: string): string => `${policy}:${line}:`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + `\\d+ ${path.replace(/[.[\]]/g, '\\$&')}: `;
    const expected = [
      expect.stringMatching(new RegExp(`^${at(7, 'overrides[1].match.instance')}no instance "jsm-prd" in the configuration \\(it has jsm-prod and jsm-test\\), so this override never applies; did you mean "jsm-prod"\\?$`)),
      expect.stringMatching(new RegExp(`^${at(11, 'waivers[0].instance')}no instance "jsm-stage" in the configuration \\(it has jsm-prod and jsm-test\\), so this waiver never applies`)),
    ];

    const validated = await changegate(['config', 'validate', '--config', file]);
    expect(validated.code).toBe(0);
    const [head, ...lines] = validated.stdout.trimEnd().split('\n');
    expect(head).toBe(`warn    ${file}`);
    expect(lines.map((l) => l.replace(/^ {2}warning: /, ''))).toEqual(expected);
    expect((JSON.parse((await changegate(['config', 'validate', '--config', file, '--json'])).stdout) as { warnings: string[] }).warnings).toEqual(expected);

    const checked = JSON.parse((await changegate(['mappings', 'validate', policies, '--config', file, '--json'])).stdout) as { exitCode: number; files: { ok: boolean; warnings: string[] }[] };
    expect(checked).toMatchObject({ exitCode: 0, files: [{ ok: true }] });
    expect(checked.files[0]?.warnings).toEqual(expected);
    // Without a configuration there is nothing to hold the instances against: the file is valid as it stands.
    const alone = JSON.parse((await changegate(['mappings', 'validate', policies, '--json'])).stdout) as { files: { warnings: string[] }[] };
    expect(alone.files[0]?.warnings).toEqual([]);

    const serve = spawnServe({ configFile: file, port });
    try {
      await serve.ready;
      const logged = serve.lines().filter((l) => l['level'] === 40 && String(l['msg']).startsWith(policy));
      expect(logged.map((l) => String(l['msg']))).toEqual(expected);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('exits 2 on an unknown command', async () => {
    const { code, stderr } = await changegate(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command');
  });
});
