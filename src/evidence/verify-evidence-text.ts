// The offline check of an exported file as its text: an evidence bundle, or an
// in-toto statement carrying one (bare, or in a DSSE envelope whose signature is
// checked first). What `changegate evidence verify FILE` runs. The text is
// checked for a member name given twice in one object before its value is: the
// value JSON.parse makes holds only the last, which is what the hashes are
// recomputed over, while a viewer may show the first.

import type { KeyObject } from 'node:crypto';
import { isDsseEnvelope, isInTotoStatement, verifyStatement } from './in-toto-statement.ts';
import { repeatedMemberProblems, verifyBundle, type VerifyReport } from './verify-bundle.ts';

/** Throws JSON.parse's SyntaxError when the text is not JSON: an unreadable file, not an altered one. */
export function verifyEvidenceText(text: string, options: { publicKey?: KeyObject } = {}): VerifyReport {
  const input: unknown = JSON.parse(text);
  const envelope = isDsseEnvelope(input);
  const repeated = repeatedMemberProblems(text, envelope ? ['envelope'] : []);
  const report = (envelope || isInTotoStatement(input) ? verifyStatement : verifyBundle)(input, options);
  const problems = [...repeated, ...report.problems];
  return { ...report, ok: problems.length === 0, problems };
}
