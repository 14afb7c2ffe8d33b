// Bearer tokens for the API a plugin or an operator calls (`/v1/validate`,
// `/v1/changes…`). Webhooks are not covered: each carries its own signature
// over the raw body. Health, readiness and metrics stay open for probes and
// scrapers. Several tokens may be configured at once, so one can be rotated
// while the other still works.
//
// The decision is made on the route the router matched, never on the request's
// URL text: the router decodes percent-escapes (`/%761/changes` is
// `/v1/changes`) and drops the scheme and host of an absolute-form target
// (`GET http://x/v1/changes`), so a pattern over `request.url` can be walked
// around. Every route is protected unless it declares `config.access: 'public'`,
// so a route added later is protected by default.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ChangegateError } from '../errors.ts';

/** Route-level declaration: `public` routes (probes, metrics, signed webhooks) need no token. */
export type RouteAccess = 'public' | 'token';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; absent means `token` (protected). */
    access?: RouteAccess;
  }
}

/** Digests of equal length, so the comparison takes the same time whatever the token's length. */
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The access the matched route declares; an unmatched request (404) reveals nothing and is answered as such. */
export function accessOf(request: FastifyRequest): RouteAccess {
  if (request.is404) return 'public';
  return request.routeOptions.config.access ?? 'token';
}

export function requireApiToken(app: FastifyInstance, tokens: readonly string[]): void {
  if (tokens.length === 0) return;
  const known = tokens.map(digest);
  // onRequest runs after routing: routeOptions are those of the route that will answer.
  app.addHook('onRequest', async (request, reply) => {
    if (accessOf(request) === 'public') return;
    const header = request.headers.authorization;
    const presented = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (presented !== undefined) {
      const offered = digest(presented);
      // Every configured token is compared, so the time taken does not tell which one nearly matched.
      let ok = false;
      for (const token of known) ok = timingSafeEqual(offered, token) || ok;
      if (ok) return;
    }
    void reply.header('www-authenticate', 'Bearer realm="changegate"');
    throw new ChangegateError(
      'CG_UNAUTHORIZED',
      header === undefined ? 'header authorization: missing; send Authorization: Bearer <token> (server.apiTokens)' : 'header authorization: not a valid changegate API token',
      { details: { field: 'authorization', where: 'header' } },
    );
  });
}
