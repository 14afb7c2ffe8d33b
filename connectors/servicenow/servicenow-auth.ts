// ServiceNow credentials as an AuthProvider: basic, or OAuth 2.0 against
// `<baseUrl>/oauth_token.do` (client_credentials or password grant). The token
// is cached until shortly before `expires_in`, renewed with the refresh token
// when there is one, and renewed on demand after a 401.

import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import { createHttpClient, retryPolicyFor, type AuthProvider, type HttpClient, type RequestInfo } from '../../src/http/http-client.ts';
import type { ServiceNowInstance } from './servicenow-config.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { RetryPolicy } from '../../src/http/retry-classifier.ts';

export const TOKEN_PATH = '/oauth_token.do';
/** Renew this long before expiry, so a token never expires in flight. */
const EXPIRY_MARGIN_MS = 60_000;
/** ServiceNow's default access-token lifespan, used when `expires_in` is absent. */
const DEFAULT_LIFETIME_S = 1800;

export type ServiceNowAuthInstance = Pick<ServiceNowInstance, 'id' | 'baseUrl' | 'auth' | 'timeout' | 'retries' | 'maxRequestsPerSecond'>;

export interface ServiceNowAuthDeps {
  logger: Logger;
  onRequest?: (info: RequestInfo) => void;
  retry?: Partial<RetryPolicy>;
  /** Epoch ms; injectable for expiry tests. */
  now?: () => number;
}

interface Token {
  accessToken: string;
  refreshToken: string | null;
  /** Epoch ms after which the token is renewed before use. */
  renewAt: number;
}

type Grant = 'client_credentials' | 'password' | 'refresh_token';

export function createServiceNowAuth(instance: ServiceNowAuthInstance, deps: ServiceNowAuthDeps): AuthProvider {
  const configured = instance.auth;
  if (configured.kind === 'basic') {
    const header = `Basic ${Buffer.from(`${configured.username}:${configured.password}`, 'utf8').toString('base64')}`;
    // Nothing to renew (no refresh): the HTTP client tries once more after a 401, which rides out a stale session node.
    return { header: async () => header };
  }

  const auth = configured;
  const now = deps.now ?? Date.now;
  const logger = deps.logger;
  const client: HttpClient = createHttpClient({
    baseURL: instance.baseUrl,
    timeoutMs: instance.timeout,
    retry: retryPolicyFor(instance.retries, deps.retry),
    instanceId: instance.id,
    logger,
    maxRequestsPerSecond: instance.maxRequestsPerSecond,
    errorFor: (status, body, url) => tokenError(instance.id, status, body, url),
    ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
  });

  let token: Token | null = null;
  let pending: Promise<Token> | null = null;

  async function requestToken(grant: Grant, refreshToken: string | null): Promise<Token> {
    const form: Record<string, string> = { grant_type: grant, client_id: auth.clientId, client_secret: auth.clientSecret };
    if (grant === 'refresh_token' && refreshToken !== null) form['refresh_token'] = refreshToken;
    if (grant === 'password' && auth.grant === 'password') {
      form['username'] = auth.username;
      form['password'] = auth.password;
    }
    if (grant !== 'refresh_token' && auth.scope !== undefined) form['scope'] = auth.scope;
    const res = await client.request({ method: 'POST', path: TOKEN_PATH, form });
    const body = res.data as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown } | undefined;
    if (typeof body?.access_token !== 'string' || body.access_token === '') {
      throw new ChangegateError('CG_OAUTH_TOKEN_FAILED', `${instance.id}: ${TOKEN_PATH} answered ${res.status} without an access_token (is baseUrl the instance URL?)`, {
        details: { instance: instance.id, url: TOKEN_PATH, status: res.status, grant },
      });
    }
    const lifetimeS = Number(body.expires_in);
    const lifetimeMs = (Number.isFinite(lifetimeS) && lifetimeS > 0 ? lifetimeS : DEFAULT_LIFETIME_S) * 1000;
    const margin = Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 10);
    logger.debug({ instance: instance.id, grant, expiresInS: lifetimeMs / 1000 }, 'obtained OAuth access token');
    return {
      accessToken: body.access_token,
      // ServiceNow may omit a new refresh token on a refresh grant; the old one stays valid then.
      refreshToken: typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : refreshToken,
      renewAt: now() + lifetimeMs - margin,
    };
  }

  async function renew(previous: Token | null): Promise<Token> {
    if (previous?.refreshToken) {
      try {
        return await requestToken('refresh_token', previous.refreshToken);
      } catch (err) {
        if (!isChangegateError(err, 'CG_OAUTH_TOKEN_FAILED')) throw err;
        logger.info({ instance: instance.id }, 'refresh token refused; requesting a new grant');
      }
    }
    return requestToken(auth.grant, null);
  }

  function obtain(): Promise<Token> {
    // One token request at a time, however many calls are waiting for it.
    pending ??= renew(token).then(
      (fresh) => {
        token = fresh;
        pending = null;
        return fresh;
      },
      (err: unknown) => {
        pending = null;
        throw err;
      },
    );
    return pending;
  }

  return {
    async header() {
      const current = token !== null && now() < token.renewAt ? token : await obtain();
      return `Bearer ${current.accessToken}`;
    },
    async refresh() {
      if (token !== null) token = { ...token, renewAt: 0 };
      await obtain();
    },
  };
}

function tokenError(instanceId: string, status: number, body: unknown, url: string): ChangegateError {
  const oauth = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; error_description?: unknown };
  const error = typeof oauth.error === 'string' ? oauth.error : null;
  const description = typeof oauth.error_description === 'string' ? oauth.error_description : null;
  if (status >= 500) {
    return new ChangegateError('CG_SN_BAD_RESPONSE', `${instanceId}: ${url} answered ${status}`, { details: { instance: instanceId, url, status, error, description } });
  }
  const said = [error, description].filter((v) => v !== null).join(': ');
  return new ChangegateError(
    'CG_OAUTH_TOKEN_FAILED',
    `${instanceId}: ServiceNow refused the OAuth token request at ${url} (HTTP ${status}${said ? `, ${said}` : ''}); check clientId, clientSecret and the grant's user`,
    { details: { instance: instanceId, url, status, error, description } },
  );
}
