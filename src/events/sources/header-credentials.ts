// Senders that cannot sign a body (Jenkins, Azure DevOps, Argo CD, Grafana
// without HMAC) authenticate with a credential in a header: basic auth, an
// Authorization scheme of the operator's choosing, or a custom header. One
// check for all of them, constant-time per comparison.

import type { SourceDelivery, VerifyResult } from '../event-source-kit.ts';
import { header, sameSecret } from './payload-fields.ts';

/** The custom header the docs tell operators to configure where a sender can add headers (Azure DevOps, Argo CD). */
export const TOKEN_HEADER = 'x-changegate-token';

/** `Basic` credentials match a secret written `user:password`, or the password alone; any other scheme matches its credentials. */
export function authorizationMatches(value: string, secrets: readonly string[]): boolean {
  const [scheme = '', ...rest] = value.split(' ');
  const credentials = rest.join(' ').trim();
  const candidates = [value, credentials];
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    candidates.push(decoded, decoded.slice(decoded.indexOf(':') + 1));
  }
  // Every candidate against every secret, so timing does not tell which one matched.
  return secrets.flatMap((secret) => candidates.map((candidate) => sameSecret(candidate, secret))).includes(true);
}

export function verifyHeaderCredentials(delivery: SourceDelivery, secrets: readonly string[]): VerifyResult {
  const token = header(delivery.headers, TOKEN_HEADER);
  const authorization = header(delivery.headers, 'authorization');
  if (token === null && authorization === null) {
    return { ok: false, reason: 'missing', detail: 'neither X-Changegate-Token nor Authorization header is present' };
  }
  if (token !== null && secrets.map((secret) => sameSecret(token, secret)).includes(true)) return { ok: true };
  if (authorization !== null && authorizationMatches(authorization, secrets)) return { ok: true };
  return { ok: false, reason: 'invalid', detail: token !== null ? 'X-Changegate-Token matches no configured secret' : 'Authorization matches no configured secret' };
}
