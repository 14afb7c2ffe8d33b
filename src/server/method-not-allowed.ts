// A known path asked with a method it does not take gets 405 and an Allow
// header (RFC 9110 §15.5.6), not a 404 that says the path does not exist.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { ChangegateError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { errorBody, statusFor } from './http-errors.ts';
import { escapeRegExp } from '../kit/escape-regexp.ts';

interface KnownRoute {
  method: string;
  url: string;
}

const PATTERNS = new Map<string, RegExp>();

function patternOf(url: string): RegExp {
  let pattern = PATTERNS.get(url);
  if (pattern === undefined) {
    const segments = url.split('/').map((s) => (s.startsWith(':') ? '[^/]+' : escapeRegExp(s)));
    pattern = new RegExp(`^${segments.join('/')}$`);
    PATTERNS.set(url, pattern);
  }
  return pattern;
}

/** The path as the router reads it: no scheme and host (absolute-form), no query, each segment percent-decoded. */
function pathOf(url: string): string | null {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split('?', 1)[0] ?? '';
  try {
    return path
      .split('/')
      .map((s) => decodeURIComponent(s).replaceAll('/', '%2F'))
      .join('/');
  } catch {
    return null;
  }
}

/** The methods the routes take on the path of `url`, in a stable order; empty when no route has that path. */
export function allowedMethods(routes: readonly KnownRoute[], url: string): string[] {
  const path = pathOf(url);
  if (path === null) return [];
  const methods = new Set<string>();
  for (const route of routes) if (patternOf(route.url).test(path)) methods.add(route.method);
  return [...methods].toSorted();
}

/** The answer to a request no route matched: 405 with Allow when the path exists, else 404. */
export function answerUnrouted(routes: readonly KnownRoute[], metrics: Metrics) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const allow = allowedMethods(routes, request.url);
    const path = request.url.split('?', 1)[0] ?? '';
    const error =
      allow.length > 0
        ? new ChangegateError('CG_METHOD_NOT_ALLOWED', `method ${request.method}: ${path} takes ${allow.join(', ')}`, { details: { field: 'method', where: 'method', allow } })
        : new ChangegateError('CG_NOT_FOUND', `no route ${request.method} ${request.url}`);
    metrics.httpErrors.inc({ code: error.code });
    if (allow.length > 0) void reply.header('allow', allow.join(', '));
    return reply.status(statusFor(error)).send(errorBody(error));
  };
}
