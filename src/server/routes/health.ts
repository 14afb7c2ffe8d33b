// Liveness, readiness and Prometheus metrics.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ChangegateError } from '../../errors.ts';
import type { ChangeStore } from '../../store/change-store.ts';
import type { SyncEngine } from '../../sync/sync-engine.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';

export const HealthRoute = defineRoute({
  method: 'GET',
  url: '/healthz',
  operationId: 'getHealth',
  summary: 'Liveness: the process answers',
  tags: ['probes'],
  access: 'public',
  answers: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
  errors: [],
});

/** One instance as /readyz reports it (src/observability/readiness.ts). */
const InstanceReadinessBody = z.looseObject({
  id: z.string(),
  syncing: z.boolean(),
  lastSuccessAt: z.string().nullable().describe('The last successful sync known (this process or, on a shared store, another replica); null when none is known.'),
  lastError: z.object({ code: z.string(), at: z.string() }).nullable().describe('The last run\'s failure, cleared by the next success.'),
  failedSinceSuccess: z.number().int().describe('Runs that failed in this process since its last success (or since it started).'),
  staleAfterMs: z.number().int().describe('How long the mirror may go without a successful sync before it counts as stale: the instance\'s `unreadyAfter`, else the larger of `maxStaleness` and three sync intervals.'),
  unreadyWhenStale: z.boolean().describe('Whether a stale mirror makes the answer 503: only when the instance sets `unreadyAfter`.'),
  stale: z.string().nullable().describe('Why the mirror is stale, or null.'),
});

// Loose: readiness reports more per release; a probe reads `status` (and the status code).
export const ReadyRoute = defineRoute({
  method: 'GET',
  url: '/readyz',
  operationId: 'getReadiness',
  summary: 'Readiness: what would make the next request fail',
  tags: ['probes'],
  access: 'public',
  answers: {
    200: { description: 'Ready', schema: z.looseObject({ status: z.literal('ready'), instances: z.array(InstanceReadinessBody) }) },
    503: {
      description: 'Not ready: the store cannot keep data (`store.ok` false) or the mirror of an instance that sets `unreadyAfter` is stale (its `stale` says why)',
      schema: z.looseObject({ status: z.literal('unready'), instances: z.array(InstanceReadinessBody) }),
    },
  },
  errors: [],
});

export const MetricsRoute = defineRoute({
  method: 'GET',
  url: '/metrics',
  operationId: 'getMetrics',
  summary: 'Prometheus metrics (text exposition format)',
  tags: ['probes'],
  access: 'public',
  answers: { 200: { description: 'Metrics', contentType: 'text/plain', schema: z.string() } },
  errors: [],
});

export function registerHealthRoutes(app: FastifyInstance, deps: { store: ChangeStore; engine: SyncEngine; metrics: Metrics }): void {
  registerRoute(app, HealthRoute, async () => ({ status: 'ok' }));

  // Ready when the store can keep what it is given (as the store health monitor
  // last found it: locked, corrupt, missing and full make it unready) and
  // answers, and no instance that set `unreadyAfter` has a stale mirror: its last
  // successful sync older than that (once its first run here has ended). Every
  // instance's staleness is reported either way; only the operator's bound
  // turns it into 503, since a process out of rotation also refuses the CI
  // webhooks (GitHub does not deliver again by itself) and every other
  // instance's validations, which would still be answered.
  registerRoute(app, ReadyRoute, async (_input, _request, reply) => {
    // Run state as the sync engine wrote it (src/observability/readiness.ts); read, never derived from metrics.
    const instances = deps.engine.readiness.instances();
    const health = deps.engine.readiness.store();
    if (!health.ok) return reply.status(503).send({ status: 'unready', store: health, instances });
    try {
      const changes = await deps.store.countChanges();
      const unready = instances.some((i) => i.stale !== null && i.unreadyWhenStale);
      return reply.status(unready ? 503 : 200).send({ status: unready ? 'unready' : 'ready', store: { ok: true, changes }, instances });
    } catch (err) {
      const error = err instanceof ChangegateError ? { code: err.code, message: err.message } : { code: 'CG_INTERNAL', message: String(err) };
      return reply.status(503).send({ status: 'unready', store: { ok: false, error }, instances });
    }
  });

  registerRoute(app, MetricsRoute, async (_input, _request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
