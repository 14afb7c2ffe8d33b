// The store adapters this build carries, listed once.

import type { StoreAdapter } from './store-bundle.ts';
import { mongoStoreAdapter } from './mongo/mongo-store-adapter.ts';
import { sqliteStoreAdapter } from './sqlite/sqlite-store-adapter.ts';

export const STORE_ADAPTERS: readonly StoreAdapter[] = [sqliteStoreAdapter as StoreAdapter, mongoStoreAdapter as StoreAdapter];
