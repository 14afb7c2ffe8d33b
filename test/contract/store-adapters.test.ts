// Runs every store contract suite against every store adapter: each entry of
// ADAPTERS opens a fresh, empty bundle, and each suite tests one port of it.
// The MongoDB adapter runs against MONGODB_URI (FerretDB in CI, started by
// .ci/ferretdb.sh; see test/support/ferretdb-global-setup.ts), each bundle on a
// database of its own. What only one adapter promises (SQLite migrations, its
// read cache, sharing one file; MongoDB replicas sharing a database and the
// stores its earlier versions left: mongo-store.test.ts) stays in that
// adapter's tests.

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ClaimOwner } from '../../src/store/claim-owner.ts';
import { openStores } from '../../src/store/open-stores.ts';
import { mongoStoreAdapter } from '../../src/store/mongo/mongo-store-adapter.ts';
import { sqliteStoreAdapter } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreAdapter, StoreBundle } from '../../src/store/store-bundle.ts';
import { StoreConfig } from '../../src/config/schema.ts';
import { releaseDeadClaims } from '../../src/sync/dead-claims.ts';
import { storeBundles } from '../support/store-bundles.ts';
import { describeAssessmentStoreContract } from './assessment-store.contract.ts';
import { describeAssessmentWriterContract } from './assessment-writer.contract.ts';
import { describeChangeStoreReadsContract } from './change-store-reads.contract.ts';
import { describeChangeStoreContract } from './change-store.contract.ts';
import { describeDeliveryStoreContract } from './delivery-store.contract.ts';
import { describeEvidenceStoreContract } from './evidence-store.contract.ts';
import { describeEventStoreContract } from './event-store.contract.ts';
import { describeOutboxStoreContract } from './outbox-store.contract.ts';
import { describeLeaseStoreContract } from './lease-store.contract.ts';
import { describeRunLocksContract } from './run-locks.contract.ts';

const { mongoUri, run, freshFile, freshDatabase, opened } = storeBundles();

interface AdapterFactory {
  name: string;
  /** A new, empty bundle each call. */
  open(): Promise<StoreBundle>;
}

const ADAPTERS: AdapterFactory[] = [
  { name: 'SQLite in memory', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: ':memory:' }) },
  { name: 'SQLite file', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: freshFile() }) },
];
if (mongoUri !== '') ADAPTERS.push({ name: 'MongoDB', open: () => mongoStoreAdapter.open({ kind: 'mongodb', uri: mongoUri, database: freshDatabase() }) });

describe('MongoDB store suites', () => {
  it('run against a server: MONGODB_URI is set (CI starts FerretDB; locally `bash .ci/ferretdb.sh install` once, then npm test starts it)', () => {
    expect(mongoUri, 'MONGODB_URI is unset, so the MongoDB store was not tested: run `bash .ci/ferretdb.sh install` once (needs Go) and npm test again, or point MONGODB_URI at a MongoDB server').not.toBe('');
  });
});

function portOf<K extends Exclude<keyof StoreBundle, 'close'>>(adapter: AdapterFactory, port: K): () => Promise<StoreBundle[K]> {
  return async () => {
    const bundle = await adapter.open();
    opened.push(bundle);
    return bundle[port];
  };
}

for (const adapter of ADAPTERS) {
  describeChangeStoreContract(adapter.name, portOf(adapter, 'changes'));
  describeChangeStoreReadsContract(adapter.name, portOf(adapter, 'changes'));
  describeAssessmentStoreContract(adapter.name, portOf(adapter, 'assessments'));
  describeOutboxStoreContract(adapter.name, portOf(adapter, 'outbox'));
  describeDeliveryStoreContract(adapter.name, portOf(adapter, 'deliveries'));
  describeRunLocksContract(adapter.name, portOf(adapter, 'runLocks'));
  describeEvidenceStoreContract(adapter.name, portOf(adapter, 'evidence'));
  describeLeaseStoreContract(adapter.name, portOf(adapter, 'leases'));
  describeEventStoreContract(adapter.name, portOf(adapter, 'events'));
  describeAssessmentWriterContract(adapter.name, async () => {
    const bundle = await adapter.open();
    opened.push(bundle);
    return bundle;
  });
}

// store.readCache reaches the mirror's read cache on every adapter (the running service's bound and /metrics: read-cache-config.test.ts).
const readCache = { changesMB: 3, neighboursMB: 5 };
const SIZED: AdapterFactory[] = [{ name: 'SQLite file', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: freshFile(), readCache }) }];
if (mongoUri !== '') SIZED.push({ name: 'MongoDB', open: () => mongoStoreAdapter.open({ kind: 'mongodb', uri: mongoUri, database: freshDatabase(), readCache }) });
for (const adapter of SIZED) {
  it(`${adapter.name}: bounds the read cache by store.readCache`, async () => {
    const bundle = await adapter.open();
    opened.push(bundle);
    const stats = bundle.changes.readCacheStats?.();
    expect(stats?.changes.limitBytes).toBe(3 * 1024 * 1024);
    expect(stats?.neighbours.limitBytes).toBe(5 * 1024 * 1024);
  });
}

// What start-up (and, on a shared store, the replicas' heartbeat timer) does with the claims of a
// process judged dead, on every adapter: each inbox and the outbox hand them to the next claimant
// at once, not when their lease runs out; a process judged alive keeps what it holds.
const claimant = (name: string, pid: number): ClaimOwner => ({ id: `${name}-${run}`, host: 'host-a', pid, startedAt: '2026-03-02T08:00:00.000Z' });
for (const adapter of ADAPTERS) {
  describe(`releaseDeadClaims: ${adapter.name}`, () => {
    it("hands a dead process's event deliveries, webhook deliveries and outbox items to the next at once, and leaves a live one its claims", async () => {
      const bundle = await adapter.open();
      opened.push(bundle);
      const [dead, live, next] = [claimant('dead', 101), claimant('live', 202), claimant('next', 303)];
      const t0 = Date.parse('2026-03-12T10:00:00.000Z');
      const at = (ms: number): Date => new Date(t0 + ms);
      for (const n of [1, 2]) {
        await bundle.events.record({ source: 'github', kind: 'github', deliveryId: `run-${n}`, receivedAt: at(n).toISOString(), headers: {}, rawBody: Buffer.from(`{"n":${n}}`) });
      }
      await bundle.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'w-1', receivedAt: at(0).toISOString(), body: {} });
      const note = { title: 'verdict', tone: 'info' as const, lines: ['verdict'] };
      await bundle.outbox.enqueue([{ instance: 'sn', changeId: 'servicenow:sn:c1', nativeId: 'c1', source: 'assessment', idempotencyKey: 'k1', payload: { action: 'comment', note } }], at(0));
      // The dead process leased one event delivery, the webhook delivery and the outbox item; the live one the other event delivery.
      expect((await bundle.events.claim(1, at(1000), { owner: dead })).map((d) => d.deliveryId)).toEqual(['run-1']);
      expect((await bundle.events.claim(1, at(1000), { owner: live })).map((d) => d.deliveryId)).toEqual(['run-2']);
      expect(await bundle.deliveries.claim(1, at(1000), { owner: dead })).toHaveLength(1);
      expect(await bundle.outbox.claim(1, at(1000), 600_000, dead)).toHaveLength(1);
      expect(await bundle.events.claim(10, at(2000), { owner: next })).toEqual([]);

      const said: { msg: string }[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void said.push(JSON.parse(line) as { msg: string }) });
      const judged: string[] = [];
      const released = await releaseDeadClaims({
        ...bundle,
        judge: (o) => {
          judged.push(o.id);
          return o.id === dead.id ? 'dead' : 'alive';
        },
        logger,
        now: at(2000),
      });
      expect(judged.toSorted()).toEqual([dead.id, live.id]);
      expect(released).toEqual({ outboxItems: 1, deliveries: 1, eventDeliveries: 1, owners: [dead] });
      expect(said.map((l) => l.msg)).toEqual(['released 1 outbox items, 1 webhook deliveries and 1 event deliveries held by 1 process(es) that died']);

      // Claimable at once (28 s before the event lease would have run out), its cut-short attempt counted once.
      expect((await bundle.events.claim(10, at(2000), { owner: next })).map((d) => [d.deliveryId, d.attempts])).toEqual([['run-1', 2]]);
      expect((await bundle.deliveries.claim(10, at(2000), { owner: next })).map((d) => d.deliveryId)).toEqual(['w-1']);
      expect((await bundle.outbox.claim(10, at(2000), 600_000, next)).map((i) => i.idempotencyKey)).toEqual(['k1']);
      // The live process's lease stands until it runs out.
      expect((await bundle.events.claimOwners()).map((o) => o.id).toSorted()).toEqual([live.id, next.id].toSorted());
      expect(await bundle.events.claim(10, at(30_999), { owner: next })).toEqual([]);
      expect((await bundle.events.claim(10, at(31_000), { owner: next })).map((d) => d.deliveryId)).toEqual(['run-2']);
    });
  });
}
describe('openStores', () => {
  it('opens the bundle of the adapter the store kind names, every port on the one file', async () => {
    const path = freshFile();
    const stores = await openStores({ kind: 'sqlite', path });
    opened.push(stores);
    await stores.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'd1', receivedAt: '2026-03-12T10:00:00Z', body: {} });
    await stores.close();
    const again = await openStores({ kind: 'sqlite', path });
    opened.push(again);
    expect(await again.deliveries.pendingCount('jsm')).toBe(1);
    expect(await again.changes.countChanges()).toBe(0);
  });

  it('refuses a store kind this build has no adapter for, as a configuration error naming store.kind', async () => {
    const err = await openStores({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:1/x', database: 'changegate' }, [sqliteStoreAdapter as StoreAdapter]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CG_CONFIG_INVALID', details: { path: 'store.kind' } });
    expect(String((err as Error).message)).toContain('"mongodb" is not available in this build');
  });

  it('opens the MongoDB store for kind mongodb (and its alias mongo), every port on the one database', async () => {
    const database = freshDatabase();
    const stores = await openStores(StoreConfig.parse({ kind: 'mongo', uri: mongoUri, database }));
    opened.push(stores);
    await stores.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'd1', receivedAt: '2026-03-12T10:00:00Z', body: {} });
    expect(await stores.health()).toEqual({ ok: true });
    await stores.close();
    const again = await openStores(StoreConfig.parse({ kind: 'mongodb', uri: mongoUri, database }));
    opened.push(again);
    expect(await again.deliveries.pendingCount('jsm')).toBe(1);
  });
});
