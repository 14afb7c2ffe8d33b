// One refresh at Atlassian's OAuth 2.0 (3LO) token endpoint, bounded in time.
// jira.js's refreshOAuth2Token takes no signal, so a request stuck on a dead
// path would wait for the socket's own timeouts (minutes), long past the token
// store's refresh window, and let another holder present the same refresh
// token meanwhile. This one is aborted at its deadline, body included: an
// answer that comes later is never read, so nothing it carries is saved.
// Refusals are jira.js's OAuthError, as its helper throws them.

import { OAuthError } from 'jira.js/core';

export const ATLASSIAN_TOKEN_URL = 'https://auth.atlassian.com/oauth/token';

export interface RefreshedTokens {
  accessToken: string;
  /** Absent when Atlassian sent none: the one presented stays in use. */
  refreshToken?: string;
  expiresInS: number;
}

/** The token endpoint did not answer in time; whether the refresh token presented was spent is unknown. */
export class TokenRequestTimedOut extends Error {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`the token endpoint did not answer within ${timeoutMs / 1000} s`);
    this.name = 'TokenRequestTimedOut';
    this.timeoutMs = timeoutMs;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export async function refreshAtlassianToken(params: { clientId: string; clientSecret: string; refreshToken: string }, timeoutMs: number): Promise<RefreshedTokens> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new TokenRequestTimedOut(timeoutMs)), timeoutMs);
  try {
    const response = await fetch(ATLASSIAN_TOKEN_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', client_id: params.clientId, client_secret: params.clientSecret, refresh_token: params.refreshToken }),
      signal: deadline.signal,
    });
    const text = await response.text();
    const body = parse(text);
    if (!response.ok) throw new OAuthError(`Request to ${ATLASSIAN_TOKEN_URL} failed with status ${response.status}`, { status: response.status, body });
    const answer = (typeof body === 'object' && body !== null ? body : {}) as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown };
    if (typeof answer.access_token !== 'string' || answer.access_token === '' || typeof answer.expires_in !== 'number') {
      throw new OAuthError(`${ATLASSIAN_TOKEN_URL} answered ${response.status} without an access_token and expires_in`, { status: response.status });
    }
    return {
      accessToken: answer.access_token,
      ...(typeof answer.refresh_token === 'string' && answer.refresh_token !== '' ? { refreshToken: answer.refresh_token } : {}),
      expiresInS: answer.expires_in,
    };
  } catch (err) {
    if (deadline.signal.aborted) throw deadline.signal.reason as TokenRequestTimedOut;
    if (err instanceof OAuthError) throw err;
    throw new OAuthError(`Request to ${ATLASSIAN_TOKEN_URL} failed before a response arrived`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
