// Approvals and waivers in the evidence ledger, as an auditor finds them in the
// exported bundle: each approval decision mirrored from the ticket (given,
// rejected, withdrawn) and each waiver step of the policy (granted, ended,
// withdrawn) is an entry of its own, appended once however often the change is
// assessed, and the bundle still verifies. A read-only instance (no write-back,
// no enforcement) records its state moves too, and queues no summary. Run on
// SQLite and, with MONGODB_URI (FerretDB), on MongoDB.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import { AssessmentRunner, type AssessmentRunnerDeps } from '../../src/assess/assessment-runner.ts';
import { runEvidenceExport, runEvidenceVerify } from '../../src/cli/evidence-command.ts';
import type { Approval, Change } from '../../src/domain/change.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy, type Policy } from '../../src/policy/policy-config.ts';
import type { StoreConfig } from '../../src/config/schema.ts';
import { openStores } from '../../src/store/open-stores.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildApproval, buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-evidence-approvals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mongoUri = process.env['MONGODB_URI'] ?? '';
const run = `${process.pid}_${Date.now().toString(36)}`;
let opened = 0;
const STORES: { name: string; config: () => StoreConfig }[] = [{ name: 'SQLite', config: () => ({ kind: 'sqlite', path: join(dir, `s${++opened}.db`) }) }];
if (mongoUri !== '') STORES.push({ name: 'MongoDB', config: () => ({ kind: 'mongodb', uri: mongoUri, database: `cg_evidence_${run}_${++opened}` }) });

function capture(): { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean }; text: () => string } {
  let text = '';
  const sink = { write: (t: string) => ((text += t), true) };
  return { stdout: sink, stderr: sink, text: () => text };
}

interface Entry {
  kind: string;
  actor: string | null;
  summary: string;
  payload: { decision?: string; step?: string; approval?: { id: string; requestedAt?: string | null } };
}

describe.each(STORES)('approvals, waivers and revisions in the ledger ($name)', ({ config }) => {
  let stores: StoreBundle;
  let storeConfig: StoreConfig;
  let now = new Date('2026-03-02T12:00:00Z');
  let nativeRevision = 3;

  afterEach(async () => {
    await stores.close();
  });

  async function open(): Promise<void> {
    storeConfig = config();
    stores = await openStores(storeConfig);
  }

  function runner(overrides: Partial<AssessmentRunnerDeps> = {}): AssessmentRunner {
    return new AssessmentRunner({
      store: stores.changes,
      assessments: stores.assessments,
      outbox: stores.outbox,
      evidence: stores.evidence,
      policy: loadPolicy(),
      modeOf: () => 'advisory',
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      clock: () => now,
      ...overrides,
    });
  }

  async function mirror(overrides: Partial<Change>): Promise<Change> {
    nativeRevision += 1;
    const change = buildChange({ nativeRevision, updatedAt: new Date(Date.parse('2026-03-02T09:00:00Z') + nativeRevision * 60_000).toISOString(), ...overrides });
    await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
    return change;
  }

  async function approval(change: Change, overrides: Partial<Approval>): Promise<void> {
    await stores.changes.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval: buildApproval(overrides) }], null);
  }

  /** `changegate evidence export KEY [--format html]` against the store: the file written. */
  async function exportFile(change: Change, format: 'json' | 'html' = 'json'): Promise<string> {
    // The export opens the store through the config file, as an auditor's run does.
    await stores.close();
    const configPath = join(dir, `config-${opened}.yaml`);
    writeFileSync(configPath, `store: ${JSON.stringify(storeConfig)}\ninstances: []\n`);
    const file = join(dir, `bundle-${opened}.${format}`);
    expect(await runEvidenceExport(registry, { key: change.key, out: file, config: configPath, format }, capture())).toBe(0);
    stores = await openStores(storeConfig);
    return file;
  }

  /** `changegate evidence export KEY`, then `changegate evidence verify` on the file: the entries, and what verify said. */
  async function exported(change: Change): Promise<{ entries: Entry[]; verify: string; code: number }> {
    const file = await exportFile(change);
    const verified = capture();
    const code = runEvidenceVerify(file, {}, verified);
    return { entries: (JSON.parse(readFileSync(file, 'utf8')) as { entries: Entry[] }).entries, verify: verified.text(), code };
  }

  it('records an approval given once, however often the change is assessed, then its withdrawal and a rejection, and the bundle verifies', async () => {
    await open();
    let r = runner();
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });
    await approval(c, { state: 'requested' });
    await r.assessChange(c.id);
    await approval(c, { state: 'approved', nativeState: 'approved', decidedAt: '2026-03-02T10:15:00Z', comment: 'fine for Tuesday', updatedAt: '2026-03-02T10:15:00Z' });
    await r.assessChange(c.id);
    await r.assessChange(c.id, { force: true });
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', title: 'Renamed, nothing else' });
    await r.assessChange(c.id);
    let { entries, verify, code } = await exported(c);
    const approvals = entries.filter((e) => e.kind === 'approval');
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({ actor: 'Beth Anglin', summary: 'approval by Beth Anglin (CAB Approval) approved: fine for Tuesday', payload: { decision: 'approved' } });
    expect(code).toBe(0);
    expect(verify).toMatch(/^intact /);

    // Taken back on the ticket (the approval reset to requested), then rejected. A runner on the reopened store.
    r = runner();
    await approval(c, { state: 'requested', nativeState: 'requested', decidedAt: null, updatedAt: '2026-03-02T11:00:00Z' });
    await r.assessChange(c.id);
    await r.assessChange(c.id, { force: true });
    await approval(c, { state: 'rejected', nativeState: 'rejected', decidedAt: '2026-03-02T11:30:00Z', updatedAt: '2026-03-02T11:30:00Z' });
    await r.assessChange(c.id);
    ({ entries, verify, code } = await exported(c));
    expect(entries.filter((e) => e.kind === 'approval').map((e) => e.payload.decision)).toEqual(['approved', 'withdrawn', 'rejected']);
    expect(code).toBe(0);
    expect(verify).toMatch(/^intact /);
  });

  it('records when each decided approval was requested, which places it in its round, in the bundle and on its page; the bundle verifies', async () => {
    await open();
    now = new Date('2026-03-02T12:00:00Z');
    const r = runner();
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });
    // The CAB rejected the first round, then was asked again (a new row) and approved.
    const first = { id: 'a1'.repeat(16), requestedAt: '2026-03-02T09:30:00Z' };
    await approval(c, { ...first, state: 'rejected', nativeState: 'rejected', decidedAt: '2026-03-02T10:00:00Z', updatedAt: '2026-03-02T10:00:00Z' });
    await r.assessChange(c.id);
    await approval(c, { id: 'b2'.repeat(16), requestedAt: '2026-03-02T10:30:00Z', state: 'approved', nativeState: 'approved', decidedAt: '2026-03-02T11:00:00Z', updatedAt: '2026-03-02T11:00:00Z' });
    // A row whose source gave no request time (an ACL hid sys_created_on).
    await approval(c, { id: 'c3'.repeat(16), requestedAt: null, approver: { id: 'u-dana', name: 'Dana Whitfield' }, state: 'approved', nativeState: 'approved', decidedAt: '2026-03-02T11:05:00Z', updatedAt: '2026-03-02T11:05:00Z' });
    await r.assessChange(c.id);
    const { entries, verify, code } = await exported(c);
    const requested = entries.filter((e) => e.kind === 'approval').map((e) => [e.payload.decision, e.payload.approval?.requestedAt]);
    expect(requested).toEqual([
      ['rejected', '2026-03-02T09:30:00Z'],
      ['approved', '2026-03-02T10:30:00Z'],
      ['approved', null],
    ]);
    expect(code).toBe(0);
    expect(verify).toMatch(/^intact /);
    const page = readFileSync(await exportFile(c, 'html'), 'utf8');
    const decisions = page.slice(page.indexOf('<table id="decisions">'), page.indexOf('</table>', page.indexOf('<table id="decisions">')));
    expect(decisions).toContain('<th scope="col">requested (UTC)</th>');
    expect(decisions).toContain('<td>approval</td><td>rejected</td><td>2026-03-02T09:30:00Z</td>');
    expect(decisions).toContain('<td>approval</td><td>approved</td><td>2026-03-02T10:30:00Z</td>');
    expect(decisions).toContain('<td>approval</td><td>approved</td><td>not given by the source</td>');
  });

  it('records a waiver when granted and when it ends, once each, and one withdrawn from the policy before its end', async () => {
    await open();
    now = new Date('2026-03-02T12:00:00Z');
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });
    const base = loadPolicy();
    const waivers = [
      { change: c.key, gate: 'authorize.lead-time', by: 'grace.cab', reason: 'rehearsed twice', until: '2026-03-03T00:00:00.000Z' },
      { change: c.key, gate: 'authorize.plans', by: 'grace.cab', reason: 'plan in the runbook', until: '2026-03-10T00:00:00.000Z' },
    ];
    const granting: Policy = { ...base, version: `${base.version}+w1`, waivers };
    await runner({ policy: granting }).assessChange(c.id);
    await runner({ policy: granting }).assessChange(c.id, { force: true });
    // The clock passes the first waiver's end: a clock tick records it.
    now = new Date('2026-03-03T06:00:00Z');
    await runner({ policy: granting }).assessChange(c.id, { clockTick: true });
    await runner({ policy: granting }).assessChange(c.id, { clockTick: true });
    // The second is taken out of the policy file before its end.
    await runner({ policy: { ...base, version: `${base.version}+w2`, waivers: [] } }).assessChange(c.id);
    const { entries, code } = await exported(c);
    const steps = entries.filter((e) => e.kind === 'waiver').map((e) => `${e.summary.split(' ')[2]} ${e.payload.step}`);
    expect(steps).toEqual(['authorize.lead-time granted', 'authorize.plans granted', 'authorize.lead-time expired', 'authorize.plans withdrawn']);
    expect(entries.find((e) => e.kind === 'waiver')?.actor).toBe('grace.cab');
    expect(code).toBe(0);
  });

  it('records a waiver put back into the policy after it was withdrawn, each time, so the ledger ends on what holds', async () => {
    await open();
    now = new Date('2026-03-02T12:00:00Z');
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });
    const base = loadPolicy();
    const waiver = { change: c.key, gate: 'authorize.plans', by: 'grace.cab', reason: 'plan in the runbook', until: '2026-03-10T00:00:00.000Z' };
    const withWaiver = (n: number): Policy => ({ ...base, version: `${base.version}+with${n}`, waivers: [waiver] });
    const without = (n: number): Policy => ({ ...base, version: `${base.version}+without${n}`, waivers: [] });
    // Granted, taken out by mistake, put back the same; taken out and put back once more.
    for (const policy of [withWaiver(1), without(1), withWaiver(2), without(2), withWaiver(3)]) {
      await runner({ policy }).assessChange(c.id);
      await runner({ policy }).assessChange(c.id, { force: true });
    }
    const { entries, code } = await exported(c);
    const waiverEntries = entries.filter((e) => e.kind === 'waiver');
    expect(waiverEntries.map((e) => e.payload.step)).toEqual(['granted', 'withdrawn', 'granted', 'withdrawn', 'granted']);
    expect(waiverEntries[2]?.summary).toBe(`waiver of authorize.plans for ${c.key} granted again by grace.cab until 2026-03-10T00:00:00.000Z: plan in the runbook`);
    expect(code).toBe(0);
  });

  it('records the state moves of a read-only instance, and queues no summary for it', async () => {
    await open();
    const readOnly = runner({ writesBack: () => false, modeOf: () => null, policy: { ...loadPolicy(), evidence: { note: 'each-state-change' } } });
    // Two versions mirrored before the first assessment: the move between them is recorded too.
    const c = await mirror({ state: 'assess', nativeState: '-4', nativeStateLabel: 'Assess' });
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });
    await readOnly.assessChange(c.id);
    await mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled' });
    await readOnly.assessChange(c.id);
    await readOnly.assessChange(c.id, { force: true });
    const { entries, code } = await exported(c);
    expect(entries.filter((e) => e.kind === 'revision').map((e) => e.summary.replace(/ by .*/, ''))).toEqual(['state assess → authorize', 'state authorize → scheduled']);
    expect(code).toBe(0);
    expect(await stores.outbox.list({ limit: 100 })).toEqual([]);
  });
});
