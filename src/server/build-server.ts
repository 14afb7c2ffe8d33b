// The fastify application: routes only; the process wiring is in src/app.

import type { KeyObject } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { SyncEngine } from '../sync/sync-engine.ts';
import { installErrorHandler } from './http-errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { requireApiToken, type RouteAccess } from './api-auth.ts';
import { answerClientError, answerFrameworkError, MAX_PARAM_LENGTH } from './framework-errors.ts';
import { answerUnrouted } from './method-not-allowed.ts';
import type { RouteDeclaration } from './route-contract.ts';
import type { HistoryDeps } from '../assess/change-history.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';
import { registerChangeEvidenceRoute } from './routes/change-evidence.ts';
import { registerChangeHistoryRoute } from './routes/change-history.ts';
import { registerChangeRoutes, type ChangeEventsOf } from './routes/changes.ts';
import { registerEventRoutes, type EventRouteDeps } from './routes/events.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerOpenApiRoute } from './routes/openapi.ts';
import { registerValidateRoute, type ValidateRouteDeps } from './routes/validate.ts';
import { registerWebhookRoutes, type WebhookRouteDeps } from './routes/webhooks.ts';

export interface ServerDeps {
  /** The registered systems (connectors/index.ts): webhook routes and the `system` values the API accepts. */
  systems: readonly string[];
  store: ChangeStore;
  engine: SyncEngine;
  metrics: Metrics;
  logger: Logger;
  /** Largest accepted request body (webhooks); larger ones get 413. */
  bodyLimit?: number;
  /** `POST /v1/validate` (policy, instances' fail modes and state mappings); absent: no validate route. */
  validate?: Omit<ValidateRouteDeps, 'store' | 'metrics' | 'systems'>;
  /** Webhook ingress (`POST /v1/webhooks/<system>/:instance`); absent: no webhook routes. */
  webhooks?: Omit<WebhookRouteDeps, 'metrics' | 'systems'>;
  /** The events correlated with a change (`GET /v1/changes/:key` lists them); absent: none. */
  changeEvents?: ChangeEventsOf;
  /** Event ingress (`POST /v1/events/:source`); absent: no event route. */
  events?: EventRouteDeps;
  /** `GET /v1/changes/:key/history` (assessments, outbox, own-write signatures); absent: no history route. */
  history?: Omit<HistoryDeps, 'store'>;
  /** `GET /v1/changes/:key/evidence`; absent: no evidence route. */
  evidence?: EvidenceStore;
  /** The key the evidence route signs bundles with (`evidence.signingKey`); absent or null: unsigned. */
  evidenceSigningKey?: KeyObject | null;
  /** Bearer tokens the API (`/v1/*` except webhooks) requires; empty or absent: the API is open. */
  apiTokens?: readonly string[];
}

/** A route as registered, with the access it declares (the token check's table). */
export interface RouteSummary {
  method: string;
  url: string;
  access: RouteAccess;
}

const ROUTES = new WeakMap<FastifyInstance, RouteSummary[]>();

/** Every route the server registered, HEAD routes included. */
export function routesOf(app: FastifyInstance): readonly RouteSummary[] {
  return ROUTES.get(app) ?? [];
}

export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 1_048_576,
    // Keys up to the schema's 200 characters (percent-escaped, several times that) reach the route, which names the field when one is too long.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: answerFrameworkError(deps.metrics),
    clientErrorHandler: answerClientError(deps.metrics),
    // One log line per request would drown the sync's own lines; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const routes: RouteSummary[] = [];
  const declarations: RouteDeclaration[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, access: route.config?.access ?? 'token' });
      const declaration = route.config?.declaration;
      if (declaration !== undefined && declaration.method === method) declarations.push(declaration);
    }
  });
  installErrorHandler(app, deps.metrics);
  // JSON routes take application/json only, as the OpenAPI document says: fastify's text/plain parser would hand
  // a JSON body sent as text (fetch's default for a string) to the route as a string, refused as "not an object".
  app.removeContentTypeParser('text/plain');
  const unrouted = answerUnrouted(routes, deps.metrics);
  // Answered before the body is read: a method fastify would parse a body for (QUERY) must not fail on the body first.
  // Callback style: the hook runs on every request, including the hot validate path.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) void unrouted(request, reply);
    else done();
  });
  app.setNotFoundHandler(unrouted);
  requireApiToken(app, deps.apiTokens ?? []);
  registerHealthRoutes(app, deps);
  registerOpenApiRoute(app, () => declarations);
  registerChangeRoutes(app, deps.store, deps.systems, deps.changeEvents);
  if (deps.history) registerChangeHistoryRoute(app, { ...deps.history, store: deps.store });
  if (deps.evidence) registerChangeEvidenceRoute(app, { store: deps.store, evidence: deps.evidence, signingKey: deps.evidenceSigningKey ?? null });
  if (deps.validate) registerValidateRoute(app, { ...deps.validate, store: deps.store, metrics: deps.metrics, systems: deps.systems });
  if (deps.webhooks) registerWebhookRoutes(app, { ...deps.webhooks, metrics: deps.metrics, systems: deps.systems });
  if (deps.events) registerEventRoutes(app, deps.events);
  return app;
}
