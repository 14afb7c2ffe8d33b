// Picks the store adapter the configuration names.

import type { StoreConfig } from '../config/schema.ts';
import { ChangegateError } from '../errors.ts';
import type { ChangeStore } from './change-store.ts';
import { SqliteChangeStore } from './sqlite-change-store.ts';

export async function openStore(config: StoreConfig): Promise<ChangeStore> {
  switch (config.kind) {
    case 'sqlite':
      return SqliteChangeStore.open(config.path);
    case 'mongo':
      throw new ChangegateError('CG_CONFIG_INVALID', 'store.kind "mongo" is not available in this build yet; use store.kind "sqlite"', {
        details: { path: 'store.kind' },
      });
  }
}
