// Atlassian's OAuth 2.0 (3LO) token endpoint as the OAuth tests need it: each
// refresh token works once and is replaced by the next (rotation), a spent one is
// refused with invalid_grant, and every access token issued is remembered so a
// fake gateway can accept exactly those.
//
// What Atlassian does with a spent refresh token presented again is not settled
// (reference: jira.md says nothing of reuse), so `reuse` plays each case a
// holder must survive: refused (invalid_grant), revoking the whole grant (reuse
// detection, as OAuth's security best practice advises), or still accepted (a
// reuse interval). `stall()` holds the next request the way a dead network path
// does, for a holder stuck on the endpoint.

import { setTimeout as sleep } from 'node:timers/promises';
import { http, HttpResponse, type HttpHandler } from 'msw';

export const ATLASSIAN_TOKEN_URL = 'https://auth.atlassian.com/oauth/token';

/** What presenting a spent refresh token does. */
export type TokenReuse = 'refused' | 'revokes-grant' | 'accepted';

export interface StalledRequest {
  /** Lets the held request go on: one not yet processed reaches the endpoint now (unless its client gave up), a processed one gets its answer. */
  release(): void;
  /** Settles once the held request has been handled (processed, answered or dropped). */
  done: Promise<void>;
}

export interface AtlassianTokenEndpoint {
  /** Refresh tokens that still work. */
  live: Set<string>;
  /** Refresh tokens spent (or revoked) so far. */
  spent: Set<string>;
  /** Access tokens issued so far. */
  accessTokens: Set<string>;
  /** Refresh tokens presented, in order, as they reached the endpoint. */
  presented: string[];
  /** Refresh tokens sent while an earlier request sending the same one was still unanswered. */
  overlaps: string[];
  /** The number of the last token pair issued (R1 is the configured one). */
  issued: number;
  reuse: TokenReuse;
  /** The lifetime of the access tokens issued (`expires_in`), 3600 s unless a test shortens it. */
  expiresInS: number;
  /** How long each answer takes (so refreshes from several holders overlap); 0 unless a test slows it. */
  latencyMs: number;
  handler: HttpHandler;
  /**
   * Holds the next token request: `before` processing (a request stuck on its way, which never reaches Atlassian if
   * its client aborts meanwhile), or `after` (Atlassian rotated the grant, the answer is stuck on its way back).
   */
  stall(where: 'before' | 'after'): StalledRequest;
  /** Back to one live refresh token, `first`, and nothing presented or issued. */
  reset(first?: string): void;
}

export function atlassianTokenEndpoint(): AtlassianTokenEndpoint {
  const unanswered = new Map<string, number>();
  let stalls: { where: 'before' | 'after'; released: Promise<void>; settle: () => void }[] = [];

  const process = (refreshToken: string, grantType: string): Response => {
    endpoint.presented.push(refreshToken);
    if (grantType !== 'refresh_token' || !endpoint.live.has(refreshToken)) {
      const reused = endpoint.spent.has(refreshToken);
      if (reused && endpoint.reuse === 'revokes-grant') {
        for (const token of endpoint.live) endpoint.spent.add(token);
        endpoint.live.clear();
      }
      if (!(reused && endpoint.reuse === 'accepted')) {
        return HttpResponse.json({ error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }, { status: 403 });
      }
    }
    endpoint.live.delete(refreshToken);
    endpoint.spent.add(refreshToken);
    endpoint.issued += 1;
    endpoint.live.add(`R${endpoint.issued}`);
    endpoint.accessTokens.add(`A${endpoint.issued}`);
    return HttpResponse.json({ access_token: `A${endpoint.issued}`, refresh_token: `R${endpoint.issued}`, expires_in: endpoint.expiresInS, scope: 'read:jira-work offline_access', token_type: 'bearer' });
  };

  const endpoint: AtlassianTokenEndpoint = {
    live: new Set(['R1']),
    spent: new Set(),
    accessTokens: new Set(),
    presented: [],
    overlaps: [],
    issued: 1,
    reuse: 'refused',
    expiresInS: 3600,
    latencyMs: 0,
    handler: http.post(ATLASSIAN_TOKEN_URL, async ({ request }) => {
      const body = (await request.json()) as { grant_type: string; refresh_token: string };
      const token = body.refresh_token;
      if ((unanswered.get(token) ?? 0) > 0) endpoint.overlaps.push(token);
      unanswered.set(token, (unanswered.get(token) ?? 0) + 1);
      // Unanswered until answered, or until its client stops waiting for the answer.
      let open = true;
      const close = (): void => {
        if (open) unanswered.set(token, (unanswered.get(token) ?? 1) - 1);
        open = false;
      };
      request.signal.addEventListener('abort', close, { once: true });
      const stall = stalls.shift();
      try {
        if (endpoint.latencyMs > 0) await sleep(endpoint.latencyMs);
        if (stall === undefined) return process(token, body.grant_type);
        try {
          if (stall.where === 'after') {
            const answer = process(token, body.grant_type);
            await stall.released;
            return answer;
          }
          await stall.released;
          // The client gave up before the path cleared: the request never reached Atlassian.
          if (request.signal.aborted) return HttpResponse.error();
          return process(token, body.grant_type);
        } finally {
          stall.settle();
        }
      } finally {
        close();
      }
    }),
    stall(where) {
      let release!: () => void;
      let settle!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const done = new Promise<void>((resolve) => (settle = resolve));
      stalls.push({ where, released, settle });
      return { release, done };
    },
    reset(first = 'R1') {
      endpoint.live = new Set([first]);
      endpoint.spent = new Set();
      endpoint.accessTokens = new Set();
      endpoint.presented.length = 0;
      endpoint.overlaps.length = 0;
      endpoint.issued = 1;
      endpoint.reuse = 'refused';
      endpoint.expiresInS = 3600;
      endpoint.latencyMs = 0;
      stalls = [];
      unanswered.clear();
    },
  };
  return endpoint;
}
