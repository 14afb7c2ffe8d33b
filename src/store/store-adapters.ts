// The store adapters this build carries, listed once. Each loads its module
// when its kind is opened: a process on the embedded store never loads the
// MongoDB driver (about 30 MB of resident memory, 16 MB of it the BSON
// serialiser's buffer), and one on MongoDB never opens SQLite's modules.

import type { StoreAdapter } from './store-bundle.ts';

const sqlite: StoreAdapter<'sqlite'> = {
  kind: 'sqlite',
  open: async (config) => (await import('./sqlite/sqlite-store-adapter.ts')).sqliteStoreAdapter.open(config),
};

const mongodb: StoreAdapter<'mongodb'> = {
  kind: 'mongodb',
  open: async (config) => (await import('./mongo/mongo-store-adapter.ts')).mongoStoreAdapter.open(config),
  openOAuthTokens: async (config) => (await import('./mongo/mongo-store-adapter.ts')).openMongoOAuthTokens(config.uri, config.database),
};

export const STORE_ADAPTERS: readonly StoreAdapter[] = [sqlite as StoreAdapter, mongodb as StoreAdapter];
