// `changegate evidence publish KEY` as an operator under `evidence.note:
// on-demand` meets it: the change's evidence summary and bundle are queued for
// its ticket through the outbox, keyed by the ledger's head as the runner keys
// them, so asking twice queues one note and one attachment; a change with no
// ledger, an unknown key and an instance that does not write back are refused
// with exit 2 and a message naming the change.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';
import { runEvidencePublish } from '../../src/cli/evidence-command.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import { openStores } from '../../src/store/open-stores.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-evidence-publish-'));
const dbPath = join(dir, 'changegate.db');
const recorded = buildChange({ key: 'CHG0030001', nativeId: 'a'.repeat(32) });
const bare = buildChange({ key: 'CHG0030002', nativeId: 'b'.repeat(32) });
const instance = (writeBack: boolean) =>
  `  - { id: ${recorded.instance}, system: servicenow, baseUrl: "https://example.service-now.com", auth: { kind: basic, username: admin, password: admin }, writeBack: ${writeBack}, schedule: "0 0 1 1 *" }\n`;

function configFile(name: string, writeBack: boolean): string {
  const file = join(dir, name);
  writeFileSync(file, `store: { kind: sqlite, path: "${dbPath}" }\ninstances:\n${instance(writeBack)}`);
  return file;
}

function capture() {
  let out = '';
  let err = '';
  return { stdout: { write: (t: string) => ((out += t), true) }, stderr: { write: (t: string) => ((err += t), true) }, out: () => out, err: () => err };
}

beforeAll(async () => {
  const stores = await openStores({ kind: 'sqlite', path: dbPath });
  await stores.changes.applyPage(recorded.instance, 'changes', [{ kind: 'change', change: recorded }, { kind: 'change', change: bare }], null);
  await stores.evidence.append(recorded.id, { kind: 'revision', at: '2026-03-02T09:00:00Z', actor: 'beth.anglin', source: `servicenow:${recorded.instance}`, summary: 'state new → assess', payload: {} }, 'revision:1');
  await stores.evidence.append(recorded.id, { kind: 'deployment', at: '2026-03-02T10:00:00Z', actor: 'deploy', source: 'github', summary: 'deployed f95f852 to production: success', payload: {} }, 'event:github:deployment:1');
  await stores.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('changegate evidence publish', () => {
  it('queues the summary and the bundle for the ledger\'s head once, however often it is asked', async () => {
    const config = configFile('on.yaml', true);
    const first = capture();
    expect(await runEvidencePublish(registry, { key: recorded.key, config }, first)).toBe(0);
    expect(first.out()).toMatch(/^CHG0030001: evidence summary and bundle at entry 2, head [0-9a-f]{64} queued for the ticket; serve's outbox worker posts them\n$/);
    const second = capture();
    expect(await runEvidencePublish(registry, { key: recorded.key, config }, second)).toBe(0);
    expect(second.out()).toMatch(/already queued \(or posted\) for the ticket: nothing new/);

    const stores = await openStores({ kind: 'sqlite', path: dbPath });
    try {
      const head = (await stores.evidence.list(recorded.id)).at(-1);
      const items = await stores.outbox.list({ changeId: recorded.id });
      expect(items.map((i) => [i.payload.action, i.idempotencyKey, i.status])).toEqual([
        ['attach', `evidence-bundle:${recorded.id}:${head?.hash}`, 'pending'],
        ['comment', `evidence:${recorded.id}:${head?.hash}`, 'pending'],
      ]);
      // The attachment is the bundle an auditor verifies as downloaded; the note names it.
      const attach = items[0]?.payload;
      if (attach?.action !== 'attach') throw new Error('expected the bundle first');
      expect(verifyBundle(JSON.parse(attach.file.content))).toMatchObject({ ok: true, entries: 2, changeKey: 'CHG0030001' });
      const comment = items[1]?.payload;
      expect(JSON.stringify(comment)).toContain(attach.file.name);
    } finally {
      await stores.close();
    }
  });

  it('refuses a change with no ledger, an unknown key and an instance that does not write back, with exit 2 naming the change', async () => {
    const none = capture();
    expect(await runEvidencePublish(registry, { key: bare.key, config: configFile('on2.yaml', true) }, none)).toBe(2);
    expect(none.err()).toBe('changegate evidence publish: CHG0030002 has no evidence ledger yet (no entry recorded): nothing to publish\n');
    const unknown = capture();
    expect(await runEvidencePublish(registry, { key: 'CHG0099999', config: configFile('on3.yaml', true) }, unknown)).toBe(2);
    expect(unknown.err()).toMatch(/no mirrored change "CHG0099999"/);
    const off = capture();
    expect(await runEvidencePublish(registry, { key: recorded.key, config: configFile('off.yaml', false) }, off)).toBe(2);
    expect(off.err()).toMatch(/CHG0030001: instance \S+ has writeBack off/);
    const stores = await openStores({ kind: 'sqlite', path: dbPath });
    try {
      expect(await stores.outbox.list({ changeId: bare.id })).toEqual([]);
    } finally {
      await stores.close();
    }
  });
});
