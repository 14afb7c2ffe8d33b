// Opens the store bundle the configuration names, through the adapter that
// declares its kind; a kind no adapter of this build declares is refused as a
// configuration error.

import type { StoreConfig } from '../config/schema.ts';
import { ChangegateError } from '../errors.ts';
import { STORE_ADAPTERS } from './store-adapters.ts';
import type { OpenedOAuthTokens, StoreAdapter, StoreBundle } from './store-bundle.ts';

export async function openStores(config: StoreConfig, adapters: readonly StoreAdapter[] = STORE_ADAPTERS): Promise<StoreBundle> {
  const adapter = adapters.find((a) => a.kind === config.kind);
  if (adapter === undefined) {
    const available = adapters.map((a) => `"${a.kind}"`).join(', ');
    throw new ChangegateError('CG_CONFIG_INVALID', `store.kind "${config.kind}" is not available in this build yet; use store.kind ${available}`, {
      details: { path: 'store.kind' },
    });
  }
  // The adapter declared this kind, so the configuration is the shape it reads.
  return adapter.open(config as never);
}

/**
 * The rotating OAuth tokens of the configured store, opened alone (`mappings validate --instance` holds the service's
 * grant without opening its other ports); null for a store whose tokens live in its state directory (embedded).
 */
export async function openOAuthTokens(config: StoreConfig, adapters: readonly StoreAdapter[] = STORE_ADAPTERS): Promise<OpenedOAuthTokens | null> {
  const adapter = adapters.find((a) => a.kind === config.kind);
  return adapter?.openOAuthTokens === undefined ? null : adapter.openOAuthTokens(config as never);
}
