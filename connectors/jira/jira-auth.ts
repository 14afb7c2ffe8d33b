// Jira credentials as an AuthProvider for the shared HTTP client:
//   basic   Cloud email + API token (`Basic base64(email:token)`)
//   oauth2  Cloud OAuth 2.0 (3LO) through jira.js's OAuth2Manager: refresh before
//           expiry and after a 401 (single-flight), requests routed through the
//           gateway `https://api.atlassian.com/ex/jira/{cloudId}`
//   pat     Data Center personal access token (`Bearer <token>`)

import { createOAuth2Manager, isOAuthError, type OAuth2Manager } from 'jira.js/core';
import type { JiraInstance } from './jira-config.ts';
import { ChangegateError } from '../../src/errors.ts';
import type { AuthProvider } from '../../src/http/http-client.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { OAuthTokenFile } from './oauth-token-file.ts';

export const OAUTH_GATEWAY = 'https://api.atlassian.com/ex/jira';

export interface JiraAuthSetup {
  provider: AuthProvider;
  /** Where REST calls go: the site itself, or the OAuth gateway for the site's cloud id. */
  apiBaseUrl: string;
}

export type JiraAuthInstance = Pick<JiraInstance, 'id' | 'baseUrl' | 'auth'>;

function tokenFailed(instanceId: string, err: unknown): ChangegateError {
  const status = isOAuthError(err) ? (err.status ?? null) : null;
  const code = isOAuthError(err) ? (err.error ?? null) : null;
  return new ChangegateError(
    'CG_OAUTH_TOKEN_FAILED',
    `${instanceId}: Atlassian refused the OAuth 2.0 refresh${code ? ` (${code})` : ''}; authorize the app again and update auth.refreshToken`,
    { cause: err, details: { instance: instanceId, status, error: code } },
  );
}

export function createJiraAuth(instance: JiraAuthInstance, deps: { logger: Logger; tokenFile?: OAuthTokenFile }): JiraAuthSetup {
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

  // Atlassian rotates the refresh token on every refresh and kills the old one, so the
  // rotated one is kept in the token file (when there is one) and preferred at start-up.
  const stored = deps.tokenFile?.read() ?? null;
  const tokens = stored ?? { refreshToken: auth.refreshToken, ...(auth.accessToken ? { accessToken: auth.accessToken } : {}) };
  const manager: OAuth2Manager = createOAuth2Manager({
    ...(tokens.accessToken ? { accessToken: tokens.accessToken } : {}),
    ...(stored?.expiresAt ? { expiresAt: stored.expiresAt } : {}),
    refreshToken: tokens.refreshToken,
    clientId: auth.clientId,
    clientSecret: auth.clientSecret,
    cloudId: auth.cloudId,
    onTokenRefresh: (event) => {
      if (!deps.tokenFile) {
        deps.logger.warn({ instance: instance.id }, 'OAuth 2.0 refresh token rotated; the configured refreshToken is now spent and the new one is held in memory only');
        return;
      }
      if (!event.refreshToken) return;
      deps.tokenFile.write({ refreshToken: event.refreshToken, accessToken: event.accessToken, expiresAt: event.expiresAt });
      deps.logger.info({ instance: instance.id, file: deps.tokenFile.path }, 'OAuth 2.0 refresh token rotated and saved');
    },
  });
  return {
    apiBaseUrl: `${OAUTH_GATEWAY}/${encodeURIComponent(auth.cloudId)}`,
    provider: {
      async header() {
        try {
          return await manager.getAuthorizationHeader();
        } catch (err) {
          throw tokenFailed(instance.id, err);
        }
      },
      async refresh() {
        try {
          await manager.forceRefresh();
        } catch (err) {
          throw tokenFailed(instance.id, err);
        }
      },
    },
  };
}
