// GET /openapi.json: the document of the routes this server registered.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import pkg from '../../../package.json' with { type: 'json' };
import { openApiDocument } from '../openapi-document.ts';
import { defineRoute, registerRoute, type RouteDeclaration } from '../route-contract.ts';

export const OpenApiRoute = defineRoute({
  method: 'GET',
  url: '/openapi.json',
  operationId: 'getOpenApi',
  summary: 'This document (OpenAPI 3.1)',
  tags: ['meta'],
  access: 'public',
  answers: { 200: { description: 'The OpenAPI document', schema: z.looseObject({ openapi: z.string() }) } },
  errors: [],
});

export const documentOf = (routes: readonly RouteDeclaration[]): Record<string, unknown> => openApiDocument(routes, { version: pkg.version });

/** `routes()` is read at the first request, once every route is registered. */
export function registerOpenApiRoute(app: FastifyInstance, routes: () => readonly RouteDeclaration[]): void {
  let document: Record<string, unknown> | undefined;
  registerRoute(app, OpenApiRoute, async () => (document ??= documentOf(routes())));
}
