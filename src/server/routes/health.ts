// Liveness, readiness and Prometheus metrics.

import type { FastifyInstance } from 'fastify';
import type { ChangeStore } from '../../store/change-store.ts';
import type { SyncEngine } from '../../sync/sync-engine.ts';
import type { Metrics } from '../../observability/metrics.ts';

export function registerHealthRoutes(app: FastifyInstance, deps: { store: ChangeStore; engine: SyncEngine; metrics: Metrics }): void {
  app.get('/healthz', { config: { access: 'public' } }, async () => ({ status: 'ok' }));

  // Ready when the store answers. A stale mirror does not make the process
  // unready: webhook receivers and the validate endpoint still work.
  app.get('/readyz', { config: { access: 'public' } }, async (_request, reply) => {
    try {
      const changes = await deps.store.countChanges();
      // Run state as the sync engine wrote it (src/observability/readiness.ts); read, never derived from metrics.
      const instances = deps.engine.readiness.instances();
      return { status: 'ready', store: { ok: true, changes }, instances };
    } catch (err) {
      return reply.status(503).send({ status: 'unready', store: { ok: false, error: String(err) } });
    }
  });

  app.get('/metrics', { config: { access: 'public' } }, async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
