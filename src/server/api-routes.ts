// Every route declaration a fully configured server registers (validate and
// webhooks included), in registration order: what `changegate openapi` prints
// without starting a server.

import { SYSTEMS } from '../domain/change.ts';
import type { RouteDeclaration } from './route-contract.ts';
import { GetChangeRoute, ListChangesRoute } from './routes/changes.ts';
import { HealthRoute, MetricsRoute, ReadyRoute } from './routes/health.ts';
import { OpenApiRoute } from './routes/openapi.ts';
import { ValidateRoute } from './routes/validate.ts';
import { webhookRoute } from './routes/webhooks.ts';

export function apiRoutes(): RouteDeclaration[] {
  return [HealthRoute, ReadyRoute, MetricsRoute, OpenApiRoute, ListChangesRoute, GetChangeRoute, ValidateRoute, ...SYSTEMS.map(webhookRoute)];
}
