// One Jira OAuth 2.0 grant, two holders: the service and `changegate mappings
// validate --instance`. Atlassian rotates the refresh token on every refresh and
// kills the one sent, so whichever runs second must pick up what the first left
// in the token file, in either order, or the operator is told to authorize again
// when nothing was wrong.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpResponse, type HttpResponseResolver } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { jira } from '../../connectors/jira/index.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { registry } from '../../src/app/registry.ts';
import { validateLiveMapping } from '../../src/cli/validate-live-mapping-command.ts';
import { atlassianTokenEndpoint } from '../support/atlassian-token-endpoint.ts';
import { gatewayHandlers } from '../support/jira-oauth-gateway.ts';

const HOUR = 3_600_000;

/** Atlassian: each refresh token works once and is replaced; the gateway takes any access token it issued. */
const tokens = atlassianTokenEndpoint();
const presented = tokens.presented;

function signedIn(resolver: HttpResponseResolver): HttpResponseResolver {
  return (info) => (tokens.accessTokens.has((info.request.headers.get('authorization') ?? '').replace(/^Bearer /, '')) ? resolver(info) : HttpResponse.json({ code: 401, message: 'Unauthorized' }, { status: 401 }));
}

const server = setupServer(
  tokens.handler,
  ...gatewayHandlers(signedIn),
);

const logger = pino({ level: 'silent' });
let dir: string;
const config = { id: 'jsm-oauth', system: 'jira', baseUrl: 'https://acme.atlassian.net', projects: ['ITSM'] };
const auth = { kind: 'oauth2', clientId: 'client', clientSecret: 'secret', refreshToken: 'R1', cloudId: 'cloud-1' };
const instance = JiraInstance.parse({ ...config, auth });
const firstPage = { stream: 'changes', after: null, offset: 0, pageSize: 10 } as const;

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cg-oauth-holders-'));
  // Only Date: the access tokens' expiry is what is moved, the HTTP client's timers stay real.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.parse('2026-03-12T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
  tokens.reset();
});
afterAll(() => server.close());

describe('the service and `mappings validate --instance` share one OAuth 2.0 grant', () => {
  it('the service still signs in after the operator ran `mappings validate --instance` first', async () => {
    const context = { logger, onRequest: () => {}, stateDir: dir };
    await jira.capabilities?.checkLiveMapping?.(instance, context); // CLI path: R1 -> R2
    const connector = jira.open(instance, context); // service, same config + stateDir
    const page = connector.readPage({ stream: 'changes', after: null, offset: 0, pageSize: 10 });
    await expect(page).resolves.toMatchObject({ items: [] });
  });

  it('a running service keeps reading after `mappings validate --instance` refreshed the grant under it', async () => {
    const context = { logger, onRequest: () => {}, stateDir: dir };
    const service = jira.open(instance, context);
    await expect(service.readPage(firstPage)).resolves.toMatchObject({ items: [] }); // R1 -> R2

    vi.setSystemTime(Date.now() + HOUR); // A2 has expired: the CLI must refresh, from the file's R2
    await expect(jira.capabilities?.checkLiveMapping?.(instance, context)).resolves.toMatchObject({ problems: [] });
    expect(presented).toEqual(['R1', 'R2']);

    vi.setSystemTime(Date.now() + HOUR); // and so has the service's: it must not present the R2 the CLI spent
    await expect(service.readPage(firstPage)).resolves.toMatchObject({ items: [] });
    expect(presented).toEqual(['R1', 'R2', 'R3']);
  });

  it('`changegate mappings validate --instance` keeps the rotated token beside the store, where the service finds it', async () => {
    const file = join(dir, 'changegate.yaml');
    writeFileSync(
      file,
      `store: { kind: sqlite, path: ${join(dir, 'data', 'changegate.db')} }\ninstances:\n  - { id: jsm-oauth, system: jira, baseUrl: "${config.baseUrl}", projects: [ITSM], auth: { kind: oauth2, clientId: client, clientSecret: secret, refreshToken: R1, cloudId: cloud-1 } }\n`,
    );
    let printed = '';
    const code = await validateLiveMapping(registry, 'jsm-oauth', file, { write: (text: string) => (printed += text) });
    expect(printed).toMatch(/^ok /);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'data', 'oauth-jsm-oauth.json'), 'utf8'))).toMatchObject({ refreshToken: 'R2' });

    const service = jira.open(instance, { logger, onRequest: () => {}, stateDir: join(dir, 'data') });
    await expect(service.readPage(firstPage)).resolves.toMatchObject({ items: [] });
  });
});
