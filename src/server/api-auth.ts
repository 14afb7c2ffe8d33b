// Bearer tokens for the API a plugin or an operator calls (`/v1/validate`,
// `/v1/changes…`). Webhooks are not covered: each carries its own signature
// over the raw body. Health, readiness and metrics stay open for probes and
// scrapers. Several tokens may be configured at once, so one can be rotated
// while the other still works.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ChangegateError } from '../errors.ts';

const PROTECTED = /^\/v1\/(?!webhooks\/)/;

/** Digests of equal length, so the comparison takes the same time whatever the token's length. */
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export function requireApiToken(app: FastifyInstance, tokens: readonly string[]): void {
  if (tokens.length === 0) return;
  const known = tokens.map(digest);
  app.addHook('onRequest', async (request, reply) => {
    if (!PROTECTED.test(request.url)) return;
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
