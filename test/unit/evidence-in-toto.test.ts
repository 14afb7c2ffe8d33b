// The in-toto export as supply-chain tooling reads it: a Statement v1 naming the
// change's commits (or the bundle itself) as subjects, the bundle as predicate,
// and a DSSE envelope whose signature covers the pre-authentication encoding.
// `verifyStatement` checks the envelope, then the bundle inside it: a tampered
// payload, a forged signature, another key and an edited entry are each caught.

import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/evidence/canonical-json.ts';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { DSSE_PAYLOAD_TYPE, dsseEnvelope, inTotoStatement, keyId, pae, PREDICATE_TYPE, STATEMENT_TYPE, verifyStatement, type DsseEnvelope } from '../../src/evidence/in-toto-statement.ts';
import { CHANGE, chainedEntries } from '../support/evidence-ledger.ts';

const entries = chainedEntries();
const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';

const bundle = buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey);
const envelope = (): DsseEnvelope => dsseEnvelope(inTotoStatement(bundle, { commits: [SHA], repos: ['github.com/acme/payments'] }), keys.privateKey);
const decode = (e: DsseEnvelope) => JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as Record<string, unknown>;
const reencode = (e: DsseEnvelope, statement: unknown): DsseEnvelope => ({ ...e, payload: Buffer.from(JSON.stringify(statement)).toString('base64') });

describe('in-toto export', () => {
  it('names the change\'s commits as subjects (hex ids only, each once) and carries the bundle as predicate', () => {
    const statement = inTotoStatement(bundle, { commits: [SHA, ` ${SHA.toUpperCase()} `, 'not a commit', '1a2b3c4'], repos: ['github.com/acme/payments'] });
    expect(statement).toEqual({
      _type: STATEMENT_TYPE,
      subject: [
        { name: `github.com/acme/payments@${SHA}`, digest: { gitCommit: SHA } },
        { name: 'github.com/acme/payments@1a2b3c4', digest: { gitCommit: '1a2b3c4' } },
      ],
      predicateType: PREDICATE_TYPE,
      predicate: bundle,
    });
  });

  it('names the bundle itself by SHA-256 of its canonical JSON when the change links no commit', () => {
    const statement = inTotoStatement(bundle, { commits: [], repos: [] });
    expect(statement.subject).toEqual([{ name: 'CHG0030001.evidence.json', digest: { sha256: createHash('sha256').update(canonicalJson(bundle)).digest('hex') } }]);
    expect(verifyStatement(JSON.parse(JSON.stringify(statement)))).toMatchObject({ ok: true, changeKey: 'CHG0030001', entries: 2 });
    const edited = structuredClone(statement);
    edited.predicate.exportedAt = '2026-03-13T00:00:00Z'; // outside the chain: the subject digest and the bundle's signature bind it
    expect(verifyStatement(edited).problems).toEqual([expect.objectContaining({ field: 'subject[0].digest.sha256' }), expect.objectContaining({ field: 'signature' })]);
  });

  it('signs the DSSE pre-authentication encoding, not the bare payload', () => {
    const e = envelope();
    const body = Buffer.from(e.payload, 'base64');
    expect(e.payloadType).toBe(DSSE_PAYLOAD_TYPE);
    expect(e.signatures).toHaveLength(1);
    expect(e.signatures[0]?.keyid).toBe(createHash('sha256').update(keys.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'));
    expect(keyId(keys.privateKey)).toBe(e.signatures[0]?.keyid);
    const sig = Buffer.from(e.signatures[0]?.sig ?? '', 'base64');
    expect(pae(DSSE_PAYLOAD_TYPE, body).toString('utf8')).toBe(`DSSEv1 28 application/vnd.in-toto+json ${body.length} ${body.toString('utf8')}`);
    expect(verify(null, pae(DSSE_PAYLOAD_TYPE, body), keys.publicKey, sig)).toBe(true);
    expect(verify(null, body, keys.publicKey, sig)).toBe(false);
  });

  it('encodes the PAE as the DSSE spec\'s own example does, counting lengths in bytes', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString('utf8')).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    expect(pae('t', Buffer.from('→', 'utf8')).toString('utf8')).toBe('DSSEv1 1 t 3 →');
  });

  it('accepts the envelope with the published key, or with the key the bundle inside names', () => {
    expect(verifyStatement(envelope(), { publicKey: keys.publicKey })).toMatchObject({ ok: true, signed: true, entries: 2, head: bundle.head?.hash });
    expect(verifyStatement(envelope())).toMatchObject({ ok: true, problems: [] });
  });

  it('catches a payload edited after signing, even one whose bundle is still self-consistent', () => {
    const e = envelope();
    const statement = decode(e);
    const tampered = reencode(e, { ...statement, subject: [{ name: 'github.com/acme/payments@deadbeef', digest: { gitCommit: 'deadbeef' } }] });
    expect(verifyStatement(tampered, { publicKey: keys.publicKey }).problems).toEqual([expect.objectContaining({ entry: null, field: 'envelope.signatures' })]);
  });

  it('catches an entry edited inside the envelope, naming the envelope and the entry', () => {
    const e = envelope();
    const statement = decode(e) as { predicate: { entries: { summary: string }[] } };
    (statement.predicate.entries[0] as { summary: string }).summary = 'state New → Scheduled';
    const report = verifyStatement(reencode(e, statement), { publicKey: keys.publicKey });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ field: 'envelope.signatures' });
    expect(report.problems).toContainEqual(expect.objectContaining({ entry: 1, field: 'hash' }));
  });

  it('catches a replaced signature, an envelope signed by another key, a stripped signature and a changed payload type', () => {
    const e = envelope();
    const forged = dsseEnvelope(decode(e) as never, other.privateKey);
    expect(verifyStatement({ ...e, signatures: forged.signatures }, { publicKey: keys.publicKey }).problems[0]).toMatchObject({ field: 'envelope.signatures' });
    // Re-signed whole by another key: its own bundle names the published key, so the envelope fails even without --public-key.
    expect(verifyStatement(forged).problems[0]).toMatchObject({ field: 'envelope.signatures' });
    expect(verifyStatement({ ...e, signatures: [] }, { publicKey: keys.publicKey }).problems[0]).toMatchObject({ field: 'envelope.signatures', reason: expect.stringMatching(/not signed/) });
    expect(verifyStatement({ ...e, payloadType: 'application/json' }, { publicKey: keys.publicKey }).problems.map((p) => p.field)).toEqual(['envelope.payloadType', 'envelope.signatures']);
  });

  it('refuses an envelope whose statement is not ours', () => {
    const e = envelope();
    const statement = decode(e);
    const foreign = dsseEnvelope({ ...statement, predicateType: 'https://slsa.dev/provenance/v1' } as never, keys.privateKey);
    expect(verifyStatement(foreign, { publicKey: keys.publicKey }).problems.map((p) => p.field)).toEqual(['predicateType']);
  });
});
