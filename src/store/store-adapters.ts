// The store adapters this build carries, listed once. A MongoDB adapter is one
// more entry (its folder exports a `StoreAdapter<'mongo'>`).

import type { StoreAdapter } from './store-bundle.ts';
import { sqliteStoreAdapter } from './sqlite/sqlite-store-adapter.ts';

export const STORE_ADAPTERS: readonly StoreAdapter[] = [sqliteStoreAdapter as StoreAdapter];
