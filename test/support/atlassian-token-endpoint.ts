// Atlassian's OAuth 2.0 (3LO) token endpoint as the OAuth tests need it: each
// refresh token works once and is replaced by the next (rotation), a spent one is
// refused with invalid_grant, and every access token issued is remembered so a
// fake gateway can accept exactly those.

import { http, HttpResponse, type HttpHandler } from 'msw';

export const ATLASSIAN_TOKEN_URL = 'https://auth.atlassian.com/oauth/token';

export interface AtlassianTokenEndpoint {
  /** Refresh tokens that still work. */
  live: Set<string>;
  /** Access tokens issued so far. */
  accessTokens: Set<string>;
  /** Refresh tokens presented, in order. */
  presented: string[];
  /** The number of the last token pair issued (R1 is the configured one). */
  issued: number;
  handler: HttpHandler;
  /** Back to one live refresh token, `first`, and nothing presented or issued. */
  reset(first?: string): void;
}

export function atlassianTokenEndpoint(): AtlassianTokenEndpoint {
  const endpoint: AtlassianTokenEndpoint = {
    live: new Set(['R1']),
    accessTokens: new Set(),
    presented: [],
    issued: 1,
    handler: http.post(ATLASSIAN_TOKEN_URL, async ({ request }) => {
      const body = (await request.json()) as { grant_type: string; refresh_token: string };
      endpoint.presented.push(body.refresh_token);
      if (body.grant_type !== 'refresh_token' || !endpoint.live.has(body.refresh_token)) {
        return HttpResponse.json({ error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }, { status: 403 });
      }
      endpoint.live.delete(body.refresh_token);
      endpoint.issued += 1;
      endpoint.live.add(`R${endpoint.issued}`);
      endpoint.accessTokens.add(`A${endpoint.issued}`);
      return HttpResponse.json({ access_token: `A${endpoint.issued}`, refresh_token: `R${endpoint.issued}`, expires_in: 3600, scope: 'read:jira-work offline_access', token_type: 'bearer' });
    }),
    reset(first = 'R1') {
      endpoint.live = new Set([first]);
      endpoint.accessTokens = new Set();
      endpoint.presented.length = 0;
      endpoint.issued = 1;
    },
  };
  return endpoint;
}
