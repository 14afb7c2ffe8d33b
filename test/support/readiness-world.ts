// /readyz over a sync engine the test drives, for the tests that read what an
// instance's syncs leave there: one ServiceNow instance (`sn-prod`) whose source
// serves one page of one change, refuses it on demand or holds it, an
// in-memory mirror, and the HTTP server as `serve` builds it around them.

import { pino } from 'pino';
import { onTestFinished } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { ConnectorInstance, PageRequest, PageResult } from '../../src/kit/connector.ts';
import { registry } from '../../src/app/registry.ts';
import { ChangegateError } from '../../src/errors.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from './change-builder.ts';

/** One page of one change, refused while `refuse` is set; a page can be held until the test lets it go. */
export class GatedSource implements ConnectorInstance {
  readonly system = 'servicenow' as const;
  readonly instanceId = 'sn-prod';
  readonly streams = [{ name: 'changes', description: 'changes' }];
  refuse = false;
  gate: Promise<void> = Promise.resolve();
  reading: () => void = () => undefined;

  async readPage(_request: PageRequest): Promise<PageResult> {
    this.reading();
    await this.gate;
    if (this.refuse) throw new ChangegateError('CG_SN_AUTH_REJECTED', 'HTTP 401 from ServiceNow');
    return { items: [{ kind: 'change', change: buildChange() }], last: null, total: 1, hasMore: false, apiCalls: 1 };
  }

  async fetchOne(): Promise<null> {
    return null;
  }
}

export interface ReadinessWorld {
  engine: SyncEngine;
  source: GatedSource;
  /** The server, ready; closed with the mirror when the test finishes. */
  app: FastifyInstance;
}

export interface ReadinessWorldOptions {
  clock: () => Date;
  /** The instance's staleness settings as the config resolves them (the engine's defaults without them). */
  staleness?: { staleAfterMs: number; unreadyWhenStale: boolean };
}

export async function readinessWorld(options: ReadinessWorldOptions): Promise<ReadinessWorld> {
  const store = SqliteChangeStore.open(':memory:');
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const engine = new SyncEngine({ store, logger, metrics, clock: options.clock });
  const source = new GatedSource();
  engine.register({ connector: source, pageSize: 100, overlapMs: 0, ...options.staleness });
  const app = buildServer({ systems: registry.systems, store, engine, metrics, logger });
  onTestFinished(async () => {
    await app.close();
    await store.close();
  });
  await app.ready();
  return { engine, source, app };
}
