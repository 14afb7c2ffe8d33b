// One pino logger. Secrets never reach a log: every path that can carry a
// credential is redacted here, whatever module logs it.

import { pino, stdSerializers, type Logger } from 'pino';
import { isChangegateError } from './errors.ts';

export const REDACT_PATHS = [
  'password',
  'clientSecret',
  'apiToken',
  'apiTokens',
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'client_secret',
  'webhookSecret',
  'secret',
  'secrets',
  'pem',
  'authorization',
  'Authorization',
  '*.password',
  '*.clientSecret',
  '*.apiToken',
  '*.apiTokens',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.webhookSecret',
  '*.secret',
  '*.secrets',
  '*.pem',
  'evidence.signingKey.pem',
  'config.evidence.signingKey.pem',
  'events.sources[*].secrets',
  'events.sources[*].pull.token',
  'events.prometheus.token',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.cookie',
  'config.auth',
  'instance.auth',
  'auth.password',
  'auth.clientSecret',
  'auth.apiToken',
  'auth.token',
  // A whole configuration logged by mistake, bare or under `config`.
  'uri',
  'store.uri',
  'config.store.uri',
  'instances[*].auth',
  'config.instances[*].auth',
  'server.apiTokens',
  'config.server.apiTokens',
  'config.events.sources[*].secrets',
  'config.events.sources[*].pull.token',
  'config.events.prometheus.token',
  'events.sources[*].artifacts.token',
  'config.events.sources[*].artifacts.token',
  // A request's credentials: the bearer token, the header an event source may send its secret in, GitLab's token.
  'headers["x-changegate-token"]',
  'headers["x-gitlab-token"]',
  '*.headers.authorization',
  '*.headers["x-changegate-token"]',
  '*.headers["x-gitlab-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
];

export type { Logger };

/**
 * An expected failure (bad credentials, a refused record, an unreachable site) is
 * logged with its code, kind and details but no stack: the stack of a known
 * condition says nothing the code does not, and on a terminal it buries the line.
 * Internal errors and foreign exceptions keep theirs.
 */
function serializeError(err: unknown): unknown {
  if (isChangegateError(err) && err.kind !== 'internal') {
    return { type: err.name, code: err.code, kind: err.kind, message: err.message, ...(Object.keys(err.details).length > 0 ? { details: err.details } : {}) };
  }
  return err instanceof Error ? stdSerializers.err(err) : err;
}

/**
 * A child logger's bindings (`instance` for a connector's) are written once: a
 * log call that repeats a bound key with the same value would otherwise print it
 * twice in one JSON line.
 */
function withoutBoundKeys(this: Logger, args: unknown[], method: (...a: unknown[]) => void): void {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !(first instanceof Error) && args.length > 1) {
    const bound = this.bindings();
    const repeated = Object.keys(first).filter((k) => k in bound && bound[k] === (first as Record<string, unknown>)[k]);
    if (repeated.length > 0) {
      const rest = { ...(first as Record<string, unknown>) };
      for (const k of repeated) delete rest[k];
      method.apply(this, [rest, ...args.slice(1)]);
      return;
    }
  }
  method.apply(this, args);
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    base: { service: 'changegate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
    hooks: { logMethod: withoutBoundKeys },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
