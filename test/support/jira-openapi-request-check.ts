// Checks a request the Jira connector sent against Atlassian's OpenAPI documents
// (the subset in test/fixtures/jira/openapi-subset.json): the method and path must
// be an operation, every query parameter must be one it declares (with a value of
// the declared type), and a JSON body must validate against the operation's
// requestBody schema. Strict on unknown keys: that is where a typo hides.

import { readFileSync } from 'node:fs';

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  parameters: Parameter[];
  requestBody: Schema | null;
}

const subset = JSON.parse(readFileSync(new URL('../fixtures/jira/openapi-subset.json', import.meta.url), 'utf8')) as {
  operations: Record<string, Operation>;
  schemas: Record<string, Schema>;
};

function templateMatches(template: string, path: string): boolean {
  const t = template.split('/');
  const p = path.split('/');
  return t.length === p.length && t.every((seg, i) => (seg.startsWith('{') && seg.endsWith('}') ? (p[i] ?? '') !== '' : seg === p[i]));
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const INT_RANGE: Record<string, [number, number]> = { int32: [-(2 ** 31), 2 ** 31 - 1], int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] };

function validate(schema: Schema, value: unknown, path: string, problems: string[]): void {
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const target = subset.schemas[ref.replace('#/components/schemas/', '')];
    if (target === undefined) problems.push(`${path}: schema ${ref} is not in the subset`);
    else validate(target, value, path, problems);
    return;
  }
  for (const part of (schema['allOf'] as Schema[] | undefined) ?? []) validate(part, value, path, problems);
  if (value === null) {
    if (schema['nullable'] !== true && schema['type'] !== undefined) problems.push(`${path}: null is not allowed`);
    return;
  }
  const type = schema['type'];
  const actual = typeOf(value);
  if (typeof type === 'string' && type !== actual && !(type === 'number' && actual === 'integer')) {
    problems.push(`${path}: expected ${type}, got ${actual}`);
    return;
  }
  const allowed = schema['enum'];
  if (Array.isArray(allowed) && !allowed.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(allowed)}`);
  const range = typeof schema['format'] === 'string' ? INT_RANGE[schema['format']] : undefined;
  if (range && typeof value === 'number' && (value < range[0] || value > range[1])) problems.push(`${path}: ${value} is outside ${String(schema['format'])}`);
  if (actual === 'array') {
    const items = schema['items'] as Schema | undefined;
    if (items) (value as unknown[]).forEach((item, i) => validate(items, item, `${path}[${i}]`, problems));
    return;
  }
  if (actual !== 'object') return;
  const obj = value as Record<string, unknown>;
  const properties = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
  for (const name of (schema['required'] as string[] | undefined) ?? []) if (!(name in obj)) problems.push(`${path}.${name}: required`);
  for (const [key, v] of Object.entries(obj)) {
    const prop = properties[key];
    if (prop) validate(prop, v, `${path}.${key}`, problems);
    else if (schema['additionalProperties'] === false) problems.push(`${path}.${key}: not a property of the request body`);
    else if (typeof schema['additionalProperties'] === 'object') validate(schema['additionalProperties'] as Schema, v, `${path}.${key}`, problems);
  }
}

function checkQueryValue(param: Parameter, value: string, problems: string[]): void {
  const schema = param.schema ?? {};
  const item = schema['type'] === 'array' ? ((schema['items'] as Schema | undefined) ?? {}) : schema;
  const type = item['type'];
  if ((type === 'integer' && !/^-?\d+$/.test(value)) || (type === 'boolean' && !/^(true|false)$/.test(value))) {
    problems.push(`query ${param.name}=${value}: expected ${String(type)}`);
  }
  if (Array.isArray(item['enum']) && !item['enum'].includes(value)) problems.push(`query ${param.name}=${value}: not one of ${JSON.stringify(item['enum'])}`);
}

/** Problems with one request; empty when the OpenAPI documents allow it. */
export function checkJiraRequest(method: string, url: string, body: unknown): string[] {
  const u = new URL(url);
  const found = Object.entries(subset.operations).find(([key]) => {
    const [m, template] = key.split(' ') as [string, string];
    return m === method.toUpperCase() && templateMatches(template, u.pathname);
  });
  if (found === undefined) return [`${method} ${u.pathname}: no such operation in the Jira OpenAPI documents (or not in the subset: add it to test/support/extract-jira-openapi-subset.ts)`];
  const [key, op] = found;
  const problems: string[] = [];
  for (const name of new Set(u.searchParams.keys())) {
    const param = op.parameters.find((p) => p.in === 'query' && p.name === name);
    if (param === undefined) problems.push(`${key}: query parameter ${name} is not declared`);
    else for (const value of u.searchParams.getAll(name)) checkQueryValue(param, value, problems);
  }
  for (const p of op.parameters) if (p.in === 'query' && p.required && !u.searchParams.has(p.name)) problems.push(`${key}: query parameter ${p.name} is required`);
  if (op.requestBody === null) {
    if (body !== undefined) problems.push(`${key}: takes no request body`);
  } else if (body === undefined) {
    problems.push(`${key}: needs a request body`);
  } else {
    validate(op.requestBody, body, `${key} body`, problems);
  }
  return problems;
}
