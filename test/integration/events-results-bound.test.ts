// A results upload signed over what it names (X-Changegate-Signature-256), as
// the README's shell recipe computes it: taken for the names it was signed
// with, refused once a captured upload is re-posted naming another commit or
// change; a signature over the file alone still taken, unless the source sets
// results.requireBoundSignature.

import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventSourceConfig } from '../../src/config/schema.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { installErrorHandler } from '../../src/server/http-errors.ts';
import { registerEventRoutes } from '../../src/server/routes/events.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';

const SECRET = 'gh-secret';
const COMMIT = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const OTHER = 'abcdef0123456789abcdef0123456789abcdef01';
const green = Buffer.from('<testsuite name="unit"><testcase classname="Pay" name="charges"/></testsuite>');

// The README's recipe, byte for byte: printf with this format, the names as the query gives them
// decoded (an absent one ""), then the file's `openssl dgst -sha256 -r | cut -d' ' -f1`.
const RECIPE_FORMAT = String.raw`changegate-results-v1\ncommit=%s\nchange=%s\nrun=%s\nrepo=%s\nbranch=%s\nname=%s\nenvironment=%s\nurl=%s\nsha256=%s\n`;
const printf = (format: string, ...args: string[]): string => format.replace(/%s/g, () => args.shift() ?? '').replace(/\\n/g, '\n');
const openssl = (data: Buffer | string, secret?: string): string => (secret === undefined ? createHash('sha256') : createHmac('sha256', secret)).update(data).digest('hex');

/** `sha256=$SIG` as the recipe computes it for commit, change, run and name (repo, branch, environment, url not given). */
function recipe(file: Buffer, names: { commit: string; change: string; run: string; name: string }, secret = SECRET): string {
  const text = printf(RECIPE_FORMAT, names.commit, names.change, names.run, '', '', names.name, '', '', openssl(file));
  return `sha256=${openssl(text, secret)}`;
}

let stores: StoreBundle;
let app: FastifyInstance;
afterEach(async () => {
  await app.close();
  await stores.close();
});

async function world(results?: EventSourceConfig['results']): Promise<void> {
  stores = openSqliteStores(':memory:');
  app = Fastify();
  installErrorHandler(app, createMetrics({ defaultMetrics: false }));
  const github: EventSourceConfig = { id: 'github', kind: 'github', secrets: ['retired', SECRET], ...(results === undefined ? {} : { results }) };
  const jenkins: EventSourceConfig = { id: 'jenkins', kind: 'jenkins', secrets: [SECRET] };
  registerEventRoutes(app, { sources: [github, jenkins], kindOf: eventSourceKind, events: stores.events });
  await app.ready();
}

const post = (query: string, headers: Record<string, string>, source = 'github') =>
  app.inject({ method: 'POST', url: `/v1/events/${source}/results?${query}`, payload: green, headers: { 'content-type': 'application/xml', ...headers } });
const fileOnly = { 'x-hub-signature-256': `sha256=${openssl(green, SECRET)}` };
const names = { commit: COMMIT, change: 'ITSM-42', run: '7', name: 'unit tests' };
const query = (commit: string, change: string) => `commit=${commit}&change=${change}&run=7&name=unit%20tests`;

describe('POST /v1/events/:source/results signed over its names', () => {
  it('takes an upload signed over its names by the README\'s recipe, and refuses the same signature re-posted for another commit or change', async () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    expect(readme).toContain(`printf '${RECIPE_FORMAT}'`);
    expect(readme).toContain(`openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1`);
    await world({ requireBoundSignature: true });
    const bound = { 'x-changegate-signature-256': recipe(green, names) };
    const taken = await post(query(COMMIT, 'ITSM-42'), bound);
    expect(taken.statusCode).toBe(202);
    expect(taken.json()).toMatchObject({ accepted: true, duplicate: false, tests: { passed: 1, failed: 0, skipped: 0 } });
    // The names may come as headers instead: the same values, the same signature.
    const byHeaders = await post('', { ...bound, 'x-changegate-commit': COMMIT, 'x-changegate-change': 'ITSM-42', 'x-changegate-run': '7', 'x-changegate-name': 'unit tests' });
    expect(byHeaders.json()).toMatchObject({ duplicate: true });

    for (const replay of [await post(query(OTHER, 'ITSM-42'), bound), await post(query(COMMIT, 'ITSM-43'), bound), await post(`${query(COMMIT, 'ITSM-42')}&environment=production`, bound)]) {
      expect(replay.statusCode).toBe(401);
      expect(replay.json().error).toMatchObject({ code: 'CG_WEBHOOK_SIGNATURE_INVALID', message: expect.stringMatching(/^headers x-changegate-signature-256: matches none/) });
    }
    expect(await stores.events.pendingCount()).toBe(1);
  });

  it('refuses a signature over the file alone when the source requires bound ones, saying what to send', async () => {
    await world({ requireBoundSignature: true });
    const refused = await post(query(COMMIT, 'ITSM-42'), fileOnly);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatchObject({
      code: 'CG_WEBHOOK_SIGNATURE_MISSING',
      message: expect.stringMatching(/^headers x-changegate-signature-256: source "github" requires results signed over what they name.*send x-changegate-signature-256: sha256=/),
    });
    expect(await stores.events.pendingCount()).toBe(0);
  });

  it('still takes a signature over the file alone by default, and a bound one beside it', async () => {
    await world();
    expect((await post(query(COMMIT, 'ITSM-42'), fileOnly)).statusCode).toBe(202);
    expect((await post(query(OTHER, 'ITSM-42'), { 'x-changegate-signature-256': recipe(green, { ...names, commit: OTHER }) })).statusCode).toBe(202);
    // A bound signature that does not match is refused even beside a valid file signature: it says what was meant.
    const mismatched = await post(query(OTHER, 'ITSM-43'), { ...fileOnly, 'x-changegate-signature-256': recipe(green, names) });
    expect(mismatched.json().error).toMatchObject({ code: 'CG_WEBHOOK_SIGNATURE_INVALID' });
    // A name holding a line break could be read as two lines of the signed text: it cannot be bound.
    const broken = await post(`commit=${COMMIT}&name=unit%0Aenvironment%3Dproduction`, { 'x-changegate-signature-256': recipe(green, names) });
    expect([broken.statusCode, broken.json().error.code, broken.json().error.message]).toEqual([400, 'CG_INPUT_INVALID', expect.stringMatching(/^query name: holds a line break/)]);
    expect(await stores.events.pendingCount()).toBe(2);
  });

  it('takes a token source\'s token as before: a token sent as it is binds nothing', async () => {
    await world();
    expect((await post(query(COMMIT, 'ITSM-42'), { 'x-changegate-token': SECRET }, 'jenkins')).statusCode).toBe(202);
  });
});
