// The evidence bundle for supply-chain tooling: an in-toto Statement v1 whose
// subjects are the change's commits (or, when it links none, the bundle itself
// by SHA-256) and whose predicate is the bundle, optionally in a DSSE envelope
// signed with the deployment's Ed25519 key. The signature covers the DSSE
// pre-authentication encoding (PAE), never the bare payload, per the DSSE spec:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths as ASCII decimals
// of byte counts. Verifying an envelope checks its signature, then the bundle
// inside it as verify-bundle.ts does.

import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { isChangegateError } from '../errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { EvidenceBundle } from './evidence-bundle.ts';
import { sha256Hex } from './evidence-entry.ts';
import { repeatedMemberProblems, verifyBundle, type VerifyReport } from './verify-bundle.ts';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The predicate type: a changegate evidence bundle (its `format` names the version, `changegate-evidence/2`). */
export const PREDICATE_TYPE = 'https://changegate.dev/evidence-bundle/v1';
export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface ResourceDescriptor {
  name: string;
  digest: Record<string, string>;
}

export interface InTotoStatement {
  _type: typeof STATEMENT_TYPE;
  subject: ResourceDescriptor[];
  predicateType: typeof PREDICATE_TYPE;
  predicate: EvidenceBundle;
}

export interface DsseEnvelope {
  payload: string;
  payloadType: string;
  signatures: { keyid: string; sig: string }[];
}

const COMMIT = /^[0-9a-f]{7,64}$/;

/** SHA-256 (hex) of the public key's SPKI DER: the envelope's `keyid`, and the fingerprint a deployment publishes. */
export function keyId(key: KeyObject): string {
  return sha256Hex((key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' }));
}

/**
 * The change's commits (hex ids from its links; anything else there is not a
 * commit id and is left out), each named by the change's repository when it
 * links exactly one; with none, the bundle itself.
 */
export function inTotoStatement(bundle: EvidenceBundle, links: { commits: readonly string[]; repos: readonly string[] }): InTotoStatement {
  const commits = [...new Set(links.commits.map((c) => c.trim().toLowerCase()).filter((c) => COMMIT.test(c)))];
  const repo = links.repos.length === 1 ? links.repos[0] : undefined;
  const subject =
    commits.length > 0
      ? commits.map((sha) => ({ name: repo === undefined ? sha : `${repo}@${sha}`, digest: { gitCommit: sha } }))
      : [{ name: `${bundle.change.key}.evidence.json`, digest: { sha256: bundleDigest(bundle) } }];
  return { _type: STATEMENT_TYPE, subject, predicateType: PREDICATE_TYPE, predicate: bundle };
}

/**
 * SHA-256 of the bundle's canonical JSON. With a lone surrogate escaped rather than refused:
 * the same bytes as RFC 8785's for any bundle written now; a ledger holding entries an earlier
 * build wrote with one (verify warns on those) still gets a digest, over the form they were hashed in.
 */
const bundleDigest = (bundle: unknown): string => sha256Hex(canonicalJson(bundle, { loneSurrogates: 'escape' }));

/** DSSE's pre-authentication encoding of a payload. */
export function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

export function dsseEnvelope(statement: InTotoStatement, signingKey: KeyObject): DsseEnvelope {
  const body = Buffer.from(JSON.stringify(statement), 'utf8');
  const sig = sign(null, pae(DSSE_PAYLOAD_TYPE, body), signingKey).toString('base64');
  return { payload: body.toString('base64'), payloadType: DSSE_PAYLOAD_TYPE, signatures: [{ keyid: keyId(signingKey), sig }] };
}

export const isDsseEnvelope = (input: unknown): boolean => typeof input === 'object' && input !== null && 'payloadType' in input && 'payload' in input;
export const isInTotoStatement = (input: unknown): boolean => typeof input === 'object' && input !== null && (input as { _type?: unknown })['_type'] === STATEMENT_TYPE;

/**
 * Checks a DSSE envelope or a bare Statement: the envelope's signature over the
 * PAE (against `publicKey`, or the key the bundle inside names), the statement's
 * shape, a bundle subject's digest, then the bundle. Problems of the wrapping
 * come first, with `entry: null`.
 */
export function verifyStatement(input: unknown, options: { publicKey?: KeyObject } = {}): VerifyReport {
  const outer: VerifyReport['problems'] = [];
  const problem = (field: string, reason: string) => outer.push({ entry: null, field, reason });
  let statement: unknown = input;
  let envelopeSigned = false;
  let envelopeGood = false;
  if (isDsseEnvelope(input)) {
    const envelope = input as Partial<DsseEnvelope>;
    let body: Buffer | null = null;
    if (envelope.payloadType !== DSSE_PAYLOAD_TYPE) problem('envelope.payloadType', `expected "${DSSE_PAYLOAD_TYPE}", found ${JSON.stringify(envelope.payloadType)}`);
    if (typeof envelope.payload !== 'string') problem('envelope.payload', 'missing or not text');
    else {
      body = Buffer.from(envelope.payload, 'base64');
      const text = body.toString('utf8');
      try {
        statement = JSON.parse(text);
      } catch {
        problem('envelope.payload', 'is not base64 of a JSON statement');
        statement = null;
      }
      if (statement !== null) outer.push(...repeatedMemberProblems(text, [], ", in the envelope's payload"));
    }
    const signatures = Array.isArray(envelope.signatures) ? envelope.signatures : [];
    const inner = (statement as { predicate?: { signature?: { publicKey?: unknown } | null } } | null)?.predicate?.signature?.publicKey;
    let key: KeyObject | null = options.publicKey ?? null;
    if (key === null && typeof inner === 'string') {
      try {
        key = createPublicKey({ key: Buffer.from(inner, 'base64'), format: 'der', type: 'spki' });
      } catch {
        key = null;
      }
    }
    if (signatures.length === 0) problem('envelope.signatures', 'none: the envelope is not signed');
    else if (key === null) problem('envelope.signatures', 'no public key to check them against: give --public-key');
    else if (body !== null) {
      const data = pae(String(envelope.payloadType), body);
      const good = signatures.some((s) => {
        try {
          return verify(null, data, key, Buffer.from(String(s?.sig), 'base64'));
        } catch {
          return false;
        }
      });
      envelopeSigned = true;
      envelopeGood = good;
      if (!good) problem('envelope.signatures', 'none verifies over the payload: the payload or its signature was altered, or another key signed it');
    }
  }
  const s = (typeof statement === 'object' && statement !== null ? statement : {}) as Partial<InTotoStatement>;
  if (s['_type'] !== STATEMENT_TYPE) problem('_type', `expected "${STATEMENT_TYPE}", found ${JSON.stringify(s['_type'])}`);
  if (s.predicateType !== PREDICATE_TYPE) problem('predicateType', `expected "${PREDICATE_TYPE}", found ${JSON.stringify(s.predicateType)}`);
  const subjects = Array.isArray(s.subject) ? s.subject : [];
  if (subjects.length === 0) problem('subject', 'missing or empty');
  for (const [i, subject] of subjects.entries()) {
    const sha256 = subject?.digest?.['sha256'];
    if (sha256 === undefined || s.predicate === undefined) continue;
    let digest: string;
    try {
      digest = bundleDigest(s.predicate);
    } catch (err) {
      problem(`subject[${i}].digest.sha256`, `cannot be recomputed over the bundle: ${isChangegateError(err) ? err.message : 'it is malformed'}`);
      continue;
    }
    if (sha256 !== digest) problem(`subject[${i}].digest.sha256`, 'is not the SHA-256 of the bundle: the bundle was altered');
  }
  const report = verifyBundle(s.predicate ?? null, options);
  const problems = [...outer, ...report.problems];
  // The envelope's signature covers the whole statement, the bundle's change key and title included.
  const warnings = envelopeGood ? report.warnings.filter((w) => w.field !== 'change') : report.warnings;
  return { ...report, ok: problems.length === 0, signed: report.signed || envelopeSigned, problems, warnings };
}
