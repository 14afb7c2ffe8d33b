// Signature and token checks the sources share: an HMAC over the raw body,
// compared in constant time against each configured secret in turn (several
// during rotation), and a shared token in a header.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SourceDelivery, VerifyResult } from './event-source-kit.ts';

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** `header: <prefix><hex HMAC-SHA256 of the raw body>` against each secret. */
export function verifyHmacHeader(delivery: SourceDelivery, secrets: readonly string[], header: string, prefix: string): VerifyResult {
  const value = delivery.headers[header]?.trim();
  if (value === undefined || value === '') return { ok: false, reason: 'missing', detail: header };
  if (!value.startsWith(prefix)) return { ok: false, reason: 'invalid', detail: header };
  const given = value.slice(prefix.length).toLowerCase();
  return secrets.some((secret) => sameText(given, hmacHex(secret, delivery.rawBody))) ? { ok: true } : { ok: false, reason: 'invalid', detail: header };
}

/** `Authorization: Bearer <secret>`, or Basic with the secret as password (Alertmanager's `http_config`). */
export function verifyAuthorization(delivery: SourceDelivery, secrets: readonly string[]): VerifyResult {
  const value = delivery.headers['authorization']?.trim();
  if (value === undefined || value === '') return { ok: false, reason: 'missing', detail: 'authorization' };
  const [scheme = '', credential = ''] = value.split(/\s+/, 2);
  let given: string | null = null;
  if (scheme.toLowerCase() === 'bearer') given = credential;
  else if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credential, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    given = colon < 0 ? null : decoded.slice(colon + 1);
  }
  if (given === null || given === '') return { ok: false, reason: 'invalid', detail: 'authorization' };
  return secrets.some((secret) => sameText(given, secret)) ? { ok: true } : { ok: false, reason: 'invalid', detail: 'authorization' };
}
