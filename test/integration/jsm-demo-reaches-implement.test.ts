// The default mapping and policy over the demo sites: a well-formed JSM change
// (default workflow and fields, no assignment group, close notes or commit
// field) passes what its site can show and reaches Implement once its CI
// evidence arrives, as a ServiceNow change does. The whole service runs as
// `serve` runs it; the simulators and changegate talk over real HTTP, and the
// CI's events (a workflow run, results uploads, deployments to SIT, UAT and
// Pre-Prod) are posted to it signed, as GitHub and a CI job would.

import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { DEMO_JIRA_USER, DEMO_SERVICENOW_USER, startDemoInstances, type DemoInstances } from '../../src/app/demo-instances.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';
import { buildPolicyContext, judgedChange } from '../../src/assess/policy-context.ts';
import type { GateResult } from '../../src/domain/assessment.ts';
import type { CanonicalState, Change } from '../../src/domain/change.ts';
import { evaluateState } from '../../src/policy/assess.ts';

const SECRET = 'demo-ci-secret';
const MINUTE = 60_000;
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

let dir: string;
let demo: DemoInstances;
let app: ChangegateApp;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-jsm-implement-'));
  const logger = pino({ level: 'silent' });
  demo = await startDemoInstances({ logger, count: 60 });
  const config = ChangegateConfig.parse({
    store: { kind: 'sqlite', path: join(dir, 'changegate.db') },
    server: { listen: '127.0.0.1:0' },
    instances: [],
    events: { sources: [{ id: 'github', kind: 'github', secrets: [SECRET] }] },
    // Nothing re-assesses on the clock during the test: events and syncs do.
    reassess: '0 0 1 1 *',
  });
  app = await createApp({ config: { ...config, instances: demo.instances.map((i) => ({ ...i, schedule: '0 0 1 1 *' })) }, file: join(dir, 'changegate.yaml'), registry }, { logger });
  url = await app.serve({ runNow: false });
  demo.setChangegateUrl(url);
  await app.engine.sync('jsm-demo', { full: true });
  await app.engine.sync('sn-demo', { full: true });
}, 60_000);

afterAll(async () => {
  await app.close();
  await demo.close();
  rmSync(dir, { recursive: true, force: true });
});

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

async function call(path: string, init: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, { method: init.method ?? 'GET', ...(init.body === undefined ? {} : { body: init.body }), headers: init.headers ?? {} });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text) };
}

async function mirrored(instance: string, state: string): Promise<Change[]> {
  const page = await call(`/v1/changes?instance=${instance}&state=${state}&limit=200`);
  return (page.json as { items: Change[] }).items;
}

/** Well-formed: plans written, an approval given if its class needs one: what a change manager would schedule. */
function wellFormed(change: Change): boolean {
  return change.plans.implementation !== null && change.plans.backout !== null && change.plans.test !== null && change.type === 'normal';
}

async function validate(change: Change, from: string, to: string): Promise<{ allow: boolean; reasons: string[] }> {
  const answer = await call('/v1/validate', { method: 'POST', body: JSON.stringify({ system: change.system, instance: change.instance, key: change.key, from, to }), headers: { 'content-type': 'application/json' } });
  expect(answer.status).toBe(200);
  return answer.json as { allow: boolean; reasons: string[] };
}

let deliveries = 0;
async function github(event: string, body: unknown): Promise<void> {
  const raw = Buffer.from(JSON.stringify(body));
  const signature = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
  deliveries += 1;
  const answer = await call('/v1/events/github', { method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': `delivery-${deliveries}`, 'x-hub-signature-256': signature } });
  expect(answer.status).toBe(202);
}

async function results(file: string, type: string, query: string): Promise<void> {
  const raw = Buffer.from(file);
  const signature = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
  const answer = await call(`/v1/events/github/results?${query}`, { method: 'POST', body: raw, headers: { 'content-type': type, 'x-hub-signature-256': signature } });
  expect(answer.status).toBe(202);
}

/** What the CI of one change's commit reports: a green build, unit tests, a clean scan, and SIT → UAT → Pre-Prod deploys each verified by a test run there. */
async function pipeline(key: string, commit: string, runId: number): Promise<void> {
  const now = Date.now();
  const run = fixture('github_workflow_run_completed.json');
  await github('workflow_run', {
    ...run,
    workflow_run: { ...run['workflow_run'], id: runId, name: 'build', head_branch: `${key}-rollout`, head_sha: commit, run_started_at: iso(now - 60 * MINUTE), updated_at: iso(now - 55 * MINUTE) },
  });
  const junit = '<testsuite name="unit"><testcase classname="Rollout" name="applies"/><testcase classname="Rollout" name="rolls back"/></testsuite>';
  await results(junit, 'application/xml', `commit=${commit}&change=${key}&run=${runId}&name=unit%20tests`);
  const sarif = { version: '2.1.0', runs: [{ tool: { driver: { name: 'CodeQL', rules: [{ id: 'js/unused', properties: { 'security-severity': '2.0' } }] } }, results: [{ ruleId: 'js/unused', ruleIndex: 0, level: 'note', message: { text: 'unused variable' } }] }] };
  await results(JSON.stringify(sarif), 'application/sarif+json', `commit=${commit}&change=${key}&run=${runId}`);
  const deployment = fixture('github_deployment_status.json');
  for (const [i, environment] of ['SIT', 'UAT', 'Pre-Prod'].entries()) {
    const at = now - (50 - 10 * i) * MINUTE;
    await github('deployment_status', {
      ...deployment,
      deployment: { ...deployment['deployment'], id: runId * 10 + i, sha: commit, ref: `${key}-rollout`, environment, created_at: iso(at - MINUTE) },
      deployment_status: { ...deployment['deployment_status'], id: runId * 10 + i, state: 'success', environment, created_at: iso(at) },
    });
    await results(junit.replace('unit', `smoke ${environment}`), 'text/xml', `commit=${commit}&change=${key}&environment=${encodeURIComponent(environment)}&name=smoke`);
  }
}

/** One gate into `state` for a mirrored change, judged now as the service judges it. */
async function gateOf(change: Change, state: CanonicalState, id: string): Promise<GateResult | undefined> {
  const mc = await app.store.getChange(change.key, { instance: change.instance });
  if (mc === null) throw new Error(`${change.key} is not mirrored`);
  const judged = judgedChange(mc);
  return evaluateState(judged, state, await buildPolicyContext({ store: app.store, policy: app.policy }, judged, new Date())).find((g) => g.id === id);
}

async function eventually(what: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await what()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A time as Jira's REST API writes it (`2026-12-05T10:00:00.000+0000`). */
const jiraTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '+0000');
/** A time as ServiceNow's Table API takes it (`2026-12-05 10:00:00`, UTC). */
const glide = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

describe('the default policy over the demo sites', () => {
  it('lets a well-formed JSM change pass the gates its site can show, each stand-in named', async () => {
    const scheduled = (await mirrored('jsm-demo', 'scheduled')).filter(wellFormed);
    expect(scheduled.length).toBeGreaterThan(0);
    for (const change of scheduled) {
      expect(change.standIns).toEqual({ assignmentGroup: 'affected-service', closeNotes: 'last-comment' });
      expect(change.assignmentGroup).toEqual(change.services[0]);
    }
    for (const change of scheduled) {
      const [record, owner] = [await gateOf(change, 'assess', 'assess.record-complete'), await gateOf(change, 'scheduled', 'scheduled.accountable-owner')];
      expect([record?.result, owner?.result]).toEqual(['pass', 'pass']);
      expect(record?.reason).toMatch(/are set \(the affected service .+ stands in for the assignment group\)$/);
      expect(owner?.reason).toMatch(/^accountable owner .+, the affected service standing in for the assignment group\)$/);
    }
  });

  it('closes out a JSM change with its resolution and the comment made after implementation, standing in for close notes', async () => {
    const implementing = (await mirrored('jsm-demo', 'implement'))[0];
    if (implementing === undefined) throw new Error('the demo data has no change in Implementing');
    const site = demo.instances.find((i) => i.id === 'jsm-demo')!.baseUrl;
    const jira = (path: string, body: unknown) =>
      fetch(`${site}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(DEMO_JIRA_USER.email, DEMO_JIRA_USER.apiToken) }, body: JSON.stringify(body) });
    // Implemented → Peer review → Completed (Jira sets the resolution), through the site's workflow.
    for (const id of ['51', '61']) expect((await jira(`/rest/api/3/issue/${implementing.key}/transitions`, { transition: { id } })).status).toBe(204);
    await app.engine.sync('jsm-demo');
    const silent = await gateOf(implementing, 'closed', 'closed.close-fields');
    expect(silent).toMatchObject({ result: 'fail', reason: expect.stringMatching(/^no comment since implementation ended at .+ stands in for close notes \(this site has no close notes field\): comment on the change how it went$/) });

    expect((await jira(`/rest/api/2/issue/${implementing.key}/comment`, { body: 'Rolled out in the window; smoke tests green in production.' })).status).toBe(201);
    await app.engine.sync('jsm-demo');
    const closedOut = await gateOf(implementing, 'closed', 'closed.close-fields');
    expect(closedOut).toMatchObject({ result: 'pass', reason: expect.stringMatching(/^closed as "Done"; the comment by .+ at .+ UTC stands in for close notes$/) });
  });

  it('moves a well-formed JSM change and a ServiceNow change to Implement once their CI evidence arrives', async () => {
    const jsm = (await mirrored('jsm-demo', 'scheduled')).find(wellFormed);
    const sn = (await mirrored('sn-demo', 'scheduled')).find(wellFormed);
    if (jsm === undefined || sn === undefined) throw new Error('the demo data has no well-formed scheduled change');
    const now = Date.now();

    // The change managers schedule both for now, through each site's API.
    const jiraSite = demo.instances.find((i) => i.id === 'jsm-demo')!.baseUrl;
    const catalog = demo.simulators.jira.catalog;
    const edited = await fetch(`${jiraSite}/rest/api/3/issue/${jsm.key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: basic(DEMO_JIRA_USER.email, DEMO_JIRA_USER.apiToken) },
      body: JSON.stringify({ fields: { [catalog.idOf('Change start date')]: jiraTime(now - 30 * MINUTE), [catalog.idOf('Change completion date')]: jiraTime(now + 3 * 60 * MINUTE) } }),
    });
    expect(edited.status).toBe(204);
    const snSite = demo.instances.find((i) => i.id === 'sn-demo')!.baseUrl;
    const patched = await fetch(`${snSite}/api/now/table/change_request/${sn.nativeId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: basic(DEMO_SERVICENOW_USER.username, DEMO_SERVICENOW_USER.password) },
      body: JSON.stringify({ start_date: glide(now - 30 * MINUTE), end_date: glide(now + 3 * 60 * MINUTE) }),
    });
    expect(patched.status).toBe(200);
    await app.engine.sync('jsm-demo');
    await app.engine.sync('sn-demo');

    const before = [await validate(jsm, 'Awaiting implementation', 'Implementing'), await validate(sn, '-2', '-1')];
    for (const verdict of before) {
      expect(verdict.allow).toBe(false);
      expect(verdict.reasons).toContainEqual(expect.stringMatching(/^waiting for a CI run of a commit for this change .*\(implement\.ci-green, pending\)$/));
      expect(verdict.reasons.filter((r) => !/\((implement\.\S+), pending\)$/.test(r))).toEqual([]);
    }

    await pipeline(jsm.key, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', 9101);
    await pipeline(sn.key, 'b2c3d4e5f60718293a4b5c6d7e8f901234567890', 9202);
    await eventually(async () => (await validate(jsm, 'Awaiting implementation', 'Implementing')).allow && (await validate(sn, '-2', '-1')).allow);

    expect(await validate(jsm, 'Awaiting implementation', 'Implementing')).toMatchObject({ allow: true, reasons: [] });
    expect(await validate(sn, '-2', '-1')).toMatchObject({ allow: true, reasons: [] });
    // The stored assessments (what the tickets show) agree, and the change lists the events that decided it.
    for (const change of [jsm, sn]) {
      await eventually(async () => (await app.assessments.latestAssessment(change.id))?.assessment.allowedTransitions.includes('implement') === true);
      expect((await app.assessments.latestAssessment(change.id))?.assessment.allowedTransitions).toContain('implement');
      const detail = (await call(`/v1/changes/${change.key}?instance=${change.instance}`)).json as { events: { rule: string; event: { kind: string; environment: string | null } }[] };
      expect(detail.events.filter((e) => e.event.kind === 'deploy').map((e) => [e.event.environment, e.rule])).toEqual([
        ['SIT', 'linked:change-key'],
        ['UAT', 'linked:change-key'],
        ['Pre-Prod', 'linked:change-key'],
      ]);
    }
  });
});
