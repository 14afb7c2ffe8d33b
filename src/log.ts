// One pino logger. Secrets never reach a log: every path that can carry a
// credential is redacted here, whatever module logs it.

import { pino, type Logger } from 'pino';

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
];

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    base: { service: 'changegate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
