// Jira credentials as an AuthProvider for the shared HTTP client:
//   basic   Cloud email + API token (`Basic base64(email:token)`)
//   oauth2  Cloud OAuth 2.0 (3LO): refresh before expiry and after a 401
//           (single-flight in the process, under the token store's lock
//           across processes and replicas, each token request with a
//           deadline well inside the lock's window), requests routed through
//           the gateway `https://api.atlassian.com/ex/jira/{cloudId}`
//   pat     Data Center personal access token (`Bearer <token>`)

import { isOAuthError } from 'jira.js/core';
import { refreshAtlassianToken, TokenRequestTimedOut } from './atlassian-token.ts';
import type { JiraInstance } from './jira-config.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import type { AuthProvider } from '../../src/http/http-client.ts';
import type { Logger } from '../../src/kit/logger.ts';
import { OAUTH_REFRESH_WINDOW_MS, type OAuthTokens, type OAuthTokenStore } from '../../src/kit/oauth-token-store.ts';

export const OAUTH_GATEWAY = 'https://api.atlassian.com/ex/jira';

export interface JiraAuthSetup {
  provider: AuthProvider;
  /** Where REST calls go: the site itself, or the OAuth gateway for the site's cloud id. */
  apiBaseUrl: string;
}

export type JiraAuthInstance = Pick<JiraInstance, 'id' | 'baseUrl' | 'auth'>;

/**
 * How long one token request may take. A refresh under the token store's lock makes at most two (the retry after an
 * invalid_grant), so a holder stuck on the endpoint gives up, and lets go of the lock, in half the lock's window:
 * another holder never takes the lock over from one whose request may still reach Atlassian with the same token.
 */
export const TOKEN_REQUEST_TIMEOUT_MS = OAUTH_REFRESH_WINDOW_MS / 4;

function tokenFailed(instanceId: string, err: unknown, store: OAuthTokenStore | undefined): ChangegateError {
  // The store's own (a shared store unreachable: CG_STORE_UNAVAILABLE), already in the vocabulary.
  if (isChangegateError(err)) return err;
  if (err instanceof TokenRequestTimedOut || (isOAuthError(err) && err.status === undefined)) {
    // No answer: nothing says the grant is bad. Whether the token sent was spent is unknown; the next refresh tells.
    return new ChangegateError('CG_UPSTREAM_UNAVAILABLE', `${instanceId}: Atlassian's OAuth 2.0 token endpoint did not answer (${err.message}); nothing was saved, the next request refreshes again`, {
      cause: err,
      details: { instance: instanceId, timeoutMs: TOKEN_REQUEST_TIMEOUT_MS },
    });
  }
  if (!isOAuthError(err) && store !== undefined) {
    // The token store or its lock (a file the user cannot write), not Atlassian: authorizing again would change nothing.
    const errno = (err as NodeJS.ErrnoException | null)?.code ?? null;
    return new ChangegateError(
      'CG_OAUTH_TOKEN_FAILED',
      `${instanceId}: cannot use ${store.where} of the OAuth 2.0 grant${errno ? ` (${errno})` : ''}; run changegate as the user the service runs as, with write access to its state directory`,
      { cause: err, details: { instance: instanceId, ...store.details, errno } },
    );
  }
  const status = isOAuthError(err) ? (err.status ?? null) : null;
  const code = isOAuthError(err) ? (err.error ?? null) : null;
  return new ChangegateError(
    'CG_OAUTH_TOKEN_FAILED',
    `${instanceId}: Atlassian refused the OAuth 2.0 refresh${code ? ` (${code})` : ''}; authorize the app again and update auth.refreshToken`,
    { cause: err, details: { instance: instanceId, status, error: code } },
  );
}

/** Refresh this long before expiry (as jira.js's OAuth2Manager does): clock skew and a request in flight. */
const EXPIRY_SKEW_MS = 60_000;

type OAuth2Auth = Extract<JiraInstance['auth'], { kind: 'oauth2' }>;
type Usable = OAuthTokens & { accessToken: string };

/** Tokens to send now: an access token not refused by a 401 and not (nearly) expired; one without an expiry is used until refused. */
function usable(tokens: OAuthTokens, refused?: string): tokens is Usable {
  return tokens.accessToken !== undefined && tokens.accessToken !== refused && (tokens.expiresAt === undefined || Date.now() < tokens.expiresAt - EXPIRY_SKEW_MS);
}

/**
 * Atlassian rotates the refresh token on every refresh and kills the one sent. Every holder of the grant (serve and
 * its replicas, sync, `mappings validate --instance`) keeps the rotated tokens in one token store (a file beside an
 * embedded store, a document in a shared one) and refreshes under its lock, starting from what the store holds: the
 * newest tokens, whoever rotated them. Without a store (a bare connector), the tokens live in this process only.
 */
function oauth2Provider(instanceId: string, auth: OAuth2Auth, deps: { logger: Logger; tokenStore?: OAuthTokenStore }): AuthProvider {
  const { logger, tokenStore } = deps;
  let held: OAuthTokens = { refreshToken: auth.refreshToken, ...(auth.accessToken ? { accessToken: auth.accessToken } : {}) };
  // What the store holds is taken once before the first request (a restart resumes from it), then at each refresh.
  let adopted: Promise<void> | undefined;
  let renewing: Promise<string> | undefined;

  const adopt = (store: OAuthTokenStore): Promise<void> =>
    (adopted ??= store.read().then(
      (stored) => {
        if (stored !== null) held = stored;
      },
      (err: unknown) => {
        adopted = undefined;
        throw tokenFailed(instanceId, err, store);
      },
    ));

  const rotate = async (refreshToken: string): Promise<Usable> => {
    const answer = await refreshAtlassianToken({ clientId: auth.clientId, clientSecret: auth.clientSecret, refreshToken }, TOKEN_REQUEST_TIMEOUT_MS);
    return { refreshToken: answer.refreshToken ?? refreshToken, accessToken: answer.accessToken, expiresAt: Date.now() + answer.expiresInS * 1000 };
  };

  /** What the store holds when another holder rotated the grant since this one last looked (its own tokens are spent then). */
  const rotatedElsewhere = async (store: OAuthTokenStore): Promise<OAuthTokens | null> => {
    const latest = await store.read();
    return latest !== null && (latest.refreshToken !== held.refreshToken || latest.accessToken !== held.accessToken) ? latest : null;
  };

  const renewShared = (store: OAuthTokenStore, refused: string | undefined): Promise<string> =>
    store.locked(async () => {
      const where = { instance: instanceId, store: store.where };
      const newer = await rotatedElsewhere(store);
      if (newer !== null) {
        held = newer;
        logger.info(where, 'OAuth 2.0 tokens another holder of the grant rotated taken from the token store');
        if (usable(newer, refused)) return newer.accessToken;
      }
      let spent = held.refreshToken;
      let next: Usable;
      try {
        next = await rotate(spent);
      } catch (err) {
        // Spent by a holder outside the lock (an older changegate, or a lock taken over as stale): it saved the new ones.
        const raced = isOAuthError(err) && err.error === 'invalid_grant' ? await rotatedElsewhere(store) : null;
        if (raced === null) throw err;
        held = raced;
        logger.warn(where, 'OAuth 2.0 refresh token was spent by another holder of the grant; retrying once with the one it saved');
        if (usable(raced, refused)) return raced.accessToken;
        spent = raced.refreshToken;
        next = await rotate(spent);
      }
      if (!(await store.replace(spent, next))) {
        // Another holder saved tokens since this one read them (it took the lock over): those stay, never these over them.
        const saved = await store.read();
        logger.warn(where, "OAuth 2.0 tokens another holder saved during this refresh kept; this refresh's not saved");
        held = saved ?? next;
        return usable(held, refused) ? held.accessToken : next.accessToken;
      }
      held = next;
      logger.info(where, 'OAuth 2.0 refresh token rotated and saved');
      return next.accessToken;
    });

  const renewAlone = async (): Promise<string> => {
    const next = await rotate(held.refreshToken);
    held = next;
    logger.warn({ instance: instanceId }, 'OAuth 2.0 refresh token rotated; the configured refreshToken is now spent and the new one is held in memory only');
    return next.accessToken;
  };

  /** One renewal at a time in this process; callers arriving meanwhile share its outcome. */
  const renew = (refused?: string): Promise<string> => {
    renewing ??= (tokenStore ? renewShared(tokenStore, refused) : renewAlone()).finally(() => {
      renewing = undefined;
    });
    return renewing.catch((err: unknown) => {
      throw tokenFailed(instanceId, err, tokenStore);
    });
  };

  return {
    async header() {
      if (tokenStore !== undefined) await adopt(tokenStore);
      return `Bearer ${usable(held) ? held.accessToken : await renew()}`;
    },
    async refresh() {
      if (tokenStore !== undefined) await adopt(tokenStore);
      await renew(held.accessToken);
    },
  };
}

export function createJiraAuth(instance: JiraAuthInstance, deps: { logger: Logger; tokenStore?: OAuthTokenStore }): JiraAuthSetup {
  const auth = instance.auth;
  if (auth.kind === 'basic') {
    const header = `Basic ${Buffer.from(`${auth.email}:${auth.apiToken}`, 'utf8').toString('base64')}`;
    // An API token has nothing to renew; the client's one retry after a 401 also rides out an edge hiccup.
    return { provider: { header: async () => header }, apiBaseUrl: instance.baseUrl };
  }
  if (auth.kind === 'pat') {
    const header = `Bearer ${auth.token}`;
    return { provider: { header: async () => header }, apiBaseUrl: instance.baseUrl };
  }
  return { apiBaseUrl: `${OAUTH_GATEWAY}/${encodeURIComponent(auth.cloudId)}`, provider: oauth2Provider(instance.id, auth, deps) };
}
