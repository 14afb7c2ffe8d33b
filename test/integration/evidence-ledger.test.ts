// The evidence ledger as changegate writes it and an auditor takes it away:
// the assessment runner appends a state move, each decision that changed and
// each enforcement action, once each even when a run is repeated; `changegate
// evidence export` bundles the chain (signed when given a key) and `changegate
// evidence verify` accepts it, and names the entry and field of any edit.

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import { AssessmentRunner } from '../../src/assess/assessment-runner.ts';
import { runEvidenceExport, runEvidenceVerify } from '../../src/cli/evidence-command.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import type { Change } from '../../src/domain/change.ts';
import type { TicketNote } from '../../src/kit/connector.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { openStores } from '../../src/store/open-stores.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-evidence-'));
const dbPath = join(dir, 'changegate.db');
const configPath = join(dir, 'changegate.yaml');
let stores: StoreBundle;
let key = '';

function capture(): { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean }; text: () => string } {
  let text = '';
  const sink = { write: (t: string) => ((text += t), true) };
  return { stdout: sink, stderr: sink, text: () => text };
}

let revision = 3;
async function mirror(overrides: Partial<Change>): Promise<Change> {
  revision += 1;
  const change = buildChange({ nativeRevision: revision, updatedAt: new Date(Date.parse('2026-03-02T09:00:00Z') + revision * 60_000).toISOString(), ...overrides });
  await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
  return change;
}

beforeAll(async () => {
  writeFileSync(configPath, `store: { kind: sqlite, path: "${dbPath}" }\ninstances: []\n`);
  stores = await openStores({ kind: 'sqlite', path: dbPath });
  const runner = new AssessmentRunner({
    store: stores.changes,
    assessments: stores.assessments,
    outbox: stores.outbox,
    evidence: stores.evidence,
    policy: loadPolicy(),
    modeOf: () => 'enforce',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => new Date('2026-03-02T12:00:00Z'),
  });
  const c = await mirror({ state: 'assess' });
  key = c.key;
  await runner.assessChange(c.id);
  await runner.assessChange(c.id, { force: true }); // the same decision again: nothing new in the ledger
  // Moved to Authorize with no backout plan: a denied move, enforced.
  await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
  await runner.assessChange(c.id);
  await stores.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A change moved Implement → Review under a policy whose evidence.note is `note`, assessed three times: the evidence notes queued and the ledger's head. */
async function toReview(note: 'review-and-closed' | 'on-demand' | 'never', evidenceSigningKey: KeyObject | null = null): Promise<{ notes: TicketNote[]; files: { name: string; bundle: unknown; evidence: unknown }[]; head: string; verdictStatus: string | undefined }> {
  const bundle = await openStores({ kind: 'sqlite', path: ':memory:' });
  const r = new AssessmentRunner({
    store: bundle.changes,
    assessments: bundle.assessments,
    outbox: bundle.outbox,
    evidence: bundle.evidence,
    policy: { ...loadPolicy(), evidence: { note } },
    evidenceSigningKey,
    modeOf: () => 'advisory',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => new Date('2026-03-02T12:00:00Z'),
  });
  const put = async (overrides: Partial<Change>) => {
    revision += 1;
    const change = buildChange({ nativeRevision: revision, updatedAt: new Date(Date.parse('2026-03-02T09:00:00Z') + revision * 60_000).toISOString(), ...overrides });
    await bundle.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
    return change;
  };
  const c = await put({ state: 'implement', nativeState: '-1', nativeStateLabel: 'Implement' });
  await r.assessChange(c.id);
  await put({ state: 'review', nativeState: '0', nativeStateLabel: 'Review' });
  await r.assessChange(c.id);
  await r.assessChange(c.id, { force: true });
  const items = await bundle.outbox.list({ limit: 100 });
  const notes = items.flatMap((i) => (i.payload.action === 'comment' && i.payload.series?.name === 'evidence' ? [i.payload.note] : []));
  const files = items.flatMap((i) => (i.payload.action === 'attach' ? [{ name: i.payload.file.name, bundle: JSON.parse(i.payload.file.content) as unknown, evidence: i.payload.evidence }] : []));
  const verdictStatus = items.findLast((i) => i.payload.action === 'comment' && i.payload.series?.name === 'verdict')?.status;
  const last = (await bundle.evidence.list(c.id)).at(-1);
  await bundle.close();
  return { notes, files, head: `${last?.hash} (entry ${last?.seq})`, verdictStatus };
}

describe('the evidence ledger', () => {
  it('holds the first decision, the state move with who made it, and the enforcement, each once', async () => {
    const out = capture();
    expect(await runEvidenceExport(registry, { key, out: join(dir, 'plain.json'), config: configPath }, out)).toBe(0);
    const bundle = JSON.parse(readFileSync(join(dir, 'plain.json'), 'utf8')) as { entries: { kind: string; summary: string }[] };
    expect(bundle.entries.map((e) => e.kind)).toEqual(['assessment', 'revision', 'enforcement']);
    expect(bundle.entries[1]?.summary).toMatch(/^state assess → authorize/);
    expect(bundle.entries[2]?.summary).toMatch(/authorize/);
    const verified = capture();
    expect(runEvidenceVerify(join(dir, 'plain.json'), {}, verified)).toBe(0);
    expect(verified.text()).toMatch(/^intact .*3 entries, head [0-9a-f]{64}, not signed/);
  });

  it('is signed with the deployment key when exported with it, and a bundle signed otherwise fails against the published key', async () => {
    const keys = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'signing.pem'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'other.pem'), other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'published.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(await runEvidenceExport(registry, { key, out: join(dir, 'signed.json'), signingKey: join(dir, 'signing.pem'), config: configPath }, capture())).toBe(0);
    expect(await runEvidenceExport(registry, { key, out: join(dir, 'forged.json'), signingKey: join(dir, 'other.pem'), config: configPath }, capture())).toBe(0);
    const good = capture();
    expect(runEvidenceVerify(join(dir, 'signed.json'), { publicKey: join(dir, 'published.pub') }, good)).toBe(0);
    expect(good.text()).toContain('signature valid');
    const forged = capture();
    expect(runEvidenceVerify(join(dir, 'forged.json'), { publicKey: join(dir, 'published.pub') }, forged)).toBe(1);
    expect(forged.text()).toMatch(/^ALTERED .*signature\.publicKey/);
  });

  it('names the entry and field an edit touched, and exits 1', () => {
    const text = readFileSync(join(dir, 'plain.json'), 'utf8');
    writeFileSync(join(dir, 'edited.json'), text.replace('"state assess → authorize', '"state assess → scheduled'));
    const out = capture();
    expect(runEvidenceVerify(join(dir, 'edited.json'), {}, out)).toBe(1);
    expect(out.text()).toMatch(/^ALTERED .*entry 2 hash/);
  });

  it('exports a period as one bundle per change with an index', async () => {
    const out = capture();
    expect(await runEvidenceExport(registry, { since: '2026-03-01', until: '2026-04-01', out: join(dir, 'q1'), config: configPath }, out)).toBe(0);
    const index = JSON.parse(readFileSync(join(dir, 'q1', 'index.json'), 'utf8')) as { changes: { key: string; entries: number; file: string; page: string }[] };
    expect(index.changes).toEqual([expect.objectContaining({ key, entries: 3 })]);
    expect(runEvidenceVerify(join(dir, 'q1', index.changes[0]?.file ?? ''), {}, capture())).toBe(0);
    const page = index.changes[0]?.page ?? '';
    expect(readFileSync(join(dir, 'q1', 'index.html'), 'utf8')).toContain(`<a href="${page}">${key}</a>`);
    expect(readFileSync(join(dir, 'q1', page), 'utf8')).toContain(`<h1 id="change-key">Evidence for ${key}</h1>`);
  });

  it('refuses a period bound with a time of day but no zone, which each machine would read in its own zone', async () => {
    await expect(runEvidenceExport(registry, { since: '2026-03-01T00:00', until: '2026-04-01T00:00:00Z', out: join(dir, 'local'), config: configPath }, capture())).rejects.toThrow('--since "2026-03-01T00:00" has no time zone');
    await expect(runEvidenceExport(registry, { since: '2026-03-01', until: '2026-04-01T00:00:00', out: join(dir, 'local'), config: configPath }, capture())).rejects.toThrow('--until "2026-04-01T00:00:00" has no time zone');
    expect(await runEvidenceExport(registry, { since: '2026-03-01T00:00:00+01:00', until: '2026-04-01T00:00Z', out: join(dir, 'zoned'), config: configPath }, capture())).toBe(0);
  });

  it('exports the bundle as a page to read and print, and refuses a format it does not know', async () => {
    const out = capture();
    expect(await runEvidenceExport(registry, { key, format: 'html', out: join(dir, 'page.html'), config: configPath }, out)).toBe(0);
    expect(out.text()).toMatch(/ as a page → /);
    const page = readFileSync(join(dir, 'page.html'), 'utf8');
    const exported = JSON.parse(readFileSync(join(dir, 'plain.json'), 'utf8')) as { head: { hash: string } };
    expect(page).toContain(`id="head-hash">${exported.head.hash}</code>`);
    expect(page).toContain('<dd id="entry-count">3</dd>');
    await expect(runEvidenceExport(registry, { key, format: 'pdf', config: configPath }, capture())).rejects.toThrow('--format "pdf": expected one of json, html, in-toto');
  });

  it('exports an in-toto statement of the change\'s commits in a DSSE envelope that verify accepts, and catches it tampered', async () => {
    const out = capture();
    expect(await runEvidenceExport(registry, { key, format: 'in-toto', signingKey: join(dir, 'signing.pem'), out: join(dir, 'statement.intoto.json'), config: configPath }, out)).toBe(0);
    expect(out.text()).toContain('as an in-toto statement in a signed DSSE envelope');
    const envelope = JSON.parse(readFileSync(join(dir, 'statement.intoto.json'), 'utf8')) as { payload: string; payloadType: string };
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { subject: unknown; predicate: { entries: unknown[] } };
    expect(statement.subject).toEqual([{ name: 'github.com/acme/payments-gateway@9fceb02d0ae598e95dc970b74767f19372d61af8', digest: { gitCommit: '9fceb02d0ae598e95dc970b74767f19372d61af8' } }]);
    expect(statement.predicate.entries).toHaveLength(3);
    const good = capture();
    expect(runEvidenceVerify(join(dir, 'statement.intoto.json'), { publicKey: join(dir, 'published.pub') }, good)).toBe(0);
    expect(good.text()).toMatch(/^intact .*3 entries, head [0-9a-f]{64}, signature valid/);
    const tampered = { ...envelope, payload: Buffer.from(JSON.stringify({ ...statement, subject: [{ name: 'x', digest: { gitCommit: 'deadbeef' } }] })).toString('base64') };
    writeFileSync(join(dir, 'tampered.intoto.json'), JSON.stringify(tampered));
    const bad = capture();
    expect(runEvidenceVerify(join(dir, 'tampered.intoto.json'), { publicKey: join(dir, 'published.pub') }, bad)).toBe(1);
    expect(bad.text()).toMatch(/^ALTERED .*envelope\.signatures none verifies/);
  });

  it('is served as the same bundle at GET /v1/changes/:key/evidence, and 404 for a change the mirror lacks', async () => {
    const opened = await openStores({ kind: 'sqlite', path: dbPath });
    const logger = pino({ level: 'silent' });
    const metrics = createMetrics({ defaultMetrics: false });
    const app = buildServer({ systems: registry.systems, store: opened.changes, evidence: opened.evidence, engine: new SyncEngine({ store: opened.changes, logger, metrics }), metrics, logger });
    try {
      const served = await app.inject(`/v1/changes/${key}/evidence`);
      expect(served.statusCode).toBe(200);
      writeFileSync(join(dir, 'served.json'), served.body);
      const exported = JSON.parse(readFileSync(join(dir, 'plain.json'), 'utf8')) as { entries: unknown[]; head: unknown };
      expect(served.json()).toMatchObject({ entries: exported.entries, head: exported.head, signature: null });
      expect(runEvidenceVerify(join(dir, 'served.json'), {}, capture())).toBe(0);
      expect((await app.inject('/v1/changes/CHG9999999/evidence')).json()).toMatchObject({ error: { code: 'CG_NOT_FOUND' } });
    } finally {
      await app.close();
      await opened.close();
    }
  });

  it('posts its summary with the head hash once the change enters Review, and once only', async () => {
    const { notes, head, verdictStatus } = await toReview('review-and-closed');
    expect(notes).toHaveLength(1);
    // Beside the verdict note of the same run, not instead of it.
    expect(verdictStatus).toBe('pending');
    expect(notes[0]?.lines[0]).toBe(`Head of the evidence chain: ${head}.`);
    expect(notes[0]?.table?.rows.map((row) => row[2])).toContain('revision');
  });

  it('queues the bundle as an attachment beside the summary, named for the head, and the summary names the file', async () => {
    const { notes, files } = await toReview('review-and-closed');
    expect(files).toHaveLength(1);
    const [file] = files;
    const report = verifyBundle(file?.bundle);
    expect(report.ok).toBe(true);
    const head = report.head as string;
    expect(file?.name).toBe(`changegate-evidence-${report.changeKey}-${report.entries}-${head.slice(0, 8)}.json`);
    expect(file?.evidence).toEqual({ seq: report.entries, hash: head });
    expect(notes[0]?.footer).toContainEqual(expect.stringContaining(`attached to this ticket as ${file?.name}`));
  });

  it('signs the attached bundle with the deployment\'s key, which verify checks against the published public key', async () => {
    const deployment = generateKeyPairSync('ed25519');
    const someoneElse = generateKeyPairSync('ed25519');
    const [file] = (await toReview('review-and-closed', deployment.privateKey)).files;
    expect(verifyBundle(file?.bundle, { publicKey: deployment.publicKey })).toMatchObject({ ok: true });
    const forged = verifyBundle(file?.bundle, { publicKey: someoneElse.publicKey });
    expect(forged.ok).toBe(false);
    // Unsigned without a key: verify against a public key says so.
    const [plain] = (await toReview('review-and-closed')).files;
    expect(verifyBundle(plain?.bundle, { publicKey: deployment.publicKey }).ok).toBe(false);
  });

  it('posts no summary and attaches no bundle when the policy says never', async () => {
    const { notes, files } = await toReview('never');
    expect(notes).toEqual([]);
    expect(files).toEqual([]);
  });

  it('queues nothing by itself when the policy says on-demand (`changegate evidence publish` does)', async () => {
    const { notes, files, verdictStatus } = await toReview('on-demand');
    expect(notes).toEqual([]);
    expect(files).toEqual([]);
    // The verdict is written back as ever: only the evidence waits to be asked for.
    expect(verdictStatus).toBe('pending');
  });
});
