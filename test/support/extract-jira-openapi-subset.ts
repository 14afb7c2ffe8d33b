// Regenerates test/fixtures/jira/openapi-subset.json: the operations the Jira
// connector calls (path, method, declared parameters, request body schema) and
// every component schema those bodies reference, cut from Atlassian's OpenAPI
// documents with descriptions and examples dropped. Run by hand when the specs
// are refreshed or the connector calls a new operation:
//   npx node test/support/extract-jira-openapi-subset.ts <platform.json> <jsm.json>

import { readFileSync, writeFileSync } from 'node:fs';

type Json = Record<string, unknown>;
interface Doc {
  info: { version: string };
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
}

/** [document, method, path template] of every operation the connector may send. */
export const CONNECTOR_OPERATIONS: readonly (readonly ['platform' | 'jsm', string, string])[] = [
  ['platform', 'post', '/rest/api/3/search/jql'],
  ['platform', 'get', '/rest/api/3/issue/{issueIdOrKey}'],
  ['platform', 'get', '/rest/api/3/issue/{issueIdOrKey}/changelog'],
  ['platform', 'get', '/rest/api/3/issue/{issueIdOrKey}/comment'],
  ['platform', 'get', '/rest/api/3/field'],
  ['platform', 'get', '/rest/api/3/myself'],
  ['platform', 'get', '/rest/api/3/project/{projectIdOrKey}/statuses'],
  ['jsm', 'get', '/rest/servicedeskapi/request/{issueIdOrKey}/approval'],
];

const DROP = new Set(['description', 'example', 'examples', 'x-atlassian-narrative', 'externalDocs']);

function prune(value: unknown, refs: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => prune(v, refs));
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    if (DROP.has(key)) continue;
    if (key === '$ref' && typeof v === 'string') refs.add(v.replace('#/components/schemas/', ''));
    out[key] = prune(v, refs);
  }
  return out;
}

function main(): void {
  const [platformPath, jsmPath] = process.argv.slice(2);
  if (!platformPath || !jsmPath) throw new Error('usage: extract-jira-openapi-subset.ts <platform.json> <jsm.json>');
  const docs: Record<'platform' | 'jsm', Doc> = {
    platform: JSON.parse(readFileSync(platformPath, 'utf8')) as Doc,
    jsm: JSON.parse(readFileSync(jsmPath, 'utf8')) as Doc,
  };
  const operations: Json = {};
  const schemas: Record<string, unknown> = {};
  for (const [doc, method, path] of CONNECTOR_OPERATIONS) {
    const op = docs[doc].paths[path]?.[method];
    if (op === undefined) throw new Error(`${doc} has no ${method.toUpperCase()} ${path}`);
    const refs = new Set<string>();
    const body = (op['requestBody'] as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema;
    operations[`${method.toUpperCase()} ${path}`] = {
      document: doc,
      operationId: op['operationId'],
      parameters: prune(op['parameters'] ?? [], refs),
      requestBody: body === undefined ? null : prune(body, refs),
    };
    // Pull in referenced schemas transitively, from the operation's own document.
    const queue = [...refs];
    while (queue.length > 0) {
      const name = queue.pop() as string;
      if (schemas[name] !== undefined) continue;
      const schema = docs[doc].components.schemas[name];
      if (schema === undefined) throw new Error(`${doc} has no schema ${name}`);
      const inner = new Set<string>();
      schemas[name] = prune(schema, inner);
      queue.push(...inner);
    }
  }
  const out = { source: { platform: docs.platform.info.version, jsm: docs.jsm.info.version }, operations, schemas };
  writeFileSync(new URL('../fixtures/jira/openapi-subset.json', import.meta.url), `${JSON.stringify(out, null, 1)}\n`);
}

if (import.meta.main) main();
