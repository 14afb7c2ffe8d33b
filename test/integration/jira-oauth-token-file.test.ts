// Atlassian rotates an OAuth 2.0 refresh token on every refresh; a restart must
// use the rotated one, not the spent one from the configuration, and a holder
// of the grant must take the one another holder (the CLI, another process)
// rotated into the file rather than present its own spent one.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraAuth } from '../../connectors/jira/jira-auth.ts';
import { oauthTokenFile } from '../../connectors/jira/oauth-token-file.ts';
import { ATLASSIAN_TOKEN_URL, atlassianTokenEndpoint } from '../support/atlassian-token-endpoint.ts';

/** Atlassian's token endpoint: each refresh token works once and is replaced. */
const tokens = atlassianTokenEndpoint();
const presented = tokens.presented;
const server = setupServer(tokens.handler);

const dir = mkdtempSync(join(tmpdir(), 'cg-oauth-'));
const instance = {
  id: 'jsm-oauth',
  baseUrl: 'https://acme.atlassian.net',
  auth: { kind: 'oauth2' as const, clientId: 'client', clientSecret: 'secret', refreshToken: 'R1', cloudId: 'cloud-1' },
};
const logger = pino({ level: 'silent' });

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  server.resetHandlers();
  tokens.reset();
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Jira OAuth 2.0 refresh tokens across restarts', () => {
  it('a restarted process refreshes with the rotated token the first one saved', async () => {
    const file = join(dir, 'oauth-jsm-oauth.json');
    const first = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
    expect(await first.provider.header()).toBe('Bearer A2');
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // "Restart": a new auth from the same configuration (still naming the spent R1).
    const second = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
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
    await oauthTokenFile(file, 'R1').write({ refreshToken: 'R-old-rotated' });
    tokens.reset('R-new');
    const auth = createJiraAuth({ ...instance, auth: { ...instance.auth, refreshToken: 'R-new' } }, { logger, tokenStore: oauthTokenFile(file, 'R-new') });
    await auth.provider.header();
    expect(presented).toEqual(['R-new']);
  });
});

describe('Jira OAuth 2.0 refresh tokens shared by several holders', () => {
  it('a holder takes the tokens another holder rotated into the file instead of presenting its spent token', async () => {
    const file = join(dir, 'oauth-shared.json');
    const service = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
    expect(await service.provider.header()).toBe('Bearer A2');
    const cli = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
    await cli.provider.refresh?.(); // R2 -> R3, saved

    // The service's A2 is refused (a 401): the file already holds a newer access token, so nothing is spent.
    await service.provider.refresh?.();
    expect(await service.provider.header()).toBe('Bearer A3');
    expect(presented).toEqual(['R1', 'R2']);
  });

  it('after an invalid_grant, a holder retries once with the token another holder wrote meanwhile', async () => {
    const file = join(dir, 'oauth-raced.json');
    const service = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
    expect(await service.provider.header()).toBe('Bearer A2');
    // A holder outside the lock (an older changegate) spends R2 while the service's refresh is on its way.
    server.use(
      http.post(
        ATLASSIAN_TOKEN_URL,
        async ({ request }) => {
          const body = (await request.clone().json()) as { refresh_token: string };
          if (body.refresh_token !== 'R2' || !tokens.live.has('R2')) return undefined;
          tokens.live.delete('R2');
          tokens.live.add('R3');
          tokens.issued = 3;
          await oauthTokenFile(file, 'R1').write({ refreshToken: 'R3', accessToken: 'A3', expiresAt: Date.now() - 1 });
          presented.push('R2');
          return HttpResponse.json({ error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }, { status: 403 });
        },
        { once: true },
      ),
    );

    await service.provider.refresh?.();
    expect(await service.provider.header()).toBe('Bearer A4');
    expect(presented).toEqual(['R1', 'R2', 'R3']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ refreshToken: 'R4' });
  });

  it('two holders due at the same moment spend the refresh token once', async () => {
    const file = join(dir, 'oauth-concurrent.json');
    const one = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
    const other = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') });
    expect(await Promise.all([one.provider.header(), other.provider.header()])).toEqual(['Bearer A2', 'Bearer A2']);
    expect(presented).toEqual(['R1']);
  });

  it('names a token file it cannot use (a CLI run as another user), not a grant to authorize again', async () => {
    const notADirectory = join(dir, 'state-file');
    writeFileSync(notADirectory, '');
    const auth = createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(join(notADirectory, 'oauth-jsm-oauth.json'), 'R1') });
    const err = await auth.provider.header().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({ code: 'CG_OAUTH_TOKEN_FAILED', details: { file: join(notADirectory, 'oauth-jsm-oauth.json') } });
    expect(err?.message).not.toContain('authorize the app again');
    expect(presented).toEqual([]);
  });
});
