// An auditor's check of an evidence bundle: any altered byte, a removed,
// reordered or inserted entry, a truncated chain, a replaced signature or key
// is caught, and the report names the entry and field where it happened.

import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/evidence/canonical-json.ts';
import { buildBundle, signedHead as coveredText, type EvidenceBundle } from '../../src/evidence/evidence-bundle.ts';
import { chainEntry, EVIDENCE_KINDS, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { inTotoStatement, verifyStatement } from '../../src/evidence/in-toto-statement.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';

const CHANGE = { id: 'servicenow:sn-prod:c0ffee', key: 'CHG0030001', instance: 'sn-prod', title: 'Upgrade the payments gateway' };

function ledger(drafts: EvidenceDraft[]): EvidenceEntry[] {
  const out: EvidenceEntry[] = [];
  for (const draft of drafts) out.push(chainEntry(CHANGE.id, out.at(-1) ?? null, draft));
  return out;
}

const DRAFTS: EvidenceDraft[] = [
  { kind: 'revision', at: '2026-03-10T09:00:00Z', actor: 'beth.anglin', source: 'servicenow:sn-prod', summary: 'state New → Assess', payload: { state: { from: 'new', to: 'assess' } } },
  { kind: 'assessment', at: '2026-03-10T09:00:05Z', actor: null, source: 'changegate', summary: 'verdict: not ready (2 gates fail)', payload: { verdict: 'blocked', gates: [{ id: 'assess.record-complete', result: 'fail' }] } },
  { kind: 'revision', at: '2026-03-11T10:00:00Z', actor: 'david.loo', source: 'servicenow:sn-prod', summary: 'approval approved by David Loo', payload: { approval: { id: 'a1', state: 'approved' } } },
  { kind: 'enforcement', at: '2026-03-11T10:00:04Z', actor: null, source: 'changegate', summary: 'moved back from Scheduled to Authorize', payload: { action: 'revert', from: 'scheduled', to: 'authorize' } },
];

const copy = <T>(value: T): T => structuredClone(value);
/** A part of a bundle, to add a member to as a hand edit would. */
const members = (v: unknown) => v as Record<string, unknown>;
/** What builds before the ledger's writer replaced lone surrogates hashed (for flat values in sorted order): JSON.stringify's form, a surrogate escaped. */
const escapedHash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');
const keys = generateKeyPairSync('ed25519');

describe('changegate evidence verify', () => {
  it('accepts an intact bundle, signed or not, and names its head', () => {
    const entries = ledger(DRAFTS);
    const plain = verifyBundle(copy(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z')));
    expect(plain).toMatchObject({ ok: true, entries: 4, head: entries[3]?.hash, signed: false, problems: [] });
    const signed = verifyBundle(copy(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey)), { publicKey: keys.publicKey });
    expect(signed).toMatchObject({ ok: true, signed: true, problems: [] });
  });

  const FIELDS = ['changeId', 'seq', 'kind', 'at', 'actor', 'source', 'summary', 'payloadHash', 'prevHash', 'hash', 'payload'] as const;
  it.each(FIELDS)('catches a change to the %s of an entry, naming that entry', (field) => {
    const bundle = copy(buildBundle(CHANGE, ledger(DRAFTS), '2026-03-12T00:00:00Z')) as unknown as { entries: Record<string, unknown>[] };
    const entry = bundle.entries[1] as Record<string, unknown>;
    const value = entry[field];
    entry[field] = typeof value === 'number' ? value + 1 : typeof value === 'string' ? `${value.slice(0, -1)}${value.endsWith('x') ? 'y' : 'x'}` : value === null ? 'someone' : { ...(value as object), altered: true };
    const report = verifyBundle(bundle);
    expect(report.ok).toBe(false);
    expect(report.problems[0]?.entry).toBe(2);
  });

  it('catches a removed, a swapped and an inserted entry, and a chain cut short', () => {
    const entries = ledger(DRAFTS);
    const removed = buildBundle(CHANGE, [entries[0], entries[2], entries[3]] as EvidenceEntry[], 'x');
    expect(verifyBundle(removed).problems[0]).toMatchObject({ entry: 2 });
    const swapped = buildBundle(CHANGE, [entries[0], entries[2], entries[1], entries[3]] as EvidenceEntry[], 'x');
    expect(verifyBundle(swapped).problems[0]).toMatchObject({ entry: 2 });
    const forged = chainEntry(CHANGE.id, entries[1] as EvidenceEntry, { kind: 'waiver', at: '2026-03-11T00:00:00Z', actor: 'mallory', source: 'changegate', summary: 'waived', payload: {} });
    const inserted = buildBundle(CHANGE, [entries[0], entries[1], forged, entries[2], entries[3]] as EvidenceEntry[], 'x');
    expect(verifyBundle(inserted).problems[0]).toMatchObject({ entry: 4 });
    // Truncated: the last entry dropped but the head (which the ticket names) kept.
    const whole = copy(buildBundle(CHANGE, entries, 'x'));
    const truncated = { ...whole, entries: whole.entries.slice(0, 3) };
    expect(verifyBundle(truncated).problems).toEqual([expect.objectContaining({ entry: null, field: 'head' })]);
  });

  it('verifies a ledger whose payload holds a date as the text the bundle carries (its ISO string), not as {}', () => {
    const entries = ledger([{ ...(DRAFTS[0] as EvidenceDraft), payload: { plannedStart: new Date('2026-03-12T08:00:00Z') } }]);
    // What the stores keep and export writes: the entry as JSON text.
    const bundle = JSON.parse(JSON.stringify(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z'))) as EvidenceBundle;
    expect(bundle.entries[0]?.payload).toEqual({ plannedStart: '2026-03-12T08:00:00.000Z' });
    expect(verifyBundle(bundle)).toMatchObject({ ok: true, problems: [] });
  });

  it('records ticket text holding a lone UTF-16 surrogate (an emoji cut in half) with U+FFFD in its place, so any RFC 8785 tool recomputes the hashes', () => {
    const cut = 'Upgrade the payments gateway \u{1F680}'.slice(0, -1); // a field cut at its length in UTF-16 units
    const entries = ledger([{ ...(DRAFTS[0] as EvidenceDraft), summary: `title set to ${cut}`, payload: { title: { from: null, to: cut }, [`x${cut.at(-1)}`]: [cut] } }]);
    const text = JSON.stringify(buildBundle({ ...CHANGE, title: cut }, entries, '2026-03-12T00:00:00Z', keys.privateKey));
    const bundle = JSON.parse(text) as EvidenceBundle;
    const entry = bundle.entries[0] as EvidenceEntry;
    expect(entry.summary).toBe('title set to Upgrade the payments gateway \uFFFD');
    expect(entry.payload).toEqual({ title: { from: null, to: 'Upgrade the payments gateway \uFFFD' }, 'x\uFFFD': ['Upgrade the payments gateway \uFFFD'] });
    expect(bundle.change.title).toBe('Upgrade the payments gateway \uFFFD');
    expect(text).not.toMatch(/\\ud[89a-f]/i); // no escaped half left for a strict JCS tool to refuse
    expect(entry.payloadHash).toBe(createHash('sha256').update(canonicalJson(entry.payload)).digest('hex'));
    expect(verifyBundle(bundle, { publicKey: keys.publicKey })).toMatchObject({ ok: true, problems: [], warnings: [] });
  });

  it('still verifies a bundle an earlier build wrote with a lone surrogate escaped (\\udXXX) in its hashes, and warns that only changegate can recompute them', () => {
    const cut = 'Upgrade \u{1F680}'.slice(0, -1);
    const fields = { changeId: CHANGE.id, seq: 1, kind: 'revision' as const, at: '2026-03-10T09:00:00Z', actor: null, source: 'servicenow:sn-prod', summary: `title set to ${cut}`, payloadHash: escapedHash({ to: cut }), prevHash: '0'.repeat(64) };
    const entry = { ...fields, hash: escapedHash(Object.fromEntries(Object.entries(fields).toSorted(([a], [b]) => (a < b ? -1 : 1)))), payload: { to: cut } };
    const bundle = JSON.parse(JSON.stringify({ format: 'changegate-evidence/2', change: CHANGE, exportedAt: 'x', entries: [entry], head: { seq: 1, hash: entry.hash }, signature: null })) as EvidenceBundle;
    const report = verifyBundle(bundle);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.warnings).toEqual([
      { entry: 1, field: 'payload', reason: expect.stringMatching(/^holds a lone UTF-16 surrogate at \$\.to: the hash was recomputed over its escaped form \(\\ud83d\), as earlier builds wrote it; RFC 8785 tools refuse it/) },
      { entry: 1, field: 'summary', reason: expect.stringMatching(/at \$\.summary/) },
    ]);
    // Signed over a title holding one, and carried in an in-toto statement: the same.
    const titled = { ...bundle, change: { ...CHANGE, title: cut } };
    const covered = canonicalJson({ format: titled.format, change: titled.change, exportedAt: titled.exportedAt, head: titled.head }, { loneSurrogates: 'escape' });
    const signed = { ...titled, signature: { algorithm: 'Ed25519' as const, publicKey: keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), value: sign(null, Buffer.from(covered), keys.privateKey).toString('base64') } };
    expect(verifyBundle(copy(signed), { publicKey: keys.publicKey }).warnings).toContainEqual({ entry: null, field: 'signature', reason: expect.stringMatching(/at \$\.change\.title:/) });
    expect(verifyStatement(JSON.parse(JSON.stringify(inTotoStatement(signed, { commits: [], repos: [] }))), { publicKey: keys.publicKey })).toMatchObject({ ok: true, problems: [] });
    // Not a way around the check: altered text is still caught.
    const altered = structuredClone(bundle);
    (altered.entries[0] as EvidenceEntry).payload = { to: `${cut}!` };
    expect(verifyBundle(altered).problems[0]).toMatchObject({ entry: 1, field: 'payload' });
  });

  it('catches content added where no hash or signature covers it: a member of an entry, of the bundle, its change, head or signature', () => {
    const signed = buildBundle(CHANGE, ledger(DRAFTS), '2026-03-12T00:00:00Z', keys.privateKey);
    const edits: [(b: EvidenceBundle) => void, { entry: number | null; field: string }][] = [
      [(b) => (members(b.entries[1])['approvedBy'] = 'Change Advisory Board'), { entry: 2, field: 'approvedBy' }],
      [(b) => (members(b)['auditNote'] = 'sampled and found complete'), { entry: null, field: 'auditNote' }],
      [(b) => (members(b.signature)['signedBy'] = 'the change manager'), { entry: null, field: 'signature.signedBy' }],
      [(b) => (members(b.head)['note'] = 'final'), { entry: null, field: 'head.note' }],
    ];
    for (const [edit, where] of edits) {
      const bundle = copy(signed);
      edit(bundle);
      const report = verifyBundle(bundle, { publicKey: keys.publicKey });
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual({ ...where, reason: expect.stringMatching(/^is not part of the bundle format: no hash or signature covers it, so it was added after export$/) });
    }
    // The change of an unsigned bundle, too: nothing else would say it was added.
    const unsigned = copy(buildBundle(CHANGE, ledger(DRAFTS), 'x'));
    members(unsigned.change)['approved'] = true;
    expect(verifyBundle(unsigned).problems).toEqual([expect.objectContaining({ entry: null, field: 'change.approved' })]);
  });

  it('reports an entry that is not an object (a hand-edited file) as altered instead of failing to check', () => {
    const bundle = copy(buildBundle(CHANGE, ledger(DRAFTS), 'x')) as unknown as { entries: unknown[] };
    bundle.entries[1] = null;
    const report = verifyBundle(bundle);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ entry: 2, field: 'entry' });
    expect(report.problems).toContainEqual(expect.objectContaining({ entry: 3, field: 'prevHash' }));
    bundle.entries[3] = null;
    expect(verifyBundle(bundle).problems).toContainEqual(expect.objectContaining({ entry: null, field: 'head' }));
  });

  it('catches a replaced signature, a head re-signed by another key, and a bundle stripped of its signature', () => {
    const signed = buildBundle(CHANGE, ledger(DRAFTS), 'x', keys.privateKey);
    const other = generateKeyPairSync('ed25519');
    const badValue = { ...copy(signed), signature: { ...signed.signature, value: buildBundle(CHANGE, ledger(DRAFTS.slice(0, 2)), 'x', keys.privateKey).signature?.value } } as EvidenceBundle;
    expect(verifyBundle(badValue, { publicKey: keys.publicKey }).problems).toEqual([expect.objectContaining({ field: 'signature' })]);
    const resigned = buildBundle(CHANGE, ledger(DRAFTS), 'x', other.privateKey);
    expect(verifyBundle(resigned).ok).toBe(true); // self-consistent: only the published key can tell
    expect(verifyBundle(resigned, { publicKey: keys.publicKey }).problems[0]).toMatchObject({ field: 'signature.publicKey' });
    const stripped = { ...copy(signed), signature: null };
    expect(verifyBundle(stripped, { publicKey: keys.publicKey }).problems).toEqual([expect.objectContaining({ field: 'signature' })]);
  });

  it('takes a signature as Ed25519 only: another algorithm named, or a key of another type, is reported', () => {
    const bundle = buildBundle(CHANGE, ledger(DRAFTS), 'x');
    const renamed = copy(buildBundle(CHANGE, ledger(DRAFTS), 'x', keys.privateKey));
    members(renamed.signature)['algorithm'] = 'RSA-SHA256';
    expect(verifyBundle(renamed).problems).toEqual([{ entry: null, field: 'signature.algorithm', reason: 'expected "Ed25519", found "RSA-SHA256"' }]);
    // Signed with ECDSA and RSA keys under the name Ed25519: Node checks either when no digest is named.
    for (const other of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('rsa', { modulusLength: 2048 })]) {
      const value = sign(null, Buffer.from(coveredText(bundle)), other.privateKey).toString('base64');
      const forged = { ...copy(bundle), signature: { algorithm: 'Ed25519' as const, publicKey: other.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), value } };
      expect(verifyBundle(forged).problems).toEqual([{ entry: null, field: 'signature.publicKey', reason: `is an ${other.publicKey.asymmetricKeyType?.toUpperCase()} key, not an Ed25519 key: the bundle was not signed as the format says` }]);
    }
  });

  it('catches a signed bundle relabelled as another change, or with another export time', () => {
    const signed = buildBundle(CHANGE, ledger(DRAFTS), '2026-03-12T00:00:00Z', keys.privateKey);
    const edits: ((b: EvidenceBundle) => void)[] = [
      (b) => (b.change.key = 'CHG0030099'),
      (b) => (b.change.instance = 'sn-test'),
      (b) => (b.change.title = 'Rotate a certificate'),
      (b) => (b.exportedAt = '2026-03-01T00:00:00Z'),
    ];
    for (const edit of edits) {
      const bundle = copy(signed);
      edit(bundle);
      expect(verifyBundle(bundle, { publicKey: keys.publicKey }).problems).toEqual([expect.objectContaining({ entry: null, field: 'signature' })]);
    }
  });

  it('still verifies a bundle of format /1 (signed over its change id and head) as it was attached', () => {
    const entries = ledger(DRAFTS);
    const head = { seq: 4, hash: (entries[3] as EvidenceEntry).hash };
    const signedHead = canonicalJson({ format: 'changegate-evidence/1', changeId: CHANGE.id, head });
    const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const legacy = { format: 'changegate-evidence/1', change: CHANGE, exportedAt: 'x', entries, head, signature: { algorithm: 'Ed25519', publicKey, value: sign(null, Buffer.from(signedHead), keys.privateKey).toString('base64') } };
    expect(verifyBundle(copy(legacy), { publicKey: keys.publicKey })).toMatchObject({ ok: true, signed: true });
    expect(verifyBundle({ ...copy(legacy), head: { seq: 3, hash: entries[2]?.hash } }, { publicKey: keys.publicKey }).ok).toBe(false);
    // A bundle of today's format relabelled as /1 does not verify under /1's coverage.
    const current = { ...copy(buildBundle(CHANGE, entries, 'x', keys.privateKey)), format: 'changegate-evidence/1' };
    expect(verifyBundle(current, { publicKey: keys.publicKey }).problems).toEqual([expect.objectContaining({ field: 'signature' })]);
  });

  it('detects every single edit of a random ledger (property)', () => {
    const draft = fc.record({
      kind: fc.constantFrom(...EVIDENCE_KINDS),
      at: fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }).map((ms) => new Date(ms).toISOString()),
      actor: fc.option(fc.string({ minLength: 1 }), { nil: null }),
      source: fc.constantFrom('servicenow:sn-prod', 'jira:jsm-cloud', 'changegate', 'github'),
      summary: fc.string(),
      payload: fc.jsonValue(),
    });
    fc.assert(
      fc.property(fc.array(draft, { minLength: 1, maxLength: 8 }), fc.nat(), fc.nat(), fc.string({ minLength: 1 }), (drafts, pickEntry, pickField, junk) => {
        const bundle = copy(buildBundle(CHANGE, ledger(drafts as EvidenceDraft[]), 'x')) as unknown as { entries: Record<string, unknown>[] };
        const entry = bundle.entries[pickEntry % bundle.entries.length] as Record<string, unknown>;
        const field = FIELDS[pickField % FIELDS.length] as string;
        const before = canonicalJson(entry[field] ?? null);
        entry[field] = field === 'seq' ? (entry[field] as number) + 1 + (pickField % 3) : field === 'payload' ? { was: entry[field] ?? null, junk } : `${String(entry[field])}${junk}`;
        if (canonicalJson(entry[field] ?? null) === before) return;
        expect(verifyBundle(bundle).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
