// The HTTP client of a scheduled event pull (GitHub REST, Alertmanager,
// Prometheus): the one client and retry classifier every connector uses, a
// bearer token read from the config or a secret file, and refusals named in
// the event-pull vocabulary (CG_EVENT_PULL_REJECTED), never with the token.

import { readFileSync } from 'node:fs';
import { ChangegateError } from '../../errors.ts';
import { createHttpClient, retryPolicyFor, type HttpClient } from '../../http/http-client.ts';
import type { RetryPolicy } from '../../http/retry-classifier.ts';
import type { Logger } from '../../log.ts';

export interface PullHttpOptions {
  /** The source id, for errors and logs. */
  source: string;
  baseUrl: string;
  timeoutMs: number;
  token?: string | undefined;
  tokenFile?: string | undefined;
  logger: Logger;
  /** Extra request headers (GitHub's Accept and API version). */
  headers?: Record<string, string>;
  retry?: Partial<RetryPolicy>;
}

/** The token as configured, or read from its file (trailing newline dropped); undefined when neither is set. */
export function pullToken(source: string, token: string | undefined, tokenFile: string | undefined): string | undefined {
  if (token !== undefined) return token;
  if (tokenFile === undefined) return undefined;
  try {
    const text = readFileSync(tokenFile, 'utf8').trim();
    if (text === '') throw new Error('the file is empty');
    return text;
  } catch (err) {
    throw new ChangegateError('CG_CONFIG_INVALID', `events source ${source}: pull.tokenFile ${tokenFile} cannot be read: ${(err as Error).message}`, {
      cause: err,
      details: { source, path: 'pull.tokenFile', file: tokenFile },
    });
  }
}

/** What the remote said, briefly: GitHub's and Prometheus's `message`/`error`, else the status. */
function said(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    const text = b['message'] ?? b['error'];
    if (typeof text === 'string' && text !== '') return `: ${text.slice(0, 200)}`;
  }
  return '';
}

export function createPullHttp(options: PullHttpOptions): HttpClient {
  const token = pullToken(options.source, options.token, options.tokenFile);
  const client = createHttpClient({
    baseURL: options.baseUrl.replace(/\/+$/, ''),
    timeoutMs: options.timeoutMs,
    retry: retryPolicyFor(3, options.retry ?? {}),
    instanceId: options.source,
    logger: options.logger,
    ...(token === undefined ? {} : { auth: { header: async () => `Bearer ${token}` } }),
    errorFor: (status, body, url) =>
      status >= 500
        ? new ChangegateError('CG_EVENT_PULL_BAD_RESPONSE', `${options.source}: GET ${url} answered ${status}${said(body)}`, { details: { source: options.source, url, status } })
        : new ChangegateError('CG_EVENT_PULL_REJECTED', `${options.source}: GET ${url} answered ${status}${said(body)}`, { details: { source: options.source, url, status } }),
  });
  const headers = options.headers ?? {};
  return { request: (req) => client.request({ ...req, headers: { ...headers, ...req.headers } }) };
}

export function badResponse(source: string, url: string, what: string): ChangegateError {
  return new ChangegateError('CG_EVENT_PULL_BAD_RESPONSE', `${source}: GET ${url}: ${what}`, { details: { source, url } });
}
