// Keeps an OAuth 2.0 (3LO) instance's rotated refresh token across restarts.
// Atlassian rotates the refresh token on every refresh and invalidates the one
// sent, so the value in changegate.yaml is spent after the first refresh. The
// rotated tokens go to a file beside the store (mode 0600, written atomically);
// they are used only while the configured refresh token is the one they grew
// from: an operator who re-authorizes and puts a new token in the config wins.

import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface StoredTokens {
  refreshToken: string;
  accessToken?: string;
  /** Epoch milliseconds. */
  expiresAt?: number;
}

interface TokenFileBody extends StoredTokens {
  /** sha256 of the configured refresh token these tokens descend from (never the token itself). */
  configured: string;
  rotatedAt: string;
}

const fingerprint = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface OAuthTokenFile {
  path: string;
  /** The newest tokens, or null when there are none for the configured refresh token. */
  read(): StoredTokens | null;
  write(tokens: StoredTokens): void;
}

export function oauthTokenFile(path: string, configuredRefreshToken: string): OAuthTokenFile {
  const configured = fingerprint(configuredRefreshToken);
  return {
    path,
    read() {
      if (!existsSync(path)) return null;
      const body = JSON.parse(readFileSync(path, 'utf8')) as Partial<TokenFileBody>;
      if (body.configured !== configured || typeof body.refreshToken !== 'string') return null;
      return {
        refreshToken: body.refreshToken,
        ...(typeof body.accessToken === 'string' ? { accessToken: body.accessToken } : {}),
        ...(typeof body.expiresAt === 'number' ? { expiresAt: body.expiresAt } : {}),
      };
    },
    write(tokens) {
      mkdirSync(dirname(path), { recursive: true });
      const body: TokenFileBody = { ...tokens, configured, rotatedAt: new Date().toISOString() };
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      chmodSync(temp, 0o600);
      renameSync(temp, path);
    },
  };
}
