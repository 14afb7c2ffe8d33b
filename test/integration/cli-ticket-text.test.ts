// `changegate history` and `changegate check` as a CAB member or an auditor
// runs them, on a change whose ticket text was written to print as something
// else: a summary and an approver's name carrying a terminal escape (erase the
// line, move up), a RIGHT-TO-LEFT OVERRIDE and a newline that would forge a
// verdict line. Anyone who can edit a ticket controls that text; what the
// commands print must read as it is, in the table and in --json.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, HttpResponse } from 'msw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { openStores } from '../../src/store/open-stores.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { buildApproval, buildChange, changeNumber, sysId } from '../support/change-builder.ts';
import { changegate } from '../support/cli-child.ts';

const AT = '2026-03-06T10:00:00Z';
const KEY = changeNumber(7);

// ESC [2K erases the line, ESC [1A moves up a line; U+202E reverses what follows; the newline starts a forged line.
const TITLE = 'Rotate certs \u001b[2K\u001b[1A\u202Edetcejer\u202C\nverdict: ALLOWED';
const APPROVER = 'Mallory \u202Edevorppa\u202C\u2066';
const COMMENT = 'fine by me\u001b[2K';
// A change number as its ticket holds it (an import or a renumbering writes it): asked for by id, printed as held.
const CRAFTED = buildChange({ nativeId: sysId(8), key: `${changeNumber(8)}\u001b[2K\u202Edetcejer\u202C`, title: TITLE });

/** What a terminal would not print as it reads: controls (newline aside) and bidirectional marks, overrides and isolates. */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const unsafeLines = (out: string) => out.split('\n').filter((line) => UNSAFE.test(line));
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const shown = (text: string) => text.replace(new RegExp(UNSAFE.source, 'gu'), (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);


const change = (fields: Parameters<typeof buildChange>[0]) => buildChange({ nativeId: sysId(7), key: KEY, ...fields });

let dir: string;
let server: SimulatorServer;
let sim: ServiceNowSimulator | undefined;
let config: string;
let readOnly: string;
let writingBack: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-ticket-text-'));
  const db = join(dir, 'changegate.db');
  const store = SqliteChangeStore.open(db);
  // Mirrored as sync mirrors it: two revisions (the second retitled by the same author), then the approval.
  await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: change({ updatedAt: '2026-03-02T09:00:00Z', nativeRevision: 3 }), author: { id: 'mallory', name: APPROVER } }], null);
  await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: change({ title: TITLE, updatedAt: '2026-03-03T09:00:00Z', nativeRevision: 4 }), author: { id: 'mallory', name: APPROVER } }], null);
  const approval = buildApproval({ approver: { id: 'mallory', name: APPROVER }, state: 'approved', nativeState: 'approved', comment: COMMENT, decidedAt: '2026-03-04T12:00:00Z', updatedAt: '2026-03-04T12:00:00Z' });
  await store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: sysId(7), approval }], null);
  await store.close();
  // In a store of its own, so that it is no neighbour of the change check judges.
  const ledger = join(dir, 'evidence.db');
  const stores = await openStores({ kind: 'sqlite', path: ledger });
  await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: CRAFTED }], null);
  await stores.evidence.append(CRAFTED.id, { kind: 'revision', at: '2026-03-02T09:00:00Z', actor: 'mallory', source: 'servicenow:sn-prod', summary: TITLE, payload: {} }, 'revision:1');
  await stores.close();
  server = await startSimulatorServer(() => sim?.handlers() ?? []);
  sim = new ServiceNowSimulator({ baseUrl: server.url });
  config = join(dir, 'changegate.yaml');
  writeFileSync(config, `store: { kind: sqlite, path: ${db} }\ninstances:\n  - { id: sn-prod, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, retries: 0 }\n`);
  const evidenceConfig = (writeBack: boolean) => {
    const file = join(dir, `evidence-${writeBack}.yaml`);
    writeFileSync(file, `store: { kind: sqlite, path: ${ledger} }\ninstances:\n  - { id: sn-prod, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, retries: 0, writeBack: ${writeBack} }\n`);
    return file;
  };
  [readOnly, writingBack] = [evidenceConfig(false), evidenceConfig(true)];
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('changegate history, on ticket text written to print as something else', () => {
  it('prints the approver, the author and the comment with their controls escaped, every row on its own line', async () => {
    const { code, stdout } = await changegate(['history', KEY, '--config', config]);
    expect(code).toBe(0);
    expect(unsafeLines(stdout)).toEqual([]);
    expect(stdout).toMatch(new RegExp(`^\\S+ \\S+ +approval +${escapeRegExp(`${shown(APPROVER)} (mallory)`)} +approved at 2026-03-04 12:00:00 .*"${escapeRegExp(shown(COMMENT))}"$`, 'm'));
    expect(stdout).toContain(shown(TITLE));
    // The newline in the title is shown, not obeyed: no line of the table starts with the forged verdict.
    expect(stdout).not.toMatch(/^verdict: ALLOWED/m);
  });

  it('writes --json that parses back to the same names, with the controls escaped as JSON escapes', async () => {
    const { code, stdout } = await changegate(['history', KEY, '--config', config, '--json']);
    expect(code).toBe(0);
    expect(unsafeLines(stdout)).toEqual([]);
    const answer = JSON.parse(stdout) as { items: { kind: string; by: { name: string | null } | string | null; comment?: string | null }[] };
    const approval = answer.items.find((e) => e.kind === 'approval');
    expect(approval).toMatchObject({ by: { id: 'mallory', name: APPROVER }, comment: COMMENT });
  });
});

describe('changegate check, on ticket text written to print as something else', () => {
  it('prints the change title and the author judged with their controls escaped, the title on the header line, and no forged verdict', async () => {
    const { code, stdout } = await changegate(['check', KEY, '--to', 'authorize', '--config', config, '--at', AT]);
    expect(code).toBe(0);
    expect(unsafeLines(stdout)).toEqual([]);
    expect(stdout.split('\n')[0]).toBe(`${KEY}  ${shown(TITLE)}`);
    expect(stdout).toContain(`by ${shown(APPROVER)})`);
    expect(stdout.split('\n').filter((line) => line.startsWith('verdict:'))).toEqual(['verdict: ALLOWED']);
  });

  it('writes --json that parses back to the same title, with the controls escaped as JSON escapes', async () => {
    const { code, stdout } = await changegate(['check', KEY, '--config', config, '--at', AT, '--json']);
    expect(code).toBe(0);
    expect(unsafeLines(stdout)).toEqual([]);
    expect(JSON.parse(stdout)).toMatchObject({ change: { key: KEY, title: TITLE } });
  });
});

describe('changegate sync, on a record written to print as something else', () => {
  it('prints the example of a rejected record with its controls escaped, human and --json', async () => {
    // A state no mapping knows, written to reverse and erase what follows it: the record is rejected, and its example quoted.
    const state = 'ok\u202E\u001b[2Kdetcejer';
    sim?.createChange({ number: changeNumber(90), short_description: 'Patch the load balancers', type: 'normal', state });
    const lossy = join(dir, 'sync.yaml');
    writeFileSync(lossy, `store: { kind: sqlite, path: ${join(dir, 'sync.db')} }\nlog: { level: fatal }\ninstances:\n  - { id: sn-sync, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, retries: 0 }\n`);
    const human = await changegate(['sync', '--config', lossy]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^ {2}1 rejected with CG_MAPPING_UNKNOWN_VALUE, e\.g\. /m);
    expect(unsafeLines(human.stdout + human.stderr)).toEqual([]);
    expect(human.stdout).toContain('ok\\u202e');
    const json = await changegate(['sync', '--config', lossy, '--json', '--full']);
    expect(unsafeLines(json.stdout)).toEqual([]);
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 1, rejected: 1 });
  });
});

describe('changegate check, on a change key written to print as something else', () => {
  it('names the change with its controls escaped when --at is before its first revision', async () => {
    const { code, stderr } = await changegate(['check', CRAFTED.id, '--config', readOnly, '--at', '2020-01-01T00:00:00Z']);
    expect(code).toBe(2);
    expect(unsafeLines(stderr)).toEqual([]);
    expect(stderr).toContain(`before the first revision changegate mirrored of ${shown(CRAFTED.key)} (revision 1, `);
  });

  it('prints a policy file\'s warning with its controls escaped', async () => {
    // A waiver on an instance the configuration lacks, its name written to print reversed.
    const policy = join(dir, 'policy.crafted.yaml');
    writeFileSync(policy, `kind: policy\nversion: "2026.1-crafted"\nwaivers:\n  - { change: ${KEY}, instance: "sn\u202Eprod", gate: implement.ci-green, by: cab@acme.example, reason: migration, until: "2030-01-01T00:00:00Z" }\n`);
    const file = join(dir, 'policy-crafted.yaml');
    writeFileSync(file, `${readFileSync(readOnly, 'utf8')}policy: ${JSON.stringify(policy)}\n`);
    const { stderr } = await changegate(['check', CRAFTED.id, '--config', file, '--json']);
    expect(unsafeLines(stderr)).toEqual([]);
    expect(stderr).toMatch(/^changegate check: warning: .*no instance "sn\\u202eprod" in the configuration/m);
  });
});

describe('changegate config validate and mappings validate, on files written to print as something else', () => {
  it('config validate prints a policy file\'s warning with its controls escaped, in text and in --json', async () => {
    const policy = join(dir, 'policy.crafted-config.yaml');
    writeFileSync(policy, `kind: policy\nversion: "2026.1-crafted"\nwaivers:\n  - { change: ${KEY}, instance: "sn\u202Eprod", gate: implement.ci-green, by: cab@acme.example, reason: migration, until: "2030-01-01T00:00:00Z" }\n`);
    const file = join(dir, 'config-crafted.yaml');
    writeFileSync(file, `${readFileSync(readOnly, 'utf8')}policy: ${JSON.stringify(policy)}\n`);
    const text = await changegate(['config', 'validate', '--config', file]);
    expect(text.code).toBe(0);
    expect(unsafeLines(text.stdout)).toEqual([]);
    expect(text.stdout).toMatch(/^ {2}warning: .*no instance "sn\\u202eprod" in the configuration/m);
    const json = await changegate(['config', 'validate', '--config', file, '--json']);
    expect(unsafeLines(json.stdout)).toEqual([]);
    // The same value: the escape reads back to the file's text.
    expect((JSON.parse(json.stdout) as { warnings: string[] }).warnings.join('\n')).toContain('no instance "sn\u202Eprod"');
  });

  it('mappings validate prints an error quoting a file\'s key with its controls escaped, in text and in --json', async () => {
    const mappings = join(dir, 'crafted-mappings');
    mkdirSync(mappings);
    writeFileSync(join(mappings, 'policy.yaml'), 'kind: policy\nversion: "x"\nwai\u202Ever: 1\n');
    const text = await changegate(['mappings', 'validate', mappings]);
    expect(text.code).toBe(2);
    expect(unsafeLines(text.stdout)).toEqual([]);
    expect(text.stdout).toContain('unknown key "wai\\u202ever"');
    const json = await changegate(['mappings', 'validate', mappings, '--json']);
    expect(unsafeLines(json.stdout)).toEqual([]);
    expect((JSON.parse(json.stdout) as { files: { errors: string[] }[] }).files[0]?.errors.join('\n')).toContain('unknown key "wai\u202Ever"');
  });
});

describe('changegate evidence export and publish, on a change key written to print as something else', () => {
  it('export prints the key it wrote with its controls escaped, and on stdout a bundle whose JSON escapes read back to the ticket\'s text', async () => {
    const out = join(dir, 'crafted.json');
    const written = await changegate(['evidence', 'export', CRAFTED.id, '--config', readOnly, '--out', out]);
    expect(written.code).toBe(0);
    expect(unsafeLines(written.stderr)).toEqual([]);
    expect(written.stderr).toMatch(new RegExp(`^${escapeRegExp(shown(CRAFTED.key))}: 1 entries, head [0-9a-f]{64}`));
    const printed = await changegate(['evidence', 'export', CRAFTED.id, '--config', readOnly]);
    expect(printed.code).toBe(0);
    expect(unsafeLines(printed.stdout)).toEqual([]);
    expect(JSON.parse(printed.stdout)).toMatchObject({ change: { key: CRAFTED.key, title: TITLE }, entries: [{ summary: TITLE }] });
  });

  it('publish names the change with its controls escaped, queued or refused', async () => {
    const refused = await changegate(['evidence', 'publish', CRAFTED.id, '--config', readOnly]);
    expect(refused.code).toBe(2);
    expect(unsafeLines(refused.stderr)).toEqual([]);
    expect(refused.stderr).toContain(`publish: ${shown(CRAFTED.key)}: instance sn-prod has writeBack off`);
    const queued = await changegate(['evidence', 'publish', CRAFTED.id, '--config', writingBack]);
    expect(queued.code).toBe(0);
    expect(unsafeLines(queued.stdout)).toEqual([]);
    expect(queued.stdout).toMatch(new RegExp(`^${escapeRegExp(shown(CRAFTED.key))}: evidence summary and bundle at entry 1, head [0-9a-f]{64} queued for the ticket`));
  });
});

describe('changegate\'s error line, on an error message from the ITSM tool written to print as something else', () => {
  it('prints the message Jira answered with its controls escaped', async () => {
    let jira: JiraSimulator | undefined;
    // Jira's error body quotes what its users and apps wrote (a project's name, a field's value).
    const said = 'Project \u202Eevitca\u202C is archived\u001b[2K';
    const refusing = http.get(/\/rest\/api\/3\/project\/[^/]+\/statuses$/, () => HttpResponse.json({ errorMessages: [said], errors: {} }, { status: 400 }));
    const site = await startSimulatorServer(() => [refusing, ...(jira?.handlers() ?? [])]);
    try {
      jira = new JiraSimulator({ baseUrl: site.url, auth: { basic: [{ email: 'ops@acme.example', apiToken: 'tok' }] } });
      const file = join(dir, 'jira-refusing.yaml');
      writeFileSync(file, `store: { kind: sqlite, path: ${join(dir, 'jira.db')} }\ninstances:\n  - { id: jsm, system: jira, baseUrl: "${site.url}", auth: { kind: basic, email: ops@acme.example, apiToken: tok }, projects: [ITSM], retries: 0 }\n`);
      const { code, stderr } = await changegate(['mappings', 'validate', '--instance', 'jsm', '--config', file]);
      expect(code).toBe(2);
      expect(stderr).toMatch(/^changegate: \[CG_JIRA_REQUEST_REJECTED\] jsm: Jira answered HTTP 400 for /);
      expect(stderr).toContain(`(${shown(said)})`);
      expect(unsafeLines(stderr)).toEqual([]);
    } finally {
      await site.close();
    }
  });
});
