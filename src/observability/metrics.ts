// Prometheus metrics, one registry per process (tests make their own).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  syncRuns: Counter<'instance' | 'outcome'>;
  syncRecords: Counter<'instance' | 'stream' | 'outcome'>;
  syncErrors: Counter<'instance' | 'code'>;
  rejectedRecords: Counter<'instance' | 'stream' | 'code'>;
  upstreamRequests: Counter<'instance' | 'method' | 'status'>;
  upstreamDuration: Histogram<'instance'>;
  syncDuration: Histogram<'instance'>;
  lastSuccess: Gauge<'instance'>;
  mirroredChanges: Gauge<'instance'>;
  httpErrors: Counter<'code'>;
  validations: Counter<'instance' | 'decision' | 'reason'>;
  webhookDeliveries: Counter<'instance' | 'outcome'>;
  assessments: Counter<'instance' | 'outcome'>;
  outboxItems: Counter<'instance' | 'action' | 'outcome'>;
  outboxQueued: Gauge<'status'>;
  enforcements: Counter<'instance' | 'action'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'changegate_' });
  const registers = [registry];
  return {
    registry,
    syncRuns: new Counter({ name: 'changegate_sync_runs_total', help: 'Sync runs by outcome (ok, failed, busy, stopped: by shutdown).', labelNames: ['instance', 'outcome'], registers }),
    syncRecords: new Counter({
      name: 'changegate_sync_records_total',
      help: 'Records read by a sync, by outcome (written, unchanged, stale, invalid).',
      labelNames: ['instance', 'stream', 'outcome'],
      registers,
    }),
    syncErrors: new Counter({ name: 'changegate_sync_errors_total', help: 'Sync runs that ended in an error, by error code.', labelNames: ['instance', 'code'], registers }),
    rejectedRecords: new Counter({
      name: 'changegate_rejected_records_total',
      help: 'Source records that could not be mapped (missing sys_id, malformed date, unknown state), by error code.',
      labelNames: ['instance', 'stream', 'code'],
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'changegate_upstream_requests_total',
      help: 'HTTP requests sent to ServiceNow or Jira, by status (or network error code).',
      labelNames: ['instance', 'method', 'status'],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'changegate_upstream_request_seconds',
      help: 'Upstream request latency.',
      labelNames: ['instance'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    syncDuration: new Histogram({
      name: 'changegate_sync_duration_seconds',
      help: 'Wall time of a sync run.',
      labelNames: ['instance'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    }),
    lastSuccess: new Gauge({ name: 'changegate_sync_last_success_timestamp_seconds', help: 'When the last sync run of an instance succeeded.', labelNames: ['instance'], registers }),
    mirroredChanges: new Gauge({ name: 'changegate_mirrored_changes', help: 'Changes held in the mirror.', labelNames: ['instance'], registers }),
    httpErrors: new Counter({ name: 'changegate_http_errors_total', help: 'API requests answered with an error, by code.', labelNames: ['code'], registers }),
    validations: new Counter({
      name: 'changegate_validations_total',
      help: 'POST /v1/validate decisions (allow, deny) by what decided: policy, no_transition, or the fail mode for stale and not_mirrored.',
      labelNames: ['instance', 'decision', 'reason'],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'changegate_webhook_deliveries_total',
      help: 'Webhook deliveries by outcome: accepted, duplicate, rejected (signature or body) on receipt; processed, retried, failed when worked.',
      labelNames: ['instance', 'outcome'],
      registers,
    }),
    assessments: new Counter({
      name: 'changegate_assessments_total',
      help: 'Policy runs for a change, by outcome: changed (write-back queued), same (stored, nothing to write), unchanged (inputs as last assessed, not re-run), error.',
      labelNames: ['instance', 'outcome'],
      registers,
    }),
    outboxItems: new Counter({
      name: 'changegate_outbox_items_total',
      help: 'Ticket write-backs worked, by action and outcome: written, already-done (marker found), superseded, retried, failed (refused), gave-up.',
      labelNames: ['instance', 'action', 'outcome'],
      registers,
    }),
    outboxQueued: new Gauge({ name: 'changegate_outbox_items', help: 'Outbox items by status after the last drain.', labelNames: ['status'], registers }),
    enforcements: new Counter({
      name: 'changegate_enforcements_total',
      help: 'Observed transitions the policy denied, by action (revert, comment, own-revert) and settled reverts (revert-reverted, revert-refused, revert-superseded).',
      labelNames: ['instance', 'action'],
      registers,
    }),
  };
}

/** The figures of a store's read cache, as `ChangeStore.readCacheStats` gives them. */
interface ReadCacheFigures {
  bytes: number;
  limitBytes: number;
  entries: number;
  hits: number;
  misses: number;
}

/**
 * The mirror's read cache (store.readCache), read on each scrape: what it holds against its bound, and how
 * often a read found what it wanted. A low hit ratio with the bytes at the bound says the bound is too small
 * for the changes being read; the README's Memory section says how to size it.
 */
export function observeReadCache(metrics: Metrics, stats: () => { changes: ReadCacheFigures; neighbours: ReadCacheFigures }): (Gauge<'cache'> | Counter<'cache' | 'outcome'>)[] {
  const registers = [metrics.registry];
  const each = (set: (cache: string, figures: ReadCacheFigures) => void): void => {
    const now = stats();
    set('changes', now.changes);
    set('neighbours', now.neighbours);
  };
  return [
    new Gauge({
      name: 'changegate_read_cache_bytes',
      help: 'Estimated bytes the read cache holds, by cache (changes, neighbours).',
      labelNames: ['cache'],
      registers,
      collect() {
        each((cache, f) => this.set({ cache }, f.bytes));
      },
    }),
    new Gauge({
      name: 'changegate_read_cache_limit_bytes',
      help: 'The read cache bound, by cache: store.readCache changesMB and neighboursMB.',
      labelNames: ['cache'],
      registers,
      collect() {
        each((cache, f) => this.set({ cache }, f.limitBytes));
      },
    }),
    new Gauge({
      name: 'changegate_read_cache_entries',
      help: 'Entries the read cache holds, by cache.',
      labelNames: ['cache'],
      registers,
      collect() {
        each((cache, f) => this.set({ cache }, f.entries));
      },
    }),
    // A counter whose value the cache keeps: set on each scrape as reset and add (prom-client counters have no set).
    new Counter({
      name: 'changegate_read_cache_reads_total',
      help: 'Reads through the read cache by cache and outcome: hit (answered from memory), miss (read from the store and kept).',
      labelNames: ['cache', 'outcome'],
      registers,
      collect() {
        this.reset();
        each((cache, f) => {
          this.inc({ cache, outcome: 'hit' }, f.hits);
          this.inc({ cache, outcome: 'miss' }, f.misses);
        });
      },
    }),
  ];
}
