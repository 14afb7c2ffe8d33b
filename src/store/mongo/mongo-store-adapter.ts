// The MongoDB store: every port on one client and one database, for several
// replicas sharing the store (Atlas, a replica set, a sharded cluster, or a
// compatible server). Indexes are created at start-up, idempotently, by every
// replica alike. Leases are documents here (mongo-leases.ts), so one instance
// is synced by one replica at a time across the deployment (src/sync/lease-keeper.ts).
// Rotating OAuth tokens are documents here too (mongo-oauth-tokens.ts): the
// replicas share no state directory to keep them in.

import type { OpenedOAuthTokens, StoreAdapter, StoreBundle } from '../store-bundle.ts';
import type { StoreHealth } from '../store-health.ts';
import { MongoAssessmentStore } from './mongo-assessment-store.ts';
import { MongoChangeStore } from './mongo-change-store.ts';
import { MongoConnection, type MongoConnectionOptions, isUnreachable, messageOf } from './mongo-connection.ts';
import { MongoEventStore } from './mongo-event-store.ts';
import { MongoEvidenceStore } from './mongo-evidence-store.ts';
import { MongoDeliveryStore } from './mongo-delivery-store.ts';
import { ensureMirrorIndexes, mirrorCollections } from './mongo-mirror-docs.ts';
import { MongoLeases } from './mongo-leases.ts';
import { MongoOAuthTokenStores } from './mongo-oauth-tokens.ts';
import { MongoOutboxStore } from './mongo-outbox-store.ts';
import { MongoRunLocks } from './mongo-run-locks.ts';
import { MongoTurns } from './mongo-turns.ts';
import { readCacheOptions, type MirrorReadCacheOptions } from '../mirror-read-cache.ts';

/** Every port on database `database` of the server at `uri`. */
export async function openMongoStores(uri: string, database: string, options: MongoConnectionOptions = {}, cache: MirrorReadCacheOptions = {}): Promise<StoreBundle> {
  const conn = await MongoConnection.open(uri, database, options);
  try {
    await conn.run('the MongoDB store', 'createIndexes', { database }, () =>
      Promise.all([ensureMirrorIndexes(mirrorCollections(conn.db)), MongoAssessmentStore.ensureIndexes(conn), MongoOutboxStore.ensureIndexes(conn), MongoDeliveryStore.ensureIndexes(conn), MongoEvidenceStore.ensureIndexes(conn), MongoEventStore.ensureIndexes(conn), MongoTurns.ensureIndexes(conn.db)]),
    );
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
  let closed: Promise<void> | null = null;
  return {
    changes: new MongoChangeStore(conn, cache),
    assessments: new MongoAssessmentStore(conn),
    outbox: new MongoOutboxStore(conn),
    deliveries: new MongoDeliveryStore(conn),
    evidence: new MongoEvidenceStore(conn),
    events: new MongoEventStore(conn),
    runLocks: new MongoRunLocks(conn),
    leases: new MongoLeases(conn),
    oauthTokens: new MongoOAuthTokenStores(conn),
    health: () => checkHealth(conn),
    onFault: (listener) => conn.onFault(listener),
    close: () => (closed ??= conn.close()),
  };
}

/** The OAuth token stores alone, on a client of their own (`mappings validate --instance`). */
export async function openMongoOAuthTokens(uri: string, database: string, options: MongoConnectionOptions = {}): Promise<OpenedOAuthTokens> {
  const conn = await MongoConnection.open(uri, database, options);
  try {
    await conn.run('the MongoDB store', 'createIndexes', { database }, () => MongoTurns.ensureIndexes(conn.db));
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
  return { tokens: new MongoOAuthTokenStores(conn), close: () => conn.close() };
}

/** A ping: the server answers (a primary or not, reads and writes then go where the driver routes them). */
async function checkHealth(conn: MongoConnection): Promise<StoreHealth> {
  try {
    await conn.db.command({ ping: 1 });
    return { ok: true };
  } catch (err) {
    if (isUnreachable(err)) return { ok: false, reason: 'unreachable', detail: messageOf(err) };
    return { ok: false, reason: 'unreachable', detail: `the server answered the ping with an error: ${messageOf(err)}` };
  }
}

export const mongoStoreAdapter: StoreAdapter<'mongodb'> = {
  kind: 'mongodb',
  async open(config): Promise<StoreBundle> {
    return openMongoStores(config.uri, config.database, {}, readCacheOptions(config.readCache));
  },
  openOAuthTokens: (config) => openMongoOAuthTokens(config.uri, config.database),
};
