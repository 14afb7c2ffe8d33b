// The demo as `serve` starts it, in process, for tests that compare `check`
// with what the service did: the ITSM schedules read first, a sync of each
// instance (whose changes the runner assesses), and every mirrored change.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { registry } from '../../src/app/registry.ts';
import { demoConfig, type LoadedConfig } from '../../src/config/load-config.ts';
import type { Change } from '../../src/domain/change.ts';
import { createLogger } from '../../src/log.ts';

export interface SyncedDemo {
  dir: string;
  app: ChangegateApp;
  loaded: LoadedConfig;
  close(): Promise<void>;
  changes(): Promise<Change[]>;
}

export async function startSyncedDemo(prefix: string): Promise<SyncedDemo> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'data'));
  // Where `changegate demo` keeps its mirror, relative to the directory it runs in.
  const base = demoConfig(registry, {}).config;
  const loaded: LoadedConfig = { config: { ...base, store: { kind: 'sqlite', path: join(dir, 'data', 'changegate.db') } }, file: null, registry };
  const app = await createApp(loaded, { logger: createLogger({ level: 'silent' }) });
  await app.readItsmCalendars();
  for (const id of app.engine.instanceIds()) await app.engine.sync(id);
  return {
    dir,
    app,
    loaded,
    async changes() {
      const all: Change[] = [];
      for (const instance of app.engine.instanceIds()) {
        let cursor: string | undefined;
        do {
          const page = await app.store.listChanges({ instance, limit: 500, ...(cursor ? { cursor } : {}) });
          all.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
      }
      return all;
    },
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
