// One declaration per HTTP route: method, path, access, inputs and answers, in
// zod. The same declaration registers the route on fastify (inputs validated at
// the edge, once), feeds the OpenAPI document (openapi-document.ts) and, where
// a route asks for it, fastify's compiled response serializer.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';
import type { RouteAccess } from './api-auth.ts';
import { jsonSchemaOf } from './json-schema-of.ts';
import { parseInput } from './validate-input.ts';

export type HttpMethod = 'GET' | 'POST';

type ObjectSchema = z.ZodObject<z.ZodRawShape>;

/** One answer a route gives on success (or a documented non-error status such as readiness' 503). */
export interface RouteAnswer {
  description: string;
  schema: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
}

/** A body read as bytes (webhooks verify a signature over them); `schema` documents what is expected inside. */
export interface RawBody {
  raw: true;
  description: string;
  schema: z.ZodType;
  /** Largest body taken; larger ones get 413 CG_INPUT_INVALID. */
  limit: number;
  /** Media types documented (default `application/json`); an XML type is documented as a string. The handler refuses others itself. */
  contentTypes?: readonly string[];
}

export interface RouteDeclaration {
  method: HttpMethod;
  /** Fastify pattern: `/v1/changes/:key`. */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  access: RouteAccess;
  params?: ObjectSchema;
  query?: ObjectSchema;
  body?: z.ZodType | RawBody;
  /** Request headers the route reads (documented; checked by the handler where it must, e.g. signatures). */
  headers?: ObjectSchema;
  answers: Readonly<Record<number, RouteAnswer>>;
  /** Codes the handler itself may answer; input, auth, store and internal errors are added from the declaration. */
  errors: readonly ErrorCode[];
  /** The handler reads or writes the store, so it answers the store's faults (STORE_ERRORS) as they come. */
  store?: boolean;
  /** Compile the 2xx schema into fastify's serializer (routes on a caller's critical path). */
  fastSerializer?: boolean;
}

export const defineRoute = <const R extends RouteDeclaration>(route: R): R => route;

/** What a route that reaches the store may answer when the store cannot (the 503s with Retry-After, see http-errors.ts). */
export const STORE_ERRORS = ['CG_STORE_BUSY', 'CG_STORE_UNAVAILABLE', 'CG_STORE_FAILED'] as const satisfies readonly ErrorCode[];

export const isRawBody = (body: RouteDeclaration['body']): body is RawBody => body !== undefined && 'raw' in body && body.raw === true;

/** Every code a route may answer with, grouped by the status the error table gives it (plus the framework's own 4xx). */
export function errorsOf(route: RouteDeclaration): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  const add = (status: number, code: ErrorCode): void => {
    const codes = byStatus.get(status) ?? [];
    if (!codes.includes(code)) codes.push(code);
    byStatus.set(status, codes);
  };
  for (const code of route.errors) add(ERROR_CODES[code].status, code);
  if (route.store === true) for (const code of STORE_ERRORS) add(ERROR_CODES[code].status, code);
  if (route.params || route.query || route.body) add(400, 'CG_INPUT_INVALID');
  if (route.body !== undefined) add(413, 'CG_INPUT_INVALID');
  if (route.body !== undefined && !isRawBody(route.body)) add(415, 'CG_INPUT_INVALID');
  if (route.access === 'token') add(401, 'CG_UNAUTHORIZED');
  add(500, 'CG_INTERNAL');
  return byStatus;
}

type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

export interface RouteInput<R extends RouteDeclaration> {
  params: Out<R['params']>;
  query: Out<R['query']>;
  body: R['body'] extends RawBody ? Buffer : Out<R['body']>;
}

export type RouteHandler<R extends RouteDeclaration> = (input: RouteInput<R>, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The declaration the route was registered from (the OpenAPI document is built from these). */
    declaration?: RouteDeclaration;
  }
}

const successStatus = (route: RouteDeclaration): number => Math.min(...Object.keys(route.answers).map(Number));

export function registerRoute<R extends RouteDeclaration>(app: FastifyInstance, route: R, handler: RouteHandler<R>): void {
  const status = successStatus(route);
  const answer = route.answers[status];
  const raw = isRawBody(route.body);
  app.route({
    method: route.method,
    url: route.url,
    config: { access: route.access, declaration: route },
    ...(raw && isRawBody(route.body) ? { bodyLimit: route.body.limit } : {}),
    ...(route.fastSerializer && answer ? { schema: { response: { [status]: jsonSchemaOf(answer.schema, 'output') } } } : {}),
    handler: async (request, reply) => {
      const input = {
        params: route.params ? parseInput(route.params, request.params, 'params') : {},
        query: route.query ? parseInput(route.query, request.query, 'query') : {},
        body: raw ? (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)) : route.body ? parseInput(route.body as z.ZodType, request.body ?? {}, 'body') : {},
      } as RouteInput<R>;
      void reply.status(status);
      return handler(input, request, reply);
    },
  });
}
