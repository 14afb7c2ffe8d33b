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
      const instances = await Promise.all(
        deps.engine.instanceIds().map(async (id) => {
          const last = (await deps.metrics.lastSuccess.get()).values.find((v) => v.labels['instance'] === id);
          return { id, syncing: deps.engine.isRunning(id), lastSuccessAt: last ? new Date(last.value * 1000).toISOString() : null };
        }),
      );
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
