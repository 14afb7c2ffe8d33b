// The signature that binds a results upload to what it names. A source's own
// signature covers the file's bytes only, so one captured upload (a green
// report) could be posted again naming another commit or change. This one is
// an HMAC-SHA256, keyed by the same secret, over a short canonical text: every
// name (empty when not given) and the SHA-256 of the file, one `key=value`
// line each in a fixed order, so a shell script builds it with printf and
// openssl (README, "Test and scan results").

import { createHmac, timingSafeEqual } from 'node:crypto';
import { ChangegateError } from '../../errors.ts';
import type { SourceDelivery, VerifyResult } from '../event-source-kit.ts';
import { RESULTS_NAME_KEYS, sha256Hex, type ResultsNames } from './results-delivery.ts';

export const BOUND_SIGNATURE_HEADER = 'x-changegate-signature-256';
/** The first line of the canonical text: a later version can change the text without a signature of this one matching it. */
export const BOUND_SIGNATURE_VERSION = 'changegate-results-v1';

const LINE_BREAK = /[\r\n]/;

/**
 * `changegate-results-v1\ncommit=…\nchange=…\nrun=…\nrepo=…\nbranch=…\nname=…\nenvironment=…\nurl=…\nsha256=<hex>\n`:
 * the names as the route reads them (trimmed; an absent one empty). A name with a line break
 * could be read as two lines, so it cannot be bound: 400 naming it.
 */
export function boundSignatureText(names: ResultsNames, fileSha256: string): string {
  const lines = [BOUND_SIGNATURE_VERSION];
  for (const key of RESULTS_NAME_KEYS) {
    const value = names[key] ?? '';
    if (LINE_BREAK.test(value)) {
      throw new ChangegateError('CG_INPUT_INVALID', `query ${key}: holds a line break, which a signature over the names (${BOUND_SIGNATURE_HEADER}) cannot bind`, {
        details: { field: key, where: 'query' },
      });
    }
    lines.push(`${key}=${value}`);
  }
  lines.push(`sha256=${fileSha256}`);
  return `${lines.join('\n')}\n`;
}

/** Null when the upload carries no such header; else whether `sha256=<hex>` matches one of the secrets over the canonical text of these names and these bytes. */
export function verifyBoundSignature(delivery: SourceDelivery, names: ResultsNames, secrets: readonly string[]): VerifyResult | null {
  const value = delivery.headers[BOUND_SIGNATURE_HEADER]?.trim();
  if (value === undefined || value === '') return null;
  const invalid: VerifyResult = { ok: false, reason: 'invalid', detail: BOUND_SIGNATURE_HEADER };
  const hex = value.startsWith('sha256=') ? value.slice('sha256='.length) : '';
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return invalid;
  const given = Buffer.from(hex, 'hex');
  const text = boundSignatureText(names, sha256Hex(delivery.rawBody));
  // Every secret is compared, not the first match only, so timing does not tell which one matched.
  const matches = secrets.map((secret) => timingSafeEqual(given, createHmac('sha256', secret).update(text).digest()));
  return matches.includes(true) ? { ok: true } : invalid;
}

/** What a source that requires bound signatures tells a CI that sent none. */
export const BOUND_SIGNATURE_HINT = `send ${BOUND_SIGNATURE_HEADER}: sha256=<HMAC-SHA256 with the source's secret over "${BOUND_SIGNATURE_VERSION}", then ${RESULTS_NAME_KEYS.map((k) => `${k}=`).join(', ')} and sha256=<SHA-256 of the file>, one line each>`;
