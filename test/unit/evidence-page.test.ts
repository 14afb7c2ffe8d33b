// The evidence page an auditor opens or prints: self-contained (no script, no
// link to anything outside it), every piece of text escaped, and the same
// content as the JSON bundle: the head, the signature, every entry with its
// hashes and payload, and the last decision's approvals, gates and scorecard.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bundleHtml, periodIndexHtml } from '../../src/evidence/bundle-html.ts';
import { buildBundle, type EvidenceBundle } from '../../src/evidence/evidence-bundle.ts';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import type { Assessment } from '../../src/domain/assessment.ts';

const input = JSON.parse(readFileSync(new URL('../golden/notes/approval-not-counted.input.json', import.meta.url), 'utf8')) as { assessment: Assessment };
const assessment = input.assessment;
const CHANGE = { id: assessment.changeId, key: assessment.key, instance: 'sn-demo', title: 'Rotate <b>TLS</b> certificates & keys' };
const HOSTILE = '<script>document.title="owned"</script><img src=x onerror=alert(1)>';

function ledger(drafts: EvidenceDraft[]): EvidenceEntry[] {
  const out: EvidenceEntry[] = [];
  for (const draft of drafts) out.push(chainEntry(CHANGE.id, out.at(-1) ?? null, draft));
  return out;
}

const entries = ledger([
  { kind: 'revision', at: '2026-12-03T12:00:00Z', actor: 'farid.haddad', source: 'servicenow:sn-demo', summary: `state assess → authorize ${HOSTILE}`, payload: { note: HOSTILE } },
  { kind: 'assessment', at: assessment.evaluatedAt, actor: null, source: 'changegate', summary: 'decision changed', payload: assessment },
]);
const page = (b: EvidenceBundle) => bundleHtml(b);
const plain = buildBundle(CHANGE, entries, '2026-12-04T00:00:00Z');

describe('the evidence page', () => {
  it('escapes every piece of text: a summary, a title or a payload cannot add markup', () => {
    const html = page(plain);
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain('state assess → authorize &lt;script&gt;document.title=&quot;owned&quot;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('Rotate &lt;b&gt;TLS&lt;/b&gt; certificates &amp; keys');
  });

  it('needs nothing outside itself: no script, stylesheet, image, font or frame, and a policy that forbids loading any', () => {
    const html = page(plain);
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).toContain('content="default-src \'none\'; style-src \'unsafe-inline\'"');
    expect(html).toMatch(/<style>[\s\S]*@media print[\s\S]*<\/style>/);
  });

  it('shows the change, the head, every entry with its hashes, and each payload', () => {
    const html = page(plain);
    expect(html).toContain('<h1 id="change-key">Evidence for CHG0030028</h1>');
    expect(html).toContain(`<code class="hash" id="head-hash">${entries[1]?.hash}</code>`);
    expect(html).toContain('<dd id="entry-count">2</dd>');
    for (const e of entries) {
      expect(html).toContain(`<code class="hash" title="${e.hash}">${e.hash.slice(0, 12)}</code>`);
      expect(html).toContain(`<details id="entry-${e.seq}">`);
    }
    expect(html).toContain('&quot;policyVersion&quot;: &quot;');
    expect(html).toMatch(/<dd id="check"><span class="status ok">intact<\/span>/);
  });

  it('shows the last decision: approvals cited by the gates, each gate\'s result and reason, the scorecard', () => {
    const html = page(plain);
    expect(html).toContain('<td>e4c8504b1e2641f8c46ae999c01ee4a5</td><td>Farid Haddad: approved</td><td>2026-12-03T12:22:26Z</td>');
    expect(html.match(/e4c8504b1e2641f8c46ae999c01ee4a5<\/td>/g)).toHaveLength(1);
    const failing = assessment.gates.find((g) => g.result === 'fail');
    expect(failing).toBeDefined();
    expect(html).toContain(`<td>${failing?.id}</td><td><span class="status fail">fail</span></td>`);
    expect(html).toContain(`Recommendation: <span class="status ${assessment.scorecard.recommendation.replaceAll(' ', '-')}">${assessment.scorecard.recommendation}</span>`);
  });

  it('says whether the bundle is signed, with the key\'s fingerprint to compare, and when it was altered', () => {
    const keys = generateKeyPairSync('ed25519');
    const signed = page(buildBundle(CHANGE, entries, '2026-12-04T00:00:00Z', keys.privateKey));
    expect(signed).toMatch(/<dd id="signature"><span class="status ok">signed \(Ed25519\)<\/span> public key SHA-256 <code class="hash">[0-9a-f]{64}<\/code>/);
    expect(signed).toContain('the signature valid over the head');
    expect(page(plain)).toContain('<span class="status neutral">not signed</span>');
    const altered = structuredClone(plain);
    (altered.entries[0] as EvidenceEntry).summary = 'state assess → scheduled';
    expect(page(altered)).toMatch(/<span class="status bad">ALTERED<\/span> entry 1 hash does not match/);
  });

  it('says so for a change with no entries yet', () => {
    const html = page(buildBundle(CHANGE, [], '2026-12-04T00:00:00Z'));
    expect(html).toContain('none (no entries yet)');
    expect(html).toContain('No assessment in the chain yet.');
  });

  it('indexes a period: each change linking its page and its bundle, names escaped', () => {
    const html = periodIndexHtml({
      since: '2026-01-01T00:00:00.000Z',
      until: '2026-04-01T00:00:00.000Z',
      instance: null,
      changes: [{ key: 'CHG0030028', instance: 'sn-demo', title: HOSTILE, entries: 2, head: 'a'.repeat(64), signed: true, file: 'sn-demo-CHG0030028.json', page: 'sn-demo-CHG0030028.html' }],
    });
    expect(html).toContain('<td><a href="sn-demo-CHG0030028.html">CHG0030028</a></td>');
    expect(html).toContain('<a href="sn-demo-CHG0030028.json">sn-demo-CHG0030028.json</a>');
    expect(html).toContain('<span id="change-count">1</span> change with evidence');
    expect(html).not.toMatch(/<script|<img/i);
  });
});
