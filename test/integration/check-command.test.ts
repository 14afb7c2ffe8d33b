// `changegate check` as an operator runs it: a child process against a mirror
// in a temp store and a configuration naming it; exit code and what it prints.
// `--at` pins the instant the policy judges, so lead times do not drift. The
// instance is a ServiceNow simulator over loopback: `check` reads its blackout
// and maintenance schedules as the service does.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import type { Change } from '../../src/domain/change.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const AT = '2026-03-06T10:00:00Z';

function changegate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, CHANGEGATE_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

let dir: string;
let servers: SimulatorServer[] = [];
let config: string;
let frozenConfig: string;
let unreachableConfig: string;
let tunedConfig: string;
let waivedConfig: string;

const change = (n: number, overrides: Partial<Change> = {}): Change => buildChange({ nativeId: sysId(n), key: changeNumber(n), ...overrides });

/** A ServiceNow site over loopback, optionally with a blackout schedule. */
async function site(blackout?: { name: string; start: string; end: string }): Promise<string> {
  let sim: ServiceNowSimulator | undefined;
  const server = await startSimulatorServer(() => sim?.handlers() ?? []);
  servers.push(server);
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  if (blackout) {
    const row = sim.insertRecord('cmn_schedule', { name: blackout.name, type: 'blackout', time_zone: 'UTC', sys_class_name: 'cmn_schedule_blackout' });
    sim.insertRecord('cmn_schedule_span', { schedule: row.sys_id, type: 'blackout', name: blackout.name, show_as: 'busy', start_date_time: blackout.start, end_date_time: blackout.end });
  }
  return server.url;
}

const instanceAt = (url: string) => `instances:
  - id: sn-prod
    system: servicenow
    baseUrl: ${url}
    auth: { kind: basic, username: admin, password: admin }
    retries: 0
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-check-'));
  const db = join(dir, 'changegate.db');
  const store = SqliteChangeStore.open(db);
  const changes = [
    // Planned 4.5 days after AT: clear of the default 48 h lead time.
    change(1),
    // Planned 23 hours after AT.
    change(2, { plannedStart: '2026-03-07T09:00:00Z', plannedEnd: '2026-03-07T10:00:00Z' }),
  ];
  await store.applyPage('sn-prod', 'changes', changes.map((c) => ({ kind: 'change', change: c })), null);
  await store.close();
  const instance = instanceAt(await site());
  config = join(dir, 'changegate.yaml');
  writeFileSync(config, `store: { kind: sqlite, path: ${db} }\n${instance}`);
  // The site freezes the days around change 1's window (2026-03-10 22:00 UTC).
  frozenConfig = join(dir, 'frozen.yaml');
  writeFileSync(frozenConfig, `store: { kind: sqlite, path: ${db} }\n${instanceAt(await site({ name: 'Quarter-end freeze', start: '2026-03-10 00:00:00', end: '2026-03-12 00:00:00' }))}`);
  // Nothing listens on port 9 of the loopback.
  unreachableConfig = join(dir, 'unreachable.yaml');
  writeFileSync(unreachableConfig, `store: { kind: sqlite, path: ${db} }\n${instanceAt('http://127.0.0.1:9')}`);
  const policy = join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    `kind: policy
version: "acme-3"
overrides:
  - match: { service: Payments API }
    rules:
      authorize.lead-time: { leadTime: { normal: 72h } }
`,
  );
  const waived = join(dir, 'waived.yaml');
  writeFileSync(
    waived,
    `kind: policy
version: "acme-4"
waivers:
  - change: ${changeNumber(2)}
    gate: authorize.lead-time
    by: Dana Whitfield (change manager)
    reason: vendor hotfix must ship before the weekend
    until: "2026-03-07T00:00:00Z"
`,
  );
  waivedConfig = join(dir, 'waived-config.yaml');
  writeFileSync(waivedConfig, `store: { kind: sqlite, path: ${db} }\npolicy: ${waived}\n${instance}`);
  tunedConfig = join(dir, 'tuned.yaml');
  writeFileSync(tunedConfig, `store: { kind: sqlite, path: ${db} }\npolicy: ${policy}\n${instance}`);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  rmSync(dir, { recursive: true, force: true });
});

describe('changegate check KEY --to STATE', () => {
  it('exits 0 for an allowed transition, listing each gate with its result, in plain text in a pipe', async () => {
    const { code, stdout, stderr } = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', config, '--at', AT]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^authorize\.lead-time +authorize +pass +field:plannedStart +planned start 2026-03-10 22:00 UTC is 4 d 12 h away/m);
    expect(stdout).toMatch(/^authorize\.no-overlap +authorize +pass/m);
    expect(stdout).toContain('verdict: ALLOWED');
    expect(stdout).toMatch(/^policy 2026\.1\+[0-9a-f]{8}$/m);
    expect(stdout).not.toContain('\u001B[');
  });

  it('exits 1 for a transition a gate blocks, with the failing gate and its reason', async () => {
    const { code, stdout } = await changegate(['check', changeNumber(2), '--to', 'authorize', '--config', config, '--at', AT]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^authorize\.lead-time +authorize +fail /m);
    expect(stdout).toContain('verdict: NOT ALLOWED (1 reason)');
    expect(stdout).toContain('  - planned start 2026-03-07 09:00 UTC is 23 h away; normal changes need 48 h lead time (authorize.lead-time)');
  });

  it('takes the native state value of the instance mapping', async () => {
    const { code, stdout } = await changegate(['check', changeNumber(2), '--to=-3', '--config', config, '--at', AT]);
    expect(code).toBe(1);
    expect(stdout).toContain('transition assess → authorize');
  });

  it('exits 2 naming the key the mirror does not hold, and the state it does not know', async () => {
    const unknown = await changegate(['check', 'CHG0099999', '--to', 'authorize', '--config', config, '--at', AT]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no mirrored change "CHG0099999"');
    expect(unknown.stdout).toBe('');
    const state = await changegate(['check', changeNumber(1), '--to', 'deployed', '--config', config]);
    expect(state.code).toBe(2);
    // Everything the instance accepts, in full: the canonical states and each native value of its mapping.
    expect(state.stderr).toBe(
      'changegate check: --to "deployed" is not a state sn-prod knows; accepted are the canonical states: new, assess, authorize, scheduled, implement, review, closed, canceled, failed; ' +
        'native states of sn-prod: "-5" (new), "New" (new), "-4" (assess), "Assess" (assess), "-3" (authorize), "Authorize" (authorize), "-2" (scheduled), "Scheduled" (scheduled), ' +
        '"-1" (implement), "Implement" (implement), "0" (review), "Review" (review), "3" (closed), "Closed" (closed), "4" (canceled), "Canceled" (canceled)\n',
    );
  });

  it('exits 2 without creating a store where the configuration names none', async () => {
    const missing = join(dir, 'nowhere', 'changegate.db');
    const file = join(dir, 'empty.yaml');
    writeFileSync(file, `store: { kind: sqlite, path: ${missing} }\n`);
    const { code, stderr } = await changegate(['check', changeNumber(1), '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`no mirror at ${missing}`);
    expect(existsSync(missing)).toBe(false);
  });
});

describe('changegate check judges with the ITSM schedules, as the service does', () => {
  it('blocks a transition whose window falls in a blackout schedule of the site, naming the freeze', async () => {
    const { code, stdout } = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', frozenConfig, '--at', AT]);
    expect(code).toBe(1);
    expect(stdout).toContain('calendars: the policy calendar and the ITSM schedules of sn-prod');
    expect(stdout).toMatch(/^authorize\.freeze +authorize +fail +.*the planned window overlaps freeze "Quarter-end freeze"/m);
  });

  it('says so, and exits 3 instead of 0, when the site cannot be reached and only the policy calendar was used', async () => {
    const allowed = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', unreachableConfig, '--at', AT]);
    expect(allowed.code).toBe(3);
    expect(allowed.stdout).toContain('calendars: THE POLICY CALENDAR ONLY: the ITSM schedules of sn-prod could not be read');
    expect(allowed.stdout).toContain('verdict: ALLOWED');
    expect(allowed.stderr).toMatch(/^changegate check: judged with the policy calendar only: the ITSM schedules of sn-prod could not be read \(.+\)$/m);
    // A missing calendar can only hide blockers: "not allowed" stays certain, and stays 1.
    const blocked = await changegate(['check', changeNumber(2), '--to', 'authorize', '--config', unreachableConfig, '--at', AT]);
    expect(blocked.code).toBe(1);
  });

  it('prints the same answer as JSON, with the calendars it rests on', async () => {
    const { code, stdout } = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', frozenConfig, '--at', AT, '--json']);
    expect(code).toBe(1);
    const answer = JSON.parse(stdout) as Record<string, unknown> & { transition: { allow: boolean; gates: { id: string; result: string }[] } };
    expect(answer).toMatchObject({ format: 1, exitCode: 1, change: { key: changeNumber(1), instance: 'sn-prod', state: 'assess' }, calendars: { itsm: 'read' } });
    expect(answer.transition.allow).toBe(false);
    expect(answer.transition.gates).toContainEqual(expect.objectContaining({ id: 'authorize.freeze', result: 'fail' }));
  });
});

describe('changegate check KEY', () => {
  it('prints the assessment: scorecard, the next transitions and what blocks them', async () => {
    const { code, stdout } = await changegate(['check', changeNumber(2), '--config', config, '--at', AT]);
    expect(code).toBe(0);
    expect(stdout).toContain('CAB scorecard: Conditional Go');
    expect(stdout).toMatch(/^Testing status +unknown +no test results reported yet/m);
    expect(stdout).toMatch(/^new +yes +-$/m);
    expect(stdout).toMatch(/^authorize +no +authorize\.lead-time \(fail\)$/m);
    expect(stdout).toMatch(/^canceled +no +canceled\.reason \(fail\)$/m);
  });

  it('with --explain shows the parameters in force and where each came from', async () => {
    // 60 h before the planned start: enough for the default 48 h, not for the service's 72 h.
    const { code, stdout } = await changegate(['check', changeNumber(1), '--to', 'authorize', '--explain', '--config', tunedConfig, '--at', '2026-03-08T10:00:00Z']);
    expect(code).toBe(1);
    expect(stdout).toContain('normal changes need 72 h lead time (authorize.lead-time)');
    expect(stdout).toMatch(/^ {2}leadTime\.normal +72 h +override #1 \(service=Payments API\)$/m);
    expect(stdout).toMatch(/^ {2}leadTime\.standard +0 min +built-in default$/m);
    expect(stdout).toMatch(/^ {2}plans +\[implementation, backout, test\] +built-in default$/m);
    expect(stdout).toMatch(/^policy acme-3\+[0-9a-f]{8}$/m);
  });
});

describe('changegate check with a waiver in the policy', () => {
  it('allows the step while the waiver is in force, saying who waived what and why, and blocks again after it ends', async () => {
    const waived = await changegate(['check', changeNumber(2), '--to', 'authorize', '--config', waivedConfig, '--at', AT]);
    expect(waived.code).toBe(0);
    expect(waived.stdout).toMatch(/^authorize\.lead-time +authorize +waived +.*waived by Dana Whitfield \(change manager\) until 2026-03-07 00:00 UTC: vendor hotfix must ship before the weekend/m);
    expect(waived.stdout).toContain('verdict: ALLOWED');
    const expired = await changegate(['check', changeNumber(2), '--to', 'authorize', '--config', waivedConfig, '--at', '2026-03-07T00:00:00Z']);
    expect(expired.code).toBe(1);
    expect(expired.stdout).toMatch(/^authorize\.lead-time +authorize +fail /m);
  });
});
