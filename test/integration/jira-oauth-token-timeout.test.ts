// A holder of a Jira OAuth 2.0 grant stuck on Atlassian's token endpoint (a
// dead network path, a proxy holding the request) must give up well inside the
// token file's lock window (60 s). Otherwise another holder takes the lock over
// as stale and presents the same refresh token while the stuck request may
// still reach Atlassian: the grant is lost where Atlassian revokes a grant whose
// spent token comes back, and a late answer would overwrite the tokens saved
// since. Both cases of what Atlassian does with a reused token are played
// (reference: unverified), see atlassian-token-endpoint.ts.

import { mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createJiraAuth } from '../../connectors/jira/jira-auth.ts';
import { oauthTokenFile } from '../../connectors/jira/oauth-token-file.ts';
import { atlassianTokenEndpoint } from '../support/atlassian-token-endpoint.ts';

const tokens = atlassianTokenEndpoint();
const server = setupServer(tokens.handler);
const logger = pino({ level: 'silent' });
const instance = {
  id: 'jsm-oauth',
  baseUrl: 'https://acme.atlassian.net',
  auth: { kind: 'oauth2' as const, clientId: 'client', clientSecret: 'secret', refreshToken: 'R1', cloudId: 'cloud-1' },
};
/** Just past the token file's lock window: a lock this old is taken over. */
const PAST_LOCK_WINDOW_MS = 61_000;

let dir: string;
let file: string;
const holder = () => createJiraAuth(instance, { logger, tokenStore: oauthTokenFile(file, 'R1') }).provider;

/** The outcome of `promise` (its error, if it fails), and when it settled on the test's clock. */
function watch<T>(promise: Promise<T>): { settledAt: () => number | null; outcome: Promise<T | Error> } {
  let settledAt: number | null = null;
  const outcome = promise.then(
    (value) => value,
    (err: unknown) => err as Error,
  );
  void outcome.finally(() => (settledAt = Date.now()));
  return { settledAt: () => settledAt, outcome };
}

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cg-oauth-timeout-'));
  file = join(dir, 'oauth-jsm-oauth.json');
  // The clock the lock's age and the request's timeout are measured on; the lock file's mtime stays real.
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
  tokens.reset();
});
afterAll(() => server.close());

describe('a holder stuck on the OAuth 2.0 token endpoint', () => {
  it('gives up inside the lock window, so no other holder presents its refresh token meanwhile and the grant survives', async () => {
    tokens.reuse = 'revokes-grant';
    const stuck = tokens.stall('before');
    const started = Date.now();
    const service = watch(holder().header());
    await vi.advanceTimersByTimeAsync(PAST_LOCK_WINDOW_MS);

    const cli = holder();
    expect(await cli.header()).toBe('Bearer A2');
    // The stuck path clears: a request its client still waits for reaches Atlassian now, with R1 again.
    stuck.release();
    await stuck.done;
    await service.outcome;

    // The grant still works: the next refresh (after a 401) rotates R2.
    await cli.refresh?.();
    expect(await cli.header()).toBe('Bearer A3');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ refreshToken: 'R3' });
    expect(tokens.overlaps).toEqual([]);
    // The stuck holder failed as a transient upstream fault (not "authorize again"), well inside the window.
    expect(await service.outcome).toMatchObject({ code: 'CG_UPSTREAM_UNAVAILABLE' });
    expect((service.settledAt() ?? Infinity) - started).toBeLessThanOrEqual(30_000);
  });

  it('never writes an answer that arrives after it gave up over the tokens saved since', async () => {
    tokens.reuse = 'accepted';
    // Atlassian rotated R1 into R2 at once, but the answer is stuck on its way back.
    const stuck = tokens.stall('after');
    const service = watch(holder().header());
    await vi.advanceTimersByTimeAsync(PAST_LOCK_WINDOW_MS);

    // Meanwhile another holder rotated twice (R1 is still accepted: a reuse interval) and saved R4.
    const cli = holder();
    expect(await cli.header()).toBe('Bearer A3');
    await cli.refresh?.();
    expect(await cli.header()).toBe('Bearer A4');

    stuck.release();
    await stuck.done;
    await service.outcome;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ refreshToken: 'R4', accessToken: 'A4' });
    // And the holder that gave up uses what the file holds.
    expect(await holder().header()).toBe('Bearer A4');
  });

  it('whose lock was taken over (a paused process, a clock jump) keeps the tokens saved since rather than writing its own over them', async () => {
    tokens.reuse = 'accepted';
    const stuck = tokens.stall('after');
    const service = watch(holder().header());
    await vi.advanceTimersByTimeAsync(1_000);
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    utimesSync(`${file}.lock`, tenMinutesAgo, tenMinutesAgo);

    const cli = holder();
    expect(await cli.header()).toBe('Bearer A3');
    // The service's answer (R2, rotated first) arrives inside its deadline, after the other holder saved R3.
    stuck.release();
    await stuck.done;
    expect(await service.outcome).toBe('Bearer A3');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ refreshToken: 'R3', accessToken: 'A3' });
  });
});
