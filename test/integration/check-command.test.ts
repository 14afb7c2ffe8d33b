// `changegate check` as an operator runs it: a child process against a mirror
// in a temp store and a configuration naming it; exit code and what it prints.
// `--at` pins the instant the policy judges, so lead times do not drift. The
// instance is a ServiceNow simulator over loopback: `check` reads its blackout
// and maintenance schedules as the service does.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import type { Change } from '../../src/domain/change.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { buildApproval, buildChange, changeNumber, sysId } from '../support/change-builder.ts';
import { changegate } from '../support/cli-child.ts';

const AT = '2026-03-06T10:00:00Z';


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
  // Change 3 as three people moved it: assessed, sent to authorize, scheduled; approved after the second move.
  const versions: [Partial<Change>, string][] = [
    [{ state: 'assess', updatedAt: '2026-03-02T09:00:00Z', nativeRevision: 3 }, 'abel.tuter'],
    [{ state: 'authorize', title: 'Upgrade the payments API gateway to 4.2 (rehearsed)', updatedAt: '2026-03-04T09:00:00Z', nativeRevision: 4 }, 'beth.anglin'],
    [{ state: 'scheduled', title: 'Upgrade the payments API gateway to 4.2 (rehearsed)', updatedAt: '2026-03-08T09:00:00Z', nativeRevision: 5 }, 'carol.ruiz'],
  ];
  // Its own service and window: no neighbour of changes 1 and 2.
  const apart: Partial<Change> = { services: [{ id: 'svc-ledger', name: 'Ledger' }], cis: [{ id: 'ci-ledger01', name: 'ledger01' }], plannedStart: '2026-04-20T22:00:00Z', plannedEnd: '2026-04-20T23:00:00Z' };
  for (const [fields, user] of versions) await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: change(3, { ...apart, ...fields }), author: { id: user, name: null } }], null);
  const approval = buildApproval({ state: 'approved', nativeState: 'approved', decidedAt: '2026-03-07T12:00:00Z', updatedAt: '2026-03-07T12:00:00Z' });
  // A second approver, asked only on the 6th (after the move to authorize) and approving on the 7th.
  const askedLater = buildApproval({
    id: 'd4c3b2a1d4c3b2a1d4c3b2a1d4c3b2a1',
    approver: { id: 'u-dana', name: 'Dana Whitfield' },
    state: 'approved',
    nativeState: 'approved',
    requestedAt: '2026-03-06T09:00:00Z',
    decidedAt: '2026-03-07T13:00:00Z',
    updatedAt: '2026-03-07T13:00:00Z',
  });
  await store.applyPage('sn-prod', 'approvals', [approval, askedLater].map((a) => ({ kind: 'approval', changeNativeId: sysId(3), approval: a })), null);
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
    // No event source feeds this store: the section says nothing decided a gate rather than staying silent.
    expect(stdout).toMatch(/^events behind the gates \(0 correlated\):\n  none decided a gate$/m);
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

describe('changegate check with warnings about its configuration', () => {
  it('prints on stderr what `config validate` warns of, naming the line and the nearest instance, with stdout and exit code unchanged', async () => {
    const policy = join(dir, 'misnamed-policy.yaml');
    writeFileSync(
      policy,
      `kind: policy
version: "acme-5"
waivers:
  - change: ${changeNumber(9)}
    instance: sn-prd
    gate: authorize.lead-time
    by: Dana Whitfield (change manager)
    reason: vendor hotfix
    until: "2026-03-07T00:00:00Z"
`,
    );
    const warned = join(dir, 'warned.yaml');
    const signed = 'webhookSecret: s3cret, allowUnsignedWebhooks: true';
    writeFileSync(warned, `store: { kind: sqlite, path: ${join(dir, 'changegate.db')} }\npolicy: ${policy}\n${instanceAt(servers[0]?.url ?? '')}  - { id: jsm, system: jira, baseUrl: https://acme.atlassian.net, auth: { kind: basic, email: ops@acme.example, apiToken: t }, projects: [ITSM], ${signed} }\n`);
    const plain = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', warned, '--at', AT]);
    const quiet = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', config, '--at', AT]);
    expect(plain.stderr.split('\n').filter((l) => l !== '')).toEqual([
      expect.stringMatching(/^changegate check: warning: .*warned\.yaml:\d+:\d+ instances\[1\]\.allowUnsignedWebhooks: true while webhookSecret is set/),
      expect.stringMatching(/^changegate check: warning: .*misnamed-policy\.yaml:5:\d+ waivers\[0\]\.instance: no instance "sn-prd" in the configuration .*did you mean "sn-prod"\?$/),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout.replace(/^ *policy \S+/gm, '')).toBe(quiet.stdout.replace(/^ *policy \S+/gm, ''));
    const json = await changegate(['check', changeNumber(1), '--to', 'authorize', '--config', warned, '--at', AT, '--json']);
    expect(json.stderr).toMatch(/did you mean "sn-prod"/);
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 0, transition: { allow: true } });
  });
});

describe('changegate check KEY --at T', () => {
  it('judges the revision that was current at T, and says which one', async () => {
    const { code, stdout } = await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-05T00:00:00Z', '--json']);
    expect(code).toBe(0);
    const answer = JSON.parse(stdout) as { change: { state: string; title: string; revision: number }; asOf: Record<string, unknown> };
    // Today the change is scheduled; at T it was in authorize under its second title.
    expect(answer.change).toMatchObject({ state: 'authorize', title: 'Upgrade the payments API gateway to 4.2 (rehearsed)', revision: 4 });
    expect(answer.asOf).toEqual({
      at: '2026-03-05T00:00:00.000Z',
      revision: 2,
      nativeRevision: 4,
      updatedAt: '2026-03-04T09:00:00Z',
      author: { id: 'beth.anglin', name: null },
      latestRevision: 3,
      undecidedApprovals: 1,
      requestedLaterApprovals: 1,
    });
    const table = await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-05T00:00:00Z']);
    expect(table.stdout).toMatch(/judged as of 2026-03-05T00:00:00\.000Z: revision 2 of 3 \(native 4, updated 2026-03-04T09:00:00Z, by beth\.anglin\)/);
    expect(table.stdout).toContain('1 approval was decided after that instant: taken as still requested');
  });

  it('says how many approvals it left out as requested after T, so a replay does not read as approvals gone missing', async () => {
    // Dana Whitfield was asked on the 6th: not there on the 5th, there (and decided) on the 9th.
    const before = await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-05T00:00:00Z']);
    expect(before.stdout).toContain('  1 approval was decided after that instant: taken as still requested\n  1 approval was requested after that instant: left out\n');
    const after = await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-09T00:00:00Z']);
    expect(after.stdout).toMatch(/judged as of 2026-03-09T00:00:00\.000Z: revision 3 of 3 /);
    expect(after.stdout).not.toContain('requested after that instant');
    const json = JSON.parse((await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-09T00:00:00Z', '--json'])).stdout) as { asOf: { requestedLaterApprovals: number } };
    expect(json.asOf.requestedLaterApprovals).toBe(0);
  });

  it('judges the first revision at its own update time, and the newest after the last one', async () => {
    const first = JSON.parse((await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-02T09:00:00Z', '--json'])).stdout) as { change: { state: string }; asOf: { revision: number } };
    expect([first.change.state, first.asOf.revision]).toEqual(['assess', 1]);
    const last = JSON.parse((await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-09T00:00:00Z', '--json'])).stdout) as { change: { state: string }; asOf: { revision: number; undecidedApprovals: number } };
    expect([last.change.state, last.asOf.revision, last.asOf.undecidedApprovals]).toEqual(['scheduled', 3, 0]);
  });

  it('refuses a T before the first revision, or one that is no time, as a usage error naming --at', async () => {
    const early = await changegate(['check', changeNumber(3), '--config', config, '--at', '2026-03-01T00:00:00Z']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain(`--at 2026-03-01T00:00:00.000Z is before the first revision changegate mirrored of ${changeNumber(3)} (revision 1, updated 2026-03-02T09:00:00Z)`);
    const garbage = await changegate(['check', changeNumber(3), '--config', config, '--at', 'last tuesday']);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toContain('--at "last tuesday" is neither an ISO-8601 instant');
  });
});
