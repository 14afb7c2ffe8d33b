// A member name given twice in one object of a bundle file: verify reads the
// last (JSON.parse does), a viewer or another language's parser may show the
// first, so an auditor could read forged text next to "intact". The file's text
// is scanned for one, names compared as decoded (`summ\u0061ry` is `summary`).

import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { DSSE_PAYLOAD_TYPE, dsseEnvelope, inTotoStatement, keyId, pae, verifyStatement } from '../../src/evidence/in-toto-statement.ts';
import { jsonPath, repeatedMembers } from '../../src/evidence/repeated-members.ts';
import { verifyEvidenceText } from '../../src/evidence/verify-evidence-text.ts';
import { CHANGE, chainedEntries } from '../support/evidence-ledger.ts';

const entries = chainedEntries();
const keys = generateKeyPairSync('ed25519');
const bundle = buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', keys.privateKey);
/** The file export writes. */
const exported = JSON.stringify(bundle, null, 2);
const REPEATED = /^appears more than once in its object: JSON readers disagree on which one counts/;

/** `text` with `insert` put right before `anchor`, which must occur exactly once. */
function before(text: string, anchor: string, insert: string): string {
  expect(text.split(anchor)).toHaveLength(2);
  return text.replace(anchor, `${insert}${anchor}`);
}

describe('repeatedMembers', () => {
  it('finds a name given twice, as JSON.parse decodes it, with its path', () => {
    expect(repeatedMembers('{"summary":"forged","summary":"real"}')).toEqual([['summary']]);
    expect(repeatedMembers('{"summary":"forged","summ\\u0061ry":"real"}')).toEqual([['summary']]);
    expect(repeatedMembers('{"SUMMARY":1,"summary":2}')).toEqual([]);
    expect(repeatedMembers('{"a\\"b":1,"a\\u0022b":2}')).toEqual([['a"b']]);
    expect(repeatedMembers('{"a\\\\":1,"a\\u005C":2,"a\\\\\\\\":3}')).toEqual([['a\\']]);
    expect(repeatedMembers('{"\\ud83d\\ude80":1,"🚀":2,"\\/":3,"/":4}')).toEqual([['🚀'], ['/']]);
    // Three times is one problem; past the limit, no more are listed.
    expect(repeatedMembers('{"a":1,"a":2,"a":3}')).toEqual([['a']]);
    expect(repeatedMembers('{"a":1,"a":2,"b":{"c":1,"c":2}}', 1)).toEqual([['a']]);
  });

  it('is not misled by strings holding quotes, backslashes, braces and commas', () => {
    // The value reads like more members: `x\",\"a\":{\"a` is all one string.
    expect(repeatedMembers('{"a":"x\\",\\"a\\":{\\"a","b":"\\\\","c":"\\\\\\"a\\":1,"}')).toEqual([]);
    expect(repeatedMembers('{"k\\\\":"v","k\\\\\\\\":"v","k":"{\\"k\\":1}"}')).toEqual([]);
    expect(repeatedMembers('["a","a",{"a":"a"},"a"]')).toEqual([]);
  });

  it('names the path: object members and array positions, the same name in sibling objects being no repeat', () => {
    const text = '{"entries":[{"seq":1},{"seq":2,"payload":{"to":"a","list":[0,{"x":1,"x":2}],"to":"b"}}],"head":{"seq":2}}';
    expect(repeatedMembers(text)).toEqual([
      ['entries', 1, 'payload', 'list', 1, 'x'],
      ['entries', 1, 'payload', 'to'],
    ]);
    expect(repeatedMembers(' [ { "a" : 1 , "a" : 2 } ] ')).toEqual([[0, 'a']]);
    expect(jsonPath(['entries', 3, 'summary'])).toBe('entries[3].summary');
    expect(jsonPath(['entries', 0, 'payload', 'a b', '', 'x"y'])).toBe('entries[0].payload["a b"][""]["x\\"y"]');
    expect(jsonPath([0, 'a'])).toBe('[0].a');
    expect(jsonPath(['\u001b[2J'])).toBe('["\\u001b[2J"]');
  });

  it('finds nothing in what JSON.stringify writes', () => {
    expect(repeatedMembers(exported)).toEqual([]);
    expect(repeatedMembers(JSON.stringify({ a: { a: { a: [{ a: 1 }, { a: 2 }] } }, b: 'a' }))).toEqual([]);
  });
});

describe('changegate evidence verify, on a member name given twice', () => {
  it('still finds a bundle as exported intact', () => {
    expect(verifyEvidenceText(exported, { publicKey: keys.publicKey })).toMatchObject({ ok: true, problems: [], warnings: [] });
  });

  it('reports a summary given twice, forged first, though the chain verifies over the last one', () => {
    // What a viewer taking the first name shows: "verdict: ready". What JSON.parse and the hash see: the real one.
    const forged = before(exported, '"summary": "verdict: not ready"', '"summary": "verdict: ready", ');
    const report = verifyEvidenceText(forged, { publicKey: keys.publicKey });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([{ entry: null, field: 'entries[1].summary', reason: expect.stringMatching(REPEATED) }]);
  });

  it('reports it first when the forged one is last, before the hash that no longer matches', () => {
    const forged = exported.replace('"summary": "verdict: not ready"', '"summary": "verdict: not ready", "summary": "verdict: ready"');
    const report = verifyEvidenceText(forged, { publicKey: keys.publicKey });
    expect(report.problems).toEqual([
      { entry: null, field: 'entries[1].summary', reason: expect.stringMatching(REPEATED) },
      expect.objectContaining({ entry: 2, field: 'hash' }),
    ]);
  });

  it('compares names as decoded: summ\\u0061ry is summary', () => {
    const forged = before(exported, '"summary": "verdict: not ready"', '"summ\\u0061ry": "verdict: ready", ');
    expect(verifyEvidenceText(forged).problems).toEqual([{ entry: null, field: 'entries[1].summary', reason: expect.stringMatching(REPEATED) }]);
  });

  it('reports a name given twice in the head, the signature, the change, a payload and the bundle itself', () => {
    const head = exported.replace(/("head": \{\s*"seq": 2,)/, '$1 "seq": 2,');
    const signature = before(exported, '"algorithm": "Ed25519"', '"algorithm": "RSA-SHA256", ');
    const change = before(exported, '"title": "Upgrade the payments gateway"', '"title": "Rotate a certificate", ');
    const payload = before(exported, '"verdict": "blocked"', '"verdict": "approved", ');
    const top = exported.replace(/^\{/, '{\n  "format": "changegate-evidence/1",');
    for (const [text, field] of [[head, 'head.seq'], [signature, 'signature.algorithm'], [change, 'change.title'], [payload, 'entries[1].payload.verdict'], [top, 'format']] as const) {
      const report = verifyEvidenceText(text, { publicKey: keys.publicKey });
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([{ entry: null, field, reason: expect.stringMatching(REPEATED) }]);
    }
  });

  it('reports a name given twice in a bare in-toto statement, and in the envelope around one', () => {
    const statement = JSON.stringify(inTotoStatement(bundle, { commits: [], repos: [] }));
    const bare = before(statement, '"summary":"verdict: not ready"', '"summary":"verdict: ready",');
    expect(verifyEvidenceText(bare, { publicKey: keys.publicKey }).problems).toEqual([{ entry: null, field: 'predicate.entries[1].summary', reason: expect.stringMatching(REPEATED) }]);
    const envelope = JSON.stringify(dsseEnvelope(inTotoStatement(bundle, { commits: [], repos: [] }), keys.privateKey));
    const outer = before(envelope, '"payloadType"', `"payloadType":"text/plain",`);
    expect(verifyEvidenceText(outer, { publicKey: keys.publicKey }).problems).toEqual([{ entry: null, field: 'envelope.payloadType', reason: expect.stringMatching(REPEATED) }]);
  });

  it('reports a name given twice in a DSSE envelope\'s payload, even under a signature that verifies', () => {
    const body = Buffer.from(before(JSON.stringify(inTotoStatement(bundle, { commits: [], repos: [] })), '"summary":"verdict: not ready"', '"summ\\u0061ry":"verdict: ready",'));
    const envelope = { payload: body.toString('base64'), payloadType: DSSE_PAYLOAD_TYPE, signatures: [{ keyid: keyId(keys.privateKey), sig: sign(null, pae(DSSE_PAYLOAD_TYPE, body), keys.privateKey).toString('base64') }] };
    const expected = [{ entry: null, field: 'predicate.entries[1].summary', reason: expect.stringMatching(/appears more than once in its object, in the envelope's payload: /) }];
    expect(verifyStatement(envelope, { publicKey: keys.publicKey })).toMatchObject({ ok: false, signed: true, problems: expected });
    expect(verifyEvidenceText(JSON.stringify(envelope), { publicKey: keys.publicKey })).toMatchObject({ ok: false, problems: expected });
  });
});
