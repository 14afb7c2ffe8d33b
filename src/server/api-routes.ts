// Every route declaration a fully configured server registers (validate and
// webhooks included), in registration order: what `changegate openapi` prints
// without starting a server.

import type { RouteDeclaration } from './route-contract.ts';
import { ChangeEvidenceRoute } from './routes/change-evidence.ts';
import { ChangeHistoryRoute } from './routes/change-history.ts';
import { GetChangeRoute, listChangesRoute } from './routes/changes.ts';
import { HealthRoute, MetricsRoute, ReadyRoute } from './routes/health.ts';
import { OpenApiRoute } from './routes/openapi.ts';
import { RESULTS_BODY_LIMIT, resultsRoute } from './routes/event-results.ts';
import { EVENT_BODY_LIMIT, eventRoute } from './routes/events.ts';
import { validateRoute } from './routes/validate.ts';
import { webhookRoute } from './routes/webhooks.ts';

/** `systems`: the registered systems (webhook routes, the `system` values the API accepts). */
export function apiRoutes(systems: readonly string[]): RouteDeclaration[] {
  return [HealthRoute, ReadyRoute, MetricsRoute, OpenApiRoute, listChangesRoute(systems), GetChangeRoute, ChangeHistoryRoute, ChangeEvidenceRoute, validateRoute(systems), ...systems.map(webhookRoute), eventRoute(EVENT_BODY_LIMIT), resultsRoute(RESULTS_BODY_LIMIT)];
}
