// `changegate openapi`: the OpenAPI 3.1 document of the HTTP API, as a fully
// configured server serves it at GET /openapi.json (no server is started).

import { apiRoutes } from '../server/api-routes.ts';
import { documentOf } from '../server/routes/openapi.ts';

export function runOpenApi(out: { write(text: string): unknown }): number {
  out.write(`${JSON.stringify(documentOf(apiRoutes()), null, 2)}\n`);
  return 0;
}
