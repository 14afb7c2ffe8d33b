// The OpenAPI 3.1 document, generated from the route declarations: what
// `GET /openapi.json` serves and `changegate openapi` prints.

import { errorBodySchema } from './api-schemas.ts';
import { RETRY_AFTER_CODES, RETRY_AFTER_SECONDS } from './http-errors.ts';
import { jsonSchemaOf } from './json-schema-of.ts';
import { errorsOf, isRawBody, type RouteDeclaration } from './route-contract.ts';

type Json = Record<string, unknown>;

export interface OpenApiInfo {
  version: string;
}

const openApiPath = (url: string): string => url.replace(/:([A-Za-z_]\w*)/g, '{$1}');

function parametersOf(route: RouteDeclaration): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
    ['header', route.headers],
  ] as const) {
    if (schema === undefined) continue;
    const json = jsonSchemaOf(schema, 'input');
    const required = new Set((json['required'] as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries((json['properties'] as Record<string, Json> | undefined) ?? {})) {
      const { description, ...rest } = property;
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  }
  return out;
}

function requestBodyOf(route: RouteDeclaration): Json | undefined {
  const body = route.body;
  if (body === undefined) return undefined;
  if (isRawBody(body)) {
    // Taken as bytes whatever the content type says; JSON is what the sources send, unless the route names its types.
    const types = body.contentTypes ?? ['application/json'];
    const content = Object.fromEntries(types.map((type) => [type, { schema: /[/+]xml$/.test(type) ? { type: 'string' } : jsonSchemaOf(body.schema, 'input') }]));
    return { required: true, description: body.description, content };
  }
  return { required: true, content: { 'application/json': { schema: jsonSchemaOf(body, 'input') } } };
}

function responsesOf(route: RouteDeclaration): Json {
  const responses: Json = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    responses[status] = { description: answer.description, content: { [answer.contentType ?? 'application/json']: { schema: jsonSchemaOf(answer.schema, 'output') } } };
  }
  for (const [status, codes] of [...errorsOf(route)].toSorted(([a], [b]) => a - b)) {
    const retry = codes.some((code) => RETRY_AFTER_CODES.includes(code));
    responses[String(status)] = {
      description: codes.join(', '),
      ...(retry ? { headers: { 'Retry-After': { description: `Seconds to wait before sending again (${RETRY_AFTER_SECONDS}).`, schema: { type: 'integer', minimum: 0 } } } } : {}),
      content: { 'application/json': { schema: jsonSchemaOf(errorBodySchema(codes), 'output') } },
    };
  }
  return responses;
}

export function openApiDocument(routes: readonly RouteDeclaration[], info: OpenApiInfo): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const body = requestBodyOf(route);
    const parameters = parametersOf(route);
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [...route.tags],
      security: route.access === 'token' ? [{ bearer: [] }] : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: responsesOf(route),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'changegate',
      version: info.version,
      description:
        'Change governance for ServiceNow and Jira Service Management: the mirrored changes, the validate call plugins make before a state change, and webhook ingress. Every error is `{ error: { code, kind, message, details } }` with a stable `CG_…` code.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'One of `server.apiTokens`; routes marked public need none. Without configured tokens the API is open.' },
      },
    },
  };
}
