// Basic auth and OAuth 2.0 (`POST /oauth_token.do`, reference §6): password,
// client_credentials and refresh_token grants; bearer tokens expire by the
// simulator's clock so expiry and refresh can be tested without waiting.

import { randomBytes } from 'node:crypto';
import { jsonResponse, oauthAccessDenied } from './sim-responses.ts';

export interface BasicCredential {
  username: string;
  password: string;
}

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
  /** User a client_credentials token acts as (the "OAuth Application User"); default `admin`. */
  user?: string;
}

export interface SimAuthOptions {
  basic: readonly BasicCredential[];
  oauth: readonly OAuthClient[];
  /** Access-token lifetime reported as `expires_in` (ServiceNow's default is 1799). */
  expiresInSec: number;
  /** Refresh-token lifetime (ServiceNow's default is 100 days). */
  refreshExpiresInSec: number;
}

interface Grant {
  user: string;
  clientId: string;
  expiresAt: number;
}

function token(): string {
  return randomBytes(48).toString('base64url');
}

export class SimAuth {
  private readonly opts: SimAuthOptions;
  private readonly now: () => Date;
  private readonly access = new Map<string, Grant>();
  private readonly refresh = new Map<string, Grant>();

  constructor(opts: SimAuthOptions, now: () => Date) {
    this.opts = opts;
    this.now = now;
  }

  /** The user name a request acts as, or undefined when it carries no valid credentials. */
  authenticate(request: Request): string | undefined {
    const header = request.headers.get('authorization') ?? '';
    const [scheme = '', value = ''] = header.split(/\s+/, 2);
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const ok = colon > 0 && this.opts.basic.some((c) => c.username === username && c.password === password);
      return ok ? username : undefined;
    }
    if (scheme.toLowerCase() === 'bearer') {
      const grant = this.access.get(value);
      if (!grant) return undefined;
      if (grant.expiresAt <= this.now().getTime()) {
        this.access.delete(value);
        return undefined;
      }
      return grant.user;
    }
    return undefined;
  }

  /** Invalidates every access token (and, with `includeRefresh`, every refresh token). */
  revokeTokens(options: { includeRefresh?: boolean } = {}): void {
    this.access.clear();
    if (options.includeRefresh) this.refresh.clear();
  }

  async tokenEndpoint(request: Request): Promise<Response> {
    const form = new URLSearchParams(await request.text());
    let clientId = form.get('client_id') ?? '';
    let clientSecret = form.get('client_secret') ?? '';
    const header = request.headers.get('authorization') ?? '';
    if (!clientId && header.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, colon));
      clientSecret = decodeURIComponent(decoded.slice(colon + 1));
    }
    const client = this.opts.oauth.find((c) => c.clientId === clientId && c.clientSecret === clientSecret);
    if (!client) return oauthAccessDenied();

    const grantType = form.get('grant_type');
    if (grantType === 'password') {
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      if (!this.opts.basic.some((c) => c.username === username && c.password === password)) return oauthAccessDenied();
      return this.issue(username, client.clientId, true);
    }
    if (grantType === 'client_credentials') {
      // ServiceNow issues no refresh token for this grant.
      return this.issue(client.user ?? 'admin', client.clientId, false);
    }
    if (grantType === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      const grant = this.refresh.get(presented);
      if (!grant || grant.clientId !== client.clientId || grant.expiresAt <= this.now().getTime()) return oauthAccessDenied();
      return this.issue(grant.user, client.clientId, false, presented);
    }
    return jsonResponse({ error_description: `unsupported grant_type ${grantType ?? ''}`.trim(), error: 'unsupported_grant_type' }, 400);
  }

  private issue(user: string, clientId: string, withRefresh: boolean, keepRefresh?: string): Response {
    const now = this.now().getTime();
    const accessToken = token();
    this.access.set(accessToken, { user, clientId, expiresAt: now + this.opts.expiresInSec * 1000 });
    let refreshToken = keepRefresh;
    if (withRefresh) {
      refreshToken = token();
      this.refresh.set(refreshToken, { user, clientId, expiresAt: now + this.opts.refreshExpiresInSec * 1000 });
    }
    // Key order of oauth_token_response.json.
    const body: Record<string, string | number> = { scope: 'useraccount', token_type: 'Bearer', expires_in: this.opts.expiresInSec };
    if (refreshToken) body.refresh_token = refreshToken;
    body.access_token = accessToken;
    return jsonResponse(body);
  }
}
