// Atlassian rotates an OAuth 2.0 refresh token on every refresh; a restart must
// use the rotated one, not the spent one from the configuration.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraAuth } from '../../connectors/jira/jira-auth.ts';
import { oauthTokenFile } from '../../connectors/jira/oauth-token-file.ts';

/** Atlassian's token endpoint: each refresh token works once and is replaced. */
let live = new Set(['R1']);
let issued = 1;
const presented: string[] = [];
const server = setupServer(
  http.post('https://auth.atlassian.com/oauth/token', async ({ request }) => {
    const body = (await request.json()) as { grant_type: string; refresh_token: string };
    presented.push(body.refresh_token);
    if (body.grant_type !== 'refresh_token' || !live.has(body.refresh_token)) {
      return HttpResponse.json({ error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }, { status: 403 });
    }
    live.delete(body.refresh_token);
    issued += 1;
    live.add(`R${issued}`);
    return HttpResponse.json({ access_token: `A${issued}`, refresh_token: `R${issued}`, expires_in: 3600, scope: 'read:jira-work offline_access', token_type: 'bearer' });
  }),
);

const dir = mkdtempSync(join(tmpdir(), 'cg-oauth-'));
const instance = {
  id: 'jsm-oauth',
  baseUrl: 'https://acme.atlassian.net',
  auth: { kind: 'oauth2' as const, clientId: 'client', clientSecret: 'secret', refreshToken: 'R1', cloudId: 'cloud-1' },
};
const logger = pino({ level: 'silent' });

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  live = new Set(['R1']);
  issued = 1;
  presented.length = 0;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Jira OAuth 2.0 refresh tokens across restarts', () => {
  it('a restarted process refreshes with the rotated token the first one saved', async () => {
    const file = join(dir, 'oauth-jsm-oauth.json');
    const first = createJiraAuth(instance, { logger, tokenFile: oauthTokenFile(file, 'R1') });
    expect(await first.provider.header()).toBe('Bearer A2');
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // "Restart": a new auth from the same configuration (still naming the spent R1).
    const second = createJiraAuth(instance, { logger, tokenFile: oauthTokenFile(file, 'R1') });
    await second.provider.refresh?.();
    expect(await second.provider.header()).toBe('Bearer A3');
    expect(presented).toEqual(['R1', 'R2']);
  });

  it('without a token file the configured token is spent after a restart', async () => {
    const first = createJiraAuth(instance, { logger });
    expect(await first.provider.header()).toBe('Bearer A2');
    const second = createJiraAuth(instance, { logger });
    await expect(second.provider.header()).rejects.toMatchObject({ code: 'CG_OAUTH_TOKEN_FAILED' });
  });

  it('a re-authorized configuration wins over tokens saved from the old grant', async () => {
    const file = join(dir, 'oauth-reauthorized.json');
    oauthTokenFile(file, 'R1').write({ refreshToken: 'R-old-rotated' });
    live = new Set(['R-new']);
    const auth = createJiraAuth({ ...instance, auth: { ...instance.auth, refreshToken: 'R-new' } }, { logger, tokenFile: oauthTokenFile(file, 'R-new') });
    await auth.provider.header();
    expect(presented).toEqual(['R-new']);
  });
});
