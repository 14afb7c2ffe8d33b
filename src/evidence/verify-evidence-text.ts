// The offline check of an exported file as its text: an evidence bundle, or an
// in-toto statement carrying one (bare, or in a DSSE envelope whose signature is
// checked first). What `changegate evidence verify FILE` runs.

import type { KeyObject } from 'node:crypto';
import { isDsseEnvelope, isInTotoStatement, verifyStatement } from './in-toto-statement.ts';
import { verifyBundle, type VerifyReport } from './verify-bundle.ts';

/** Throws JSON.parse's SyntaxError when the text is not JSON: an unreadable file, not an altered one. */
export function verifyEvidenceText(text: string, options: { publicKey?: KeyObject } = {}): VerifyReport {
  const input: unknown = JSON.parse(text);
  const wrapped = isDsseEnvelope(input) || isInTotoStatement(input);
  return (wrapped ? verifyStatement : verifyBundle)(input, options);
}
