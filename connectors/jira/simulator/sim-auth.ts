// Who is calling. Cloud: `Basic base64(email:apiToken)`; Data Center:
// `Bearer <PAT>`. A revoked token is the Atlassian trap (reference §1.4):
// anonymous-capable endpoints answer 200 with anonymous data and only the
// `X-Seraph-LoginReason: AUTHENTICATED_FAILED` header tells.

import type { SimAuthOptions, SimUser } from './sim-types.ts';
import type { UserDirectory } from './user-directory.ts';

export type AuthResult =
  | { kind: 'ok'; user: SimUser; label: string }
  | { kind: 'anonymous'; label: 'anonymous' }
  | { kind: 'revoked'; label: 'revoked' }
  | { kind: 'rejected'; label: 'rejected' };

function secretOf(header: string): string | undefined {
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : undefined;
  }
  return undefined;
}

export function authenticate(
  header: string | null,
  opts: SimAuthOptions | undefined,
  revoked: ReadonlySet<string>,
  users: UserDirectory,
  serviceUser: SimUser,
): AuthResult {
  if (!header) return opts ? { kind: 'anonymous', label: 'anonymous' } : { kind: 'ok', user: serviceUser, label: 'none' };
  const secret = secretOf(header);
  if (secret !== undefined && revoked.has(secret)) return { kind: 'revoked', label: 'revoked' };
  if (!opts) return { kind: 'ok', user: serviceUser, label: 'none' };
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const email = decoded.slice(0, i);
    const cred = opts.basic?.find((c) => c.email.toLowerCase() === email.toLowerCase() && c.apiToken === decoded.slice(i + 1));
    const user = cred ? users.find(cred.accountId ?? cred.email) : undefined;
    if (user) return { kind: 'ok', user, label: `basic:${cred?.email ?? email}` };
  }
  if (scheme?.toLowerCase() === 'bearer' && opts.bearer?.includes(value)) return { kind: 'ok', user: serviceUser, label: 'bearer' };
  return { kind: 'rejected', label: 'rejected' };
}
