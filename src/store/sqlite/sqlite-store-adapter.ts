// The embedded store: every port in one SQLite file (each on its own
// connection, so a long mirror write never holds up the webhook inbox). Run
// locks are in-process: the file is served by one process.

import type { StoreAdapter, StoreBundle } from '../store-bundle.ts';
import { closeAll } from '../store-bundle.ts';
import { InProcessRunLocks } from '../in-process-run-locks.ts';
import { SqliteAssessmentStore } from './sqlite-assessment-store.ts';
import { SqliteChangeStore } from './sqlite-change-store.ts';
import { SqliteDeliveryStore } from './sqlite-delivery-store.ts';
import { SqliteOutboxStore } from './sqlite-outbox-store.ts';

export const sqliteStoreAdapter: StoreAdapter<'sqlite'> = {
  kind: 'sqlite',
  async open(config): Promise<StoreBundle> {
    const opened: { close(): Promise<void> }[] = [];
    const keep = <T extends { close(): Promise<void> }>(port: T): T => {
      opened.push(port);
      return port;
    };
    try {
      // The mirror first: it migrates the file the other ports add their tables to.
      const changes = keep(SqliteChangeStore.open(config.path));
      const deliveries = keep(SqliteDeliveryStore.open(config.path));
      const assessments = keep(SqliteAssessmentStore.open(config.path));
      const outbox = keep(SqliteOutboxStore.open(config.path));
      const runLocks = keep(new InProcessRunLocks());
      return { changes, deliveries, assessments, outbox, runLocks, close: () => closeAll(opened) };
    } catch (err) {
      // A port that failed to open leaves none of the others open behind it.
      await closeAll(opened).catch(() => undefined);
      throw err;
    }
  },
};
