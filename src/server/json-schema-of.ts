// zod → JSON Schema (2020-12, what OpenAPI 3.1 and fastify's serializer read).

import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

/** Schemas whose wire form is not what zod would derive (a query string parsed into a number). */
const WIRE = new WeakMap<object, JsonSchema>();

/** Declares how `schema` looks on the wire; the document shows this instead of zod's derivation. */
export function withWireSchema<S extends z.ZodType>(schema: S, wire: JsonSchema): S {
  WIRE.set(schema, wire);
  return schema;
}

/** `anyOf: [{type: T, ...}, {type: 'null'}]` → `type: [T, 'null']`: one schema, which fastify's serializer compiles without a branch test per call. */
function foldNullable(json: JsonSchema): void {
  const anyOf = json['anyOf'];
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return;
  const [a, b] = anyOf as JsonSchema[];
  const nullIndex = [a, b].findIndex((s) => s?.['type'] === 'null' && Object.keys(s).length === 1);
  const other = nullIndex === 0 ? b : nullIndex === 1 ? a : undefined;
  if (other === undefined || typeof other['type'] !== 'string' || 'anyOf' in other || 'oneOf' in other || 'allOf' in other) return;
  delete json['anyOf'];
  Object.assign(json, other, { type: [other['type'], 'null'] });
  if (Array.isArray(json['enum'])) json['enum'] = [...(json['enum'] as unknown[]), null];
}

function walk(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const json = value as JsonSchema;
  for (const child of Object.values(json)) walk(child);
  foldNullable(json);
}

export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io,
    reused: 'inline',
    // Values with no JSON form (a transform's output) are described by their wire schema or left open.
    unrepresentable: 'any',
    override: (ctx) => {
      const wire = WIRE.get(ctx.zodSchema);
      if (wire === undefined) return;
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as JsonSchema)[key];
      Object.assign(ctx.jsonSchema, wire);
    },
  }) as JsonSchema;
  delete json['$schema'];
  walk(json);
  return json;
}
