// Keeps an OAuth 2.0 (3LO) instance's rotated refresh token across restarts and
// shares it between the processes holding the grant (serve, sync, `mappings
// validate --instance`). Atlassian rotates the refresh token on every refresh
// and invalidates the one sent, so the value in changegate.yaml is spent after
// the first refresh. The rotated tokens go to a file beside the store (mode
// 0600, written atomically); they are used only while the configured refresh
// token is the one they grew from: an operator who re-authorizes and puts a new
// token in the config wins.
//
// It is the OAuthTokenStore (src/kit/oauth-token-store.ts) of an embedded
// store, whose processes share one host (or one directory). A store shared by
// replicas keeps the tokens itself (the MongoDB store does).
//
// A refresh runs under the file's lock (`<file>.lock`, created exclusively), so
// two holders never present the same refresh token: the second finds the first
// one's tokens in the file. A lock whose process is gone is taken over at once;
// one older than LOCK_STALE_MS (a holder on another host that died, one paused
// far past its token request's deadline) is taken over too. A holder's token
// request gives up well inside that window (jira-auth.ts), and it saves what it
// got only if the file still holds the refresh token it spent (`replace`), so
// one whose lock was taken over never writes over the tokens saved since.

import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OAUTH_REFRESH_WINDOW_MS, type OAuthTokens, type OAuthTokenStore } from '../../src/kit/oauth-token-store.ts';

interface TokenFileBody extends OAuthTokens {
  /** sha256 of the configured refresh token these tokens descend from (never the token itself). */
  configured: string;
  rotatedAt: string;
}

const fingerprint = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface OAuthTokenFile extends OAuthTokenStore {
  path: string;
  /** Saves `tokens` unconditionally (tests and tools; holders use `replace`). */
  write(tokens: OAuthTokens): Promise<void>;
}

/** A refresh is one or two HTTPS round trips, each with a deadline well inside this; a lock held longer is taken over. */
export const LOCK_STALE_MS = OAUTH_REFRESH_WINDOW_MS;
const LOCK_POLL_MS = 50;

interface LockOwner {
  /** Random per acquisition: a pid reused by a later process (pid 1 in every container) is still another holder. */
  id: string;
  host: string;
  pid: number;
}

/** Locks this process holds now, by id. */
const heldHere = new Set<string>();

/** Signal 0 checks without signalling; EPERM means the pid runs under another user. */
function pidIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const isCode = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | null)?.code === code;

/** The lock's holder; null when there is no lock, or its holder is still writing its name. */
function ownerOf(lockPath: string): LockOwner | null {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.id === 'string' && typeof owner.host === 'string' && typeof owner.pid === 'number' ? { id: owner.id, host: owner.host, pid: owner.pid } : null;
  } catch {
    // Created but not written yet (the name follows the exclusive create).
    return null;
  }
}

function isStale(lockPath: string): boolean {
  let age: number;
  try {
    age = Date.now() - statSync(lockPath).mtimeMs;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw err;
  }
  if (age > LOCK_STALE_MS) return true;
  const owner = ownerOf(lockPath);
  // Another host's pids cannot be asked about: its lock waits for its age.
  if (owner === null || owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return !heldHere.has(owner.id);
  return !pidIsRunning(owner.pid);
}

async function acquire(lockPath: string): Promise<string> {
  mkdirSync(dirname(lockPath), { recursive: true });
  const owner: LockOwner = { id: randomUUID(), host: hostname(), pid: process.pid };
  for (;;) {
    try {
      writeFileSync(lockPath, JSON.stringify({ ...owner, at: new Date().toISOString() }), { flag: 'wx', mode: 0o600 });
      heldHere.add(owner.id);
      return owner.id;
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
    }
    if (isStale(lockPath)) rmSync(lockPath, { force: true });
    else await sleep(LOCK_POLL_MS);
  }
}

function release(lockPath: string, id: string): void {
  heldHere.delete(id);
  // Taken over as stale meanwhile: the lock is someone else's now.
  if (ownerOf(lockPath)?.id === id) rmSync(lockPath, { force: true });
}

export function oauthTokenFile(path: string, configuredRefreshToken: string): OAuthTokenFile {
  const configured = fingerprint(configuredRefreshToken);
  const lockPath = `${path}.lock`;
  const read = (): OAuthTokens | null => {
    if (!existsSync(path)) return null;
    const body = JSON.parse(readFileSync(path, 'utf8')) as Partial<TokenFileBody>;
    if (body.configured !== configured || typeof body.refreshToken !== 'string') return null;
    return {
      refreshToken: body.refreshToken,
      ...(typeof body.accessToken === 'string' ? { accessToken: body.accessToken } : {}),
      ...(typeof body.expiresAt === 'number' ? { expiresAt: body.expiresAt } : {}),
    };
  };
  const write = (tokens: OAuthTokens): void => {
    mkdirSync(dirname(path), { recursive: true });
    const body: TokenFileBody = { ...tokens, configured, rotatedAt: new Date().toISOString() };
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  };
  return {
    path,
    where: `the token file ${path}`,
    details: { file: path },
    read: async () => read(),
    write: async (tokens) => write(tokens),
    async replace(spent, tokens) {
      // Under the lock this is the holder's own file; the check is for a holder whose lock was taken over.
      const current = read()?.refreshToken ?? configuredRefreshToken;
      if (current !== spent) return false;
      write(tokens);
      return true;
    },
    async locked(fn) {
      const id = await acquire(lockPath);
      try {
        return await fn();
      } finally {
        release(lockPath, id);
      }
    },
  };
}
