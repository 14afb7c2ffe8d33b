// The embedded store: every port in one SQLite file (each on its own
// connection, so a long mirror write never holds up the webhook inbox), plus a
// connection of its own for the health check. Run locks are in-process: the
// file is served by one process.

import type { StoreAdapter, StoreBundle } from '../store-bundle.ts';
import { closeAll } from '../store-bundle.ts';
import { InProcessRunLocks } from '../in-process-run-locks.ts';
import { InProcessLeases } from '../in-process-leases.ts';
import { readCacheOptions, type MirrorReadCacheOptions } from '../mirror-read-cache.ts';
import type { StoreFaultReason } from '../store-health.ts';
import { SqliteAssessmentStore } from './sqlite-assessment-store.ts';
import { SqliteAssessmentWriter } from './sqlite-assessment-writer.ts';
import { SqliteChangeStore } from './sqlite-change-store.ts';
import type { SqliteConnectionOptions } from './sqlite-connection.ts';
import { SqliteDeliveryStore } from './sqlite-delivery-store.ts';
import { SqliteEvidenceStore } from './sqlite-evidence-store.ts';
import { SqliteEventStore } from './sqlite-event-store.ts';
import { SqliteOutboxStore } from './sqlite-outbox-store.ts';
import { SqliteCheckpointer } from './sqlite-checkpointer.ts';
import { SqliteStoreHealth, type SqliteHealthOptions } from './sqlite-store-health.ts';

export interface SqliteStoresOptions extends Omit<SqliteConnectionOptions, 'onFault'>, Omit<SqliteHealthOptions, 'configure'> {
  /** The mirror's read cache bounds (the configuration's `store.readCache`). */
  cache?: MirrorReadCacheOptions;
}

/** Every port on the file at `path`; `options` tune the retry and the health check (the adapter's defaults suit the service). */
export function openSqliteStores(path: string, options: SqliteStoresOptions = {}): StoreBundle {
  const opened: { close(): Promise<void> }[] = [];
  const keep = <T extends { close(): Promise<void> }>(port: T): T => {
    opened.push(port);
    return port;
  };
  const listeners: (() => void)[] = [];
  let health: SqliteStoreHealth | null = null;
  const onFault = (reason: StoreFaultReason): void => {
    health?.report(reason);
    for (const listener of listeners) listener();
  };
  const { busyBoundMs, configure, cache, ...healthOptions } = options;
  const connection: SqliteConnectionOptions = { onFault, ...(busyBoundMs === undefined ? {} : { busyBoundMs }), ...(configure === undefined ? {} : { configure }) };
  try {
    // The mirror first: it migrates the file the other ports add their tables to.
    const changes = keep(SqliteChangeStore.open(path, { connection, ...(cache === undefined ? {} : { cache }) }));
    const deliveries = keep(SqliteDeliveryStore.open(path, connection));
    const assessments = keep(SqliteAssessmentStore.open(path, connection));
    const outbox = keep(SqliteOutboxStore.open(path, connection));
    const evidence = keep(SqliteEvidenceStore.open(path, connection));
    const events = keep(SqliteEventStore.open(path, connection));
    // After the ports whose tables it writes. In memory each port has a database of its own: then the runner writes item by item.
    const assessmentWriter = path === ':memory:' ? undefined : keep(SqliteAssessmentWriter.open(path, connection));
    const runLocks = keep(new InProcessRunLocks());
    const leases = keep(new InProcessLeases({ fenceFloor: (instance) => changes.fenceOf(instance) }));
    const probe = keep(SqliteStoreHealth.open(path, { ...healthOptions, ...(configure === undefined ? {} : { configure }) }));
    // Commits append to the log; a worker thread copies it back into the file (a checkpoint in a commit stalls the event loop).
    if (path !== ':memory:') keep(SqliteCheckpointer.start(path));
    health = probe;
    return {
      changes,
      deliveries,
      assessments,
      outbox,
      evidence,
      ...(assessmentWriter === undefined ? {} : { assessmentWriter }),
      runLocks,
      leases,
      events,
      health: () => probe.check(),
      onFault: (listener) => listeners.push(listener),
      close: () => closeAll(opened),
    };
  } catch (err) {
    // A port that failed to open leaves none of the others open behind it.
    void closeAll(opened).catch(() => undefined);
    throw err;
  }
}

export const sqliteStoreAdapter: StoreAdapter<'sqlite'> = {
  kind: 'sqlite',
  async open(config): Promise<StoreBundle> {
    return openSqliteStores(config.path, { cache: readCacheOptions(config.readCache) });
  },
};
