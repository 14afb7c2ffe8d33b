// `changegate evidence verify FILE` as an auditor runs it on a bundle taken
// from a ticket: what it prints (and its --json form) must say what the
// signature proves, including what it does not cover.

import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEvidenceVerify } from '../../src/cli/evidence-command.ts';
import { canonicalJson } from '../../src/evidence/canonical-json.ts';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { DSSE_PAYLOAD_TYPE, dsseEnvelope, inTotoStatement, keyId, pae } from '../../src/evidence/in-toto-statement.ts';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { CHANGE, chainedEntries } from '../support/evidence-ledger.ts';

const entries = chainedEntries();
const keys = generateKeyPairSync('ed25519');
const dir = mkdtempSync(join(tmpdir(), 'cg-verify-'));
const publicKeyFile = join(dir, 'published.pub');
writeFileSync(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle as builds before format /2 wrote it: signed over the format, the change id and the head only. */
function legacyBundle(change: typeof CHANGE = CHANGE) {
  const head = { seq: entries.length, hash: (entries.at(-1) as EvidenceEntry).hash };
  const value = sign(null, Buffer.from(canonicalJson({ format: 'changegate-evidence/1', changeId: CHANGE.id, head })), keys.privateKey).toString('base64');
  const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { format: 'changegate-evidence/1', change, exportedAt: '2026-03-12T00:00:00Z', entries, head, signature: { algorithm: 'Ed25519', publicKey, value } };
}

function verifyFile(name: string, content: unknown, json = false, publicKey: string | null = publicKeyFile): { code: number; stdout: string; stderr: string } {
  const file = join(dir, name);
  // Text is written as it is: a hand edit JSON.stringify could not produce.
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  let stdout = '';
  let stderr = '';
  const code = runEvidenceVerify(file, { ...(publicKey === null ? {} : { publicKey }), json }, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

describe('changegate evidence verify, on what a signature covers', () => {
  it('warns that a format /1 bundle\'s change key and title are not signed, in the text and the --json report', () => {
    // Relabelled as another change: still intact under /1's coverage, so the auditor must be told to check the label.
    const relabelled = legacyBundle({ ...CHANGE, key: 'CHG0030099', title: 'Rotate a certificate' });
    const text = verifyFile('legacy.json', relabelled);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^intact .*CHG0030099, 2 entries, .*signature valid\n/);
    expect(text.stdout).toMatch(/^warning change: format changegate-evidence\/1 signs only the change id and the head: its key "CHG0030099", instance, title "Rotate a certificate" and export time are not signed; check them against the ticket/m);
    const json = verifyFile('legacy.json', relabelled, true);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, warnings: [{ entry: null, field: 'change', reason: expect.stringContaining('"CHG0030099"') }] });
  });

  it('has no such warning for a format /2 bundle, nor for a /1 bundle inside a DSSE envelope whose signature covers it all', () => {
    const current = verifyFile('current.json', buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey), true);
    expect(JSON.parse(current.stdout)).toMatchObject({ ok: true, warnings: [] });
    const text = verifyFile('current.json', buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey));
    expect(text.stdout).not.toContain('warning');
    const wrapped = dsseEnvelope(inTotoStatement(legacyBundle() as never, { commits: [], repos: [] }), keys.privateKey);
    const enveloped = verifyFile('legacy.intoto.json', wrapped, true);
    expect(JSON.parse(enveloped.stdout)).toMatchObject({ ok: true, signed: true, warnings: [] });
  });
});

/** The ledger with an approval decision after it, exported signed. */
function approvalBundle(approval: Record<string, unknown>) {
  const chained = chainedEntries();
  const draft: EvidenceDraft = { kind: 'approval', at: '2026-03-11T10:00:00Z', actor: 'Grace Okafor', source: 'servicenow:sn-prod', summary: 'approval by Grace Okafor (CAB Approval) approved', payload: { decision: 'approved', approval } };
  chained.push(chainEntry(CHANGE.id, chained.at(-1) ?? null, draft));
  return buildBundle(CHANGE, chained, '2026-03-12T00:00:00Z', keys.privateKey);
}

describe('changegate evidence verify, on approval entries of earlier builds', () => {
  // Payloads are only hashed, so the format stayed /2 when approvals gained requestedAt: both shapes must verify.
  const decided = { id: 'a1b2', approver: { id: 'u-grace', name: 'Grace Okafor' }, group: null, state: 'approved', nativeState: 'approved', decidedAt: '2026-03-11T10:00:00Z', comment: null, updatedAt: '2026-03-11T10:00:00Z' };

  it('verifies a bundle whose approval entries have no requestedAt (exported before), as one whose entries have it, with nothing to warn of', () => {
    const before = verifyFile('approval-before.json', approvalBundle(decided), true);
    const now = verifyFile('approval-now.json', approvalBundle({ ...decided, requestedAt: '2026-03-11T09:00:00Z' }), true);
    expect([before.code, now.code]).toEqual([0, 0]);
    expect(JSON.parse(before.stdout)).toMatchObject({ ok: true, entries: 3, signed: true, problems: [], warnings: [] });
    expect(JSON.parse(now.stdout)).toMatchObject({ ok: true, entries: 3, signed: true, problems: [], warnings: [] });
  });
});

describe('changegate evidence verify, on whose key signed', () => {
  it('says that a signature checked without --public-key shows only that the key the bundle names signed it, with that key\'s fingerprint', () => {
    const signed = buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey);
    const fingerprint = keyId(keys.publicKey);
    const text = verifyFile('signed.json', signed, false, null);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^intact .*signature valid\n/);
    expect(text.stdout).toContain(`warning signature: made with the key the bundle itself names (SHA-256 fingerprint ${fingerprint}); nothing shows that key is the deployment's, and anyone who edits a bundle can sign it again with a key of their own: compare the fingerprint with the published one, or give --public-key\n`);
    expect(JSON.parse(verifyFile('signed.json', signed, true, null).stdout)).toMatchObject({ ok: true, warnings: [{ entry: null, field: 'signature', reason: expect.stringContaining(fingerprint) }] });
    // Against the published key: nothing to warn about.
    expect(verifyFile('signed.json', signed).stdout).not.toContain('warning');
    // Unsigned: the report already says "not signed".
    expect(verifyFile('unsigned.json', buildBundle(CHANGE, entries, 'x'), false, null).stdout).not.toContain('warning');
  });
});

describe('changegate evidence verify, on a hand-edited file', () => {
  it('reports a number JSON reads as Infinity (1e999) as an alteration naming the entry, in text and --json, instead of failing with no report', () => {
    const text = JSON.stringify(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey), null, 2);
    const seq = text.replace('"seq": 2,', '"seq": 1e999,');
    const human = verifyFile('infinite-seq.json', seq);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^ALTERED .*: entry 2 seq /);
    expect(human.stdout).toMatch(/also entry 2 hash cannot be recomputed: .*\$\.seq: Infinity is not a JSON number/);
    const json = verifyFile('infinite-seq.json', seq, true);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.objectContaining({ entry: 2, field: 'hash' })]) });
    // In the head the signature covers: the signature cannot be checked, which is not the same as an unreadable key.
    const head = verifyFile('infinite-head.json', text.replace(/("head": \{\s*"seq": )2/, '$11e999'));
    expect(head.code).toBe(1);
    expect(head.stdout).toMatch(/also signature cannot be checked: .*\$\.head\.seq: Infinity is not a JSON number/);
    expect(head.stdout).not.toContain('not an Ed25519 public key');
    // In a bare in-toto statement, whose subject digest is taken over the bundle.
    const statement = JSON.stringify(inTotoStatement(buildBundle(CHANGE, entries, 'x'), { commits: [], repos: [] })).replace('"seq":2,', '"seq":1e999,');
    const wrapped = verifyFile('infinite.intoto.json', statement);
    expect(wrapped.code).toBe(1);
    expect(wrapped.stdout).toMatch(/^ALTERED .*subject\[0\]\.digest\.sha256 /);
  });
});

describe('changegate evidence verify, on a member name given twice', () => {
  const exported = JSON.stringify(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey), null, 2);
  // First the text a viewer that takes the first name shows, then the one the hash covers, which JSON.parse keeps.
  const forged = exported.replace('"summary": "verdict: not ready"', '"summary": "verdict: ready", "summary": "verdict: not ready"');

  it('says ALTERED naming the path, exit 1, where the hashes and the signature all verify over the last one', () => {
    expect(verifyFile('exported.json', exported)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^intact /) });
    const text = verifyFile('twice.json', forged);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^ALTERED \S+twice\.json: entries\[1\]\.summary appears more than once in its object: JSON readers disagree on which one counts \(verify reads the last, as JSON\.parse does; others show the first\)/);
    expect(text.stdout.split('\n').filter((line) => line.startsWith('        also'))).toEqual([]);
    const json = verifyFile('twice.json', forged, true);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, exitCode: 1, problems: [{ entry: null, field: 'entries[1].summary' }] });
    // Spelled with an escape, the name is the same one.
    expect(verifyFile('escaped.json', forged.replace('"summary": "verdict: ready"', '"summ\\u0061ry": "verdict: ready"')).stdout).toMatch(/^ALTERED \S+: entries\[1\]\.summary appears more than once/);
  });

  it('says ALTERED for a name given twice inside a signed DSSE envelope\'s payload', () => {
    const statement = JSON.stringify(inTotoStatement(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey), { commits: [], repos: [] }));
    const body = Buffer.from(statement.replace('"summary":"verdict: not ready"', '"summary":"verdict: ready","summary":"verdict: not ready"'));
    const envelope = { payload: body.toString('base64'), payloadType: DSSE_PAYLOAD_TYPE, signatures: [{ keyid: keyId(keys.privateKey), sig: sign(null, pae(DSSE_PAYLOAD_TYPE, body), keys.privateKey).toString('base64') }] };
    const text = verifyFile('twice.intoto.json', envelope);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^ALTERED \S+: predicate\.entries\[1\]\.summary appears more than once in its object, in the envelope's payload: /);
  });
});

/** What a terminal would not print as it reads: controls and bidirectional embeddings, overrides and isolates. */
const UNSAFE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;
const lines = (stdout: string) => stdout.split('\n').filter((line) => line !== '');
/** The exported bundle as text, the last entry's payload hand-edited to `payload`. */
const payloadAs = (payload: string) => JSON.stringify(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey), null, 2).replace('"payload": {\n        "verdict": "blocked"\n      }', `"payload": ${payload}`);

describe('changegate evidence verify, on names that would print as something else', () => {
  // U+202E reverses what follows on a terminal, U+2066 isolates, ESC starts a sequence that can erase the line.
  const name = 'approvedBy\u202E\u2066 cab \u2069\u001b[2K';
  const shown = 'approvedBy\\u202e\\u2066 cab \\u2069\\u001b[2K';

  it('prints a member name taken from the file with its controls escaped, in every line that names it', () => {
    const bundle = buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey);
    const added = { ...bundle, entries: [entries[0], { ...entries[1], [name]: 'beth.anglin' }], [name]: 1 };
    const text = verifyFile('bidi-member.json', added);
    expect(text.code).toBe(1);
    expect(lines(text.stdout).filter((line) => UNSAFE.test(line))).toEqual([]);
    expect(lines(text.stdout)[0]).toMatch(/^ALTERED \S+: /);
    expect(lines(text.stdout)[0]).toContain(`: ["${shown}"] is not part of the bundle format`);
    expect(text.stdout).toContain(`also entry 2 ["${shown}"] is not part of the bundle format`);
    // Given twice: the path names it too.
    const twice = JSON.stringify(bundle, null, 2).replace('"summary": "verdict: not ready"', `"summary": "verdict: not ready", ${JSON.stringify(name)}: 1, ${JSON.stringify(name)}: 2`);
    const repeated = verifyFile('bidi-twice.json', twice);
    expect(lines(repeated.stdout).filter((line) => UNSAFE.test(line))).toEqual([]);
    expect(repeated.stdout).toContain(`entries[1]["${shown}"] appears more than once`);
  });

  it('quotes an added member name that is no identifier, so one spelling a backslash escape prints unlike one holding the control', () => {
    const bundle = buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey);
    // The six characters \u202e, typed into the name, and the one character U+202E.
    const spelled = 'approvedBy\\u202e';
    const control = 'approvedBy\u202E';
    const addedAs = (member: string) => ({ ...bundle, change: { ...bundle.change, [member]: 'x' }, entries: [entries[0], { ...entries[1], [member]: 'beth.anglin' }], [member]: 1 });
    const typed = lines(verifyFile('spelled-member.json', addedAs(spelled)).stdout);
    const real = lines(verifyFile('control-member.json', addedAs(control)).stdout);
    expect(typed[0]).toMatch(/^ALTERED \S+: \["approvedBy\\\\u202e"\] is not part of the bundle format/);
    expect(real[0]).toMatch(/^ALTERED \S+: \["approvedBy\\u202e"\] is not part of the bundle format/);
    expect(typed).toContain('        also change["approvedBy\\\\u202e"] is not part of the bundle format: no hash or signature covers it, so it was added after export');
    expect(real).toContain('        also change["approvedBy\\u202e"] is not part of the bundle format: no hash or signature covers it, so it was added after export');
    expect(typed).toContain('        also entry 2 ["approvedBy\\\\u202e"] is not part of the bundle format: no hash or signature covers it, so it was added after export');
    expect(real).toContain('        also entry 2 ["approvedBy\\u202e"] is not part of the bundle format: no hash or signature covers it, so it was added after export');
    // A name that is an identifier reads as before.
    expect(lines(verifyFile('plain-member.json', addedAs('approvedBy')).stdout)[0]).toMatch(/^ALTERED \S+: approvedBy is not part of the bundle format/);
  });

  it('quotes a payload member name that is no identifier in the canonical-JSON path a problem names, so `a.b` prints unlike `b` inside `a`', () => {
    // Hand-edited payloads no hash can be recomputed over (1e999 reads as Infinity), the member named `a.b`, or `b` inside `a`.
    const dotted = lines(verifyFile('dotted-member.json', payloadAs('{ "a.b": 1e999 }')).stdout);
    const nested = lines(verifyFile('nested-member.json', payloadAs('{ "a": { "b": 1e999 } }')).stdout);
    expect(dotted[0]).toMatch(/^ALTERED \S+: entry 2 payload cannot be hashed: cannot write canonical JSON at \$\["a\.b"\]: Infinity is not a JSON number$/);
    expect(nested[0]).toMatch(/^ALTERED \S+: entry 2 payload cannot be hashed: cannot write canonical JSON at \$\.a\.b: Infinity is not a JSON number$/);
  });

  it('prints an unsigned bundle\'s change key escaped on the intact line', () => {
    const relabelled = buildBundle({ ...CHANGE, key: `CHG\u202E1000300` }, entries, '2026-03-12T00:00:00Z');
    const text = verifyFile('bidi-key.json', relabelled, false, null);
    expect(text.code).toBe(0);
    expect(lines(text.stdout)).toEqual([expect.stringMatching(/^intact +\S+: CHG\\u202e1000300, 2 entries, head [0-9a-f]{64}, not signed$/)]);
  });

  it('escapes the text JSON.parse quotes from a file that is not JSON', () => {
    const unreadable = verifyFile('bidi-text.json', `\u202e${name}`);
    expect(unreadable.code).toBe(2);
    expect(UNSAFE.test(unreadable.stderr.replace(/\n$/, ''))).toBe(false);
    expect(unreadable.stderr).toContain('\\u202e');
  });

  it('writes --json with the controls escaped as JSON escapes, the same names when read back', () => {
    const bundle = buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey);
    const json = verifyFile('bidi-member.json', { ...bundle, [name]: 1 }, true);
    expect(json.code).toBe(1);
    expect(UNSAFE.test(json.stdout.replaceAll('\n', ''))).toBe(false);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [{ entry: null, field: `[${JSON.stringify(name)}]` }] });
  });
});
