// Runs every store contract suite against every store adapter: each entry of
// ADAPTERS opens a fresh, empty bundle, and each suite tests one port of it.
// A MongoDB adapter is one more entry. What only one adapter promises (SQLite
// migrations, its read cache, sharing one file) stays in that adapter's tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStores } from '../../src/store/open-stores.ts';
import { sqliteStoreAdapter } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { describeAssessmentStoreContract } from './assessment-store.contract.ts';
import { describeChangeStoreContract } from './change-store.contract.ts';
import { describeDeliveryStoreContract } from './delivery-store.contract.ts';
import { describeEventStoreContract } from './event-store.contract.ts';
import { describeOutboxStoreContract } from './outbox-store.contract.ts';
import { describeRunLocksContract } from './run-locks.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-adapters-'));
let files = 0;
const freshFile = (): string => join(dir, `n${++files}`, 'changegate.db');

interface AdapterFactory {
  name: string;
  /** A new, empty bundle each call. */
  open(): Promise<StoreBundle>;
}

const ADAPTERS: AdapterFactory[] = [
  { name: 'SQLite in memory', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: ':memory:' }) },
  { name: 'SQLite file', open: () => sqliteStoreAdapter.open({ kind: 'sqlite', path: freshFile() }) },
];

// A suite closes the port it tested; the rest of each bundle is closed after the test.
const opened: StoreBundle[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((bundle) => bundle.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function portOf<K extends Exclude<keyof StoreBundle, 'close'>>(adapter: AdapterFactory, port: K): () => Promise<StoreBundle[K]> {
  return async () => {
    const bundle = await adapter.open();
    opened.push(bundle);
    return bundle[port];
  };
}

for (const adapter of ADAPTERS) {
  describeChangeStoreContract(adapter.name, portOf(adapter, 'changes'));
  describeAssessmentStoreContract(adapter.name, portOf(adapter, 'assessments'));
  describeOutboxStoreContract(adapter.name, portOf(adapter, 'outbox'));
  describeDeliveryStoreContract(adapter.name, portOf(adapter, 'deliveries'));
  describeRunLocksContract(adapter.name, portOf(adapter, 'runLocks'));
  describeEventStoreContract(adapter.name, portOf(adapter, 'events'));
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
    const err = await openStores({ kind: 'mongo', uri: 'mongodb://127.0.0.1:1/x', database: 'changegate' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CG_CONFIG_INVALID', details: { path: 'store.kind' } });
    expect(String((err as Error).message)).toContain('"mongo" is not available in this build');
  });
});
