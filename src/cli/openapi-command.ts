// `changegate openapi`: the OpenAPI 3.1 document of the HTTP API, as a fully
// configured server serves it at GET /openapi.json (no server is started).

import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { apiRoutes } from '../server/api-routes.ts';
import { documentOf } from '../server/routes/openapi.ts';

export function runOpenApi(registry: ConnectorRegistry, out: { write(text: string): unknown }): number {
  out.write(`${JSON.stringify(documentOf(apiRoutes(registry.systems)), null, 2)}\n`);
  return 0;
}
