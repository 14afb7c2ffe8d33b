// The token file's lock: one holder of an OAuth 2.0 grant refreshes at a time,
// across processes, and a lock its holder can no longer release is taken over.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { oauthTokenFile } from '../../connectors/jira/oauth-token-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-oauth-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that ran and exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid;

function leftLock(path: string, owner: { pid: number; host?: string; id?: string }): void {
  writeFileSync(`${path}.lock`, JSON.stringify({ id: owner.id ?? 'an-earlier-holder', host: owner.host ?? hostname(), pid: owner.pid, at: new Date().toISOString() }));
}

describe('the OAuth token file lock', () => {
  it('lets one holder at a time in; the next waits for the first to finish', async () => {
    const path = join(dir, 'oauth-turns.json');
    const events: string[] = [];
    const turn = (name: string) => async () => {
      events.push(`${name} in`);
      await sleep(100);
      events.push(`${name} out`);
    };
    await Promise.all([oauthTokenFile(path, 'R1').locked(turn('service')), oauthTokenFile(path, 'R1').locked(turn('cli'))]);
    expect(events).toEqual(['service in', 'service out', 'cli in', 'cli out']);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('takes over at once a lock whose process is gone, or that this pid left in an earlier life (pid 1 in a container)', async () => {
    const path = join(dir, 'oauth-crashed.json');
    for (const pid of [deadPid(), process.pid]) {
      leftLock(path, { pid });
      const started = Date.now();
      expect(await oauthTokenFile(path, 'R1').locked(async () => 'ran')).toBe('ran');
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it('waits for a live holder, until its lock is older than a refresh could take', async () => {
    const path = join(dir, 'oauth-hung.json');
    leftLock(path, { pid: process.ppid });
    let ran = false;
    const waiting = oauthTokenFile(path, 'R1').locked(async () => {
      ran = true;
    });
    await sleep(300);
    expect(ran).toBe(false);
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    utimesSync(`${path}.lock`, tenMinutesAgo, tenMinutesAgo);
    await waiting;
    expect(ran).toBe(true);
  });
});

describe('saving rotated tokens', () => {
  it('saves only over the refresh token that was spent (the configured one while the file holds none), never over newer ones', async () => {
    const file = oauthTokenFile(join(dir, 'oauth-replace.json'), 'R1');
    expect(await file.replace('R0', { refreshToken: 'R2' })).toBe(false);
    expect(await file.read()).toBeNull();
    expect(await file.replace('R1', { refreshToken: 'R2', accessToken: 'A2' })).toBe(true);
    // A holder that spent R1 too, answered late: R2 stays.
    expect(await file.replace('R1', { refreshToken: 'R9', accessToken: 'A9' })).toBe(false);
    expect(await file.read()).toEqual({ refreshToken: 'R2', accessToken: 'A2' });
    expect(await file.replace('R2', { refreshToken: 'R3' })).toBe(true);
    expect(await file.read()).toEqual({ refreshToken: 'R3' });
  });
});
