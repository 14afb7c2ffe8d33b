// Replicas of the service on one MongoDB store share no state directory, so the
// rotating refresh token of a Jira OAuth 2.0 grant must live in the store: one
// replica refreshes at a time, the others pick up what it saved, and a
// replica (or `mappings validate --instance`) with a stale token in memory
// takes the rotated one instead of presenting the spent one. Runs against
// MONGODB_URI (FerretDB in CI), each run on a database of its own.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { HttpResponse, type HttpResponseResolver } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jira } from '../../connectors/jira/index.ts';
import { createJiraAuth } from '../../connectors/jira/jira-auth.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { createApp } from '../../src/app/changegate-app.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';
import { validateLiveMapping } from '../../src/cli/validate-live-mapping-command.ts';
import type { ConnectorInstance } from '../../src/kit/connector.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { openMongoStores } from '../../src/store/mongo/mongo-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { atlassianTokenEndpoint } from '../support/atlassian-token-endpoint.ts';
import { gatewayHandlers } from '../support/jira-oauth-gateway.ts';

const mongoUri = process.env['MONGODB_URI'] ?? '';
const run = `${process.pid}_${Date.now().toString(36)}`;
let databases = 0;
const freshDatabase = (): string => `cg_oauth_${run}_${++databases}`;


/** Atlassian: each refresh token works once and is replaced; the gateway takes the access tokens it issued and has not revoked. */
const tokens = atlassianTokenEndpoint();
const revoked = new Set<string>();
function signedIn(resolver: HttpResponseResolver): HttpResponseResolver {
  return (info) => {
    const token = (info.request.headers.get('authorization') ?? '').replace(/^Bearer /, '');
    return tokens.accessTokens.has(token) && !revoked.has(token) ? resolver(info) : HttpResponse.json({ code: 401, message: 'Unauthorized' }, { status: 401 });
  };
}
const server = setupServer(
  tokens.handler,
  ...gatewayHandlers(signedIn),
);

const silent = pino({ level: 'silent' });
const config = { id: 'jsm-oauth', system: 'jira', baseUrl: 'https://acme.atlassian.net', projects: ['ITSM'] };
const auth = { kind: 'oauth2', clientId: 'client', clientSecret: 'client-secret-value', refreshToken: 'R1', cloudId: 'cloud-1' };
const instance = JiraInstance.parse({ ...config, auth });
const firstPage = { stream: 'changes', after: null, offset: 0, pageSize: 10 } as const;

const opened: StoreBundle[] = [];
let database: string;
let dir: string;

/** One replica: a store bundle on a client of its own, and the Jira instance opened as the service opens it. */
async function replica(logger: Logger = silent): Promise<{ connector: ConnectorInstance; bundle: StoreBundle }> {
  expect(mongoUri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
  const bundle = await openMongoStores(mongoUri, database);
  opened.push(bundle);
  const shared = bundle.oauthTokens === undefined ? {} : { oauthTokens: bundle.oauthTokens };
  return { connector: jira.open(instance, { logger, onRequest: () => {}, ...shared }), bundle };
}

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
beforeEach(() => {
  database = freshDatabase();
  dir = mkdtempSync(join(tmpdir(), 'cg-oauth-mongo-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((bundle) => bundle.close()));
  rmSync(dir, { recursive: true, force: true });
  tokens.reset();
  revoked.clear();
});
afterAll(async () => {
  server.close();
  if (mongoUri === '') return;
  const client = await MongoClient.connect(mongoUri);
  try {
    for (let n = 1; n <= databases; n++) await client.db(`cg_oauth_${run}_${n}`).dropDatabase();
  } finally {
    await client.close();
  }
});

describe('Jira OAuth 2.0 on the MongoDB store: replicas share the rotating refresh token', () => {
  it('two replicas due to refresh at the same moment spend the refresh token once, and neither is locked out', async () => {
    tokens.latencyMs = 200;
    const [one, other] = await Promise.all([replica(), replica()]);
    const pages = await Promise.allSettled([one.connector.readPage(firstPage), other.connector.readPage(firstPage)]);
    expect(pages.map((p) => p.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(tokens.presented).toEqual(['R1']);
  });

  it('replicas whose access tokens expire at every request refresh one after the other, never presenting a spent token', async () => {
    tokens.expiresInS = 30; // inside the refresh margin: every request refreshes
    tokens.latencyMs = 20;
    const replicas = await Promise.all([replica(), replica()]);
    for (let round = 0; round < 3; round++) {
      const pages = await Promise.allSettled(replicas.flatMap((r) => [r.connector.readPage(firstPage), r.connector.readPage(firstPage)]));
      expect(pages.filter((p) => p.status === 'rejected')).toEqual([]);
    }
    expect(tokens.presented.length).toBeGreaterThanOrEqual(6);
    expect(new Set(tokens.presented).size).toBe(tokens.presented.length);
    expect(tokens.overlaps).toEqual([]);
  });

  it('a replica holding a stale token in memory takes the one another replica rotated instead of presenting its spent one', async () => {
    const one = await replica();
    await one.connector.readPage(firstPage); // R1 -> R2; A2 in its memory and in the store
    const other = await replica();
    revoked.add('A2'); // refused from now on: the next replica to use it refreshes
    await other.connector.readPage(firstPage); // 401, R2 -> R3
    expect(tokens.presented).toEqual(['R1', 'R2']);

    // The first replica's A2 is refused too; its R2 is spent. It must take A3 from the store, spending nothing.
    await expect(one.connector.readPage(firstPage)).resolves.toMatchObject({ items: [] });
    expect(tokens.presented).toEqual(['R1', 'R2']);
  });

  it('`mappings validate --instance` on a MongoDB store refreshes from, and saves to, the store the replicas use', async () => {
    const file = join(dir, 'changegate.yaml');
    writeFileSync(
      file,
      `store: { kind: mongodb, uri: "${mongoUri}", database: ${database} }\ninstances:\n  - { id: jsm-oauth, system: jira, baseUrl: "${config.baseUrl}", projects: [ITSM], auth: { kind: oauth2, clientId: client, clientSecret: client-secret-value, refreshToken: R1, cloudId: cloud-1 } }\n`,
    );
    const validate = async (): Promise<number> => validateLiveMapping(registry, 'jsm-oauth', file, { write: () => true });
    expect(await validate()).toBe(0); // R1 -> R2, saved in the store
    revoked.add('A2');
    expect(await validate()).toBe(0); // a second run (a restart): refreshes R2, not the configured R1
    expect(tokens.presented).toEqual(['R1', 'R2']);

    // A replica of the service picks up what the CLI left.
    const service = await replica();
    await expect(service.connector.readPage(firstPage)).resolves.toMatchObject({ items: [] });
    expect(tokens.presented).toEqual(['R1', 'R2']);
    // Nothing went to a file: the replicas share no disk.
    expect(readdirSync(dir)).toEqual(['changegate.yaml']);
  });
});

describe('the service on a MongoDB store', () => {
  it('a replica started after another rotated the grant syncs with the rotated tokens, not the spent configured one', async () => {
    expect(mongoUri, 'MONGODB_URI is unset (npm test starts FerretDB; see test/support/ferretdb-global-setup.ts)').not.toBe('');
    const serviceConfig = ChangegateConfig.parse({
      store: { kind: 'mongodb', uri: mongoUri, database },
      server: { listen: '127.0.0.1:0' },
      instances: [{ ...instance, schedule: '0 0 1 1 *' }],
    });
    const loaded = { config: serviceConfig, file: join(dir, 'changegate.yaml'), registry };
    const first = await createApp(loaded, { logger: silent });
    try {
      await first.engine.sync('jsm-oauth'); // R1 -> R2, saved in the store
    } finally {
      await first.close();
    }
    revoked.add('A2');
    const second = await createApp(loaded, { logger: silent });
    try {
      await expect(second.engine.sync('jsm-oauth')).resolves.toBeDefined();
    } finally {
      await second.close();
    }
    expect(tokens.presented).toEqual(['R1', 'R2']);
  });
});

describe('the MongoDB OAuth token store', () => {
  it('keeps one document per instance, without the configured refresh token, saved only over the refresh token spent', async () => {
    const { bundle } = await replica();
    const store = bundle.oauthTokens?.open('jsm-oauth', 'R1');
    expect(store).toBeDefined();
    if (store === undefined) return;
    expect(await store.read()).toBeNull();
    expect(await store.replace('R0', { refreshToken: 'R2' })).toBe(false);
    expect(await store.replace('R1', { refreshToken: 'R2', accessToken: 'A2', expiresAt: 1 })).toBe(true);
    expect(await store.replace('R1', { refreshToken: 'R9' })).toBe(false);
    expect(await store.read()).toEqual({ refreshToken: 'R2', accessToken: 'A2', expiresAt: 1 });
    expect(await store.replace('R2', { refreshToken: 'R3' })).toBe(true);
    expect(await store.read()).toEqual({ refreshToken: 'R3' });

    const client = await MongoClient.connect(mongoUri);
    try {
      const docs = await client.db(database).collection('oauth_tokens').find().toArray();
      expect(docs).toHaveLength(1);
      expect(docs[0]).toMatchObject({ _id: 'jsm-oauth', refreshToken: 'R3', version: 2 });
      expect(JSON.stringify(docs)).not.toContain('"R1"');
    } finally {
      await client.close();
    }
  });

  it('keeps what the refresh lease leaves behind bounded however many refreshes take their turn', async () => {
    tokens.expiresInS = 30; // inside the refresh margin: every request refreshes, under the lease
    const replicas = await Promise.all([replica(), replica()]);
    for (let round = 0; round < 10; round++) {
      const pages = await Promise.allSettled(replicas.map((r) => r.connector.readPage(firstPage)));
      expect(pages.filter((p) => p.status === 'rejected')).toEqual([]);
    }
    expect(tokens.presented.length).toBeGreaterThanOrEqual(20);
    expect(tokens.overlaps).toEqual([]);
    const client = await MongoClient.connect(mongoUri);
    try {
      const db = client.db(database);
      // One lease per instance; of the turns that decided who took it, none outlives its acquisition.
      expect(await db.collection('oauth_token_leases').countDocuments()).toBe(1);
      expect(await db.collection('claim_turns').countDocuments({ item: /^lock:oauth_token_leases:/ })).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('lets one of several replicas saving over the same spent token at once win', async () => {
    const bundles = await Promise.all([replica(), replica(), replica()]).then((rs) => rs.map((r) => r.bundle));
    const stores = bundles.map((b) => b.oauthTokens?.open('jsm-oauth', 'R1'));
    await stores[0]?.replace('R1', { refreshToken: 'R2' });
    const saved = await Promise.all(stores.flatMap((s, i) => [s?.replace('R2', { refreshToken: `R3-${i}-a` }), s?.replace('R2', { refreshToken: `R3-${i}-b` })]));
    expect(saved.filter((ok) => ok === true)).toHaveLength(1);
  });

  it('a re-authorized configuration wins over tokens stored for the earlier grant', async () => {
    const { bundle } = await replica();
    await bundle.oauthTokens?.open('jsm-oauth', 'R1').replace('R1', { refreshToken: 'R-old-rotated', accessToken: 'A-old' });
    tokens.reset('R-new');
    const reauthorized = { ...instance, auth: { ...instance.auth, refreshToken: 'R-new' } };
    const store = bundle.oauthTokens?.open('jsm-oauth', 'R-new');
    const { provider } = createJiraAuth(reauthorized, { logger: silent, ...(store ? { tokenStore: store } : {}) });
    expect(await provider.header()).toBe('Bearer A2');
    expect(tokens.presented).toEqual(['R-new']);
    expect(await store?.read()).toMatchObject({ refreshToken: 'R2' });
  });

  it('never lets a token it keeps reach a log line', async () => {
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString('utf8');
        done();
      },
    });
    const logger = createLogger({ level: 'trace', destination: sink });
    const one = await replica(logger);
    await one.connector.readPage(firstPage); // a refresh, saved
    revoked.add('A2');
    await one.connector.readPage(firstPage); // a 401 and a refresh
    // Atlassian refuses the grant (revoked): the failure is logged as the sync would log it.
    tokens.live.clear();
    revoked.add('A3');
    await one.connector.readPage(firstPage).catch((err: unknown) => logger.error({ err }, 'sync failed'));
    // The store goes away mid-refresh.
    await one.bundle.close();
    await one.connector.readPage(firstPage).catch((err: unknown) => logger.error({ err }, 'sync failed'));

    expect(logged).toContain('OAuth 2.0 refresh token rotated and saved');
    expect(logged).toMatch(/CG_OAUTH_TOKEN_FAILED/);
    const leaked = ['R1', 'R2', 'R3', 'A2', 'A3'].filter((secret) => new RegExp(`["\\s]${secret}["\\s,}]|Bearer ${secret}`).test(logged));
    expect(leaked).toEqual([]);
    expect(logged).not.toContain('client-secret-value');
  });
});
