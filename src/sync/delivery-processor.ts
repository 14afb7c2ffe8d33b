// Works the webhook inbox. A delivery says only which records changed: each is
// re-fetched through the engine (`syncOne`), never taken from the payload, and
// the store's stale rule makes late or reordered deliveries harmless. Triggered
// after every accepted delivery, on start (what a crash left behind) and on a
// timer (retries whose time has come).

import type { ConnectorWebhook } from '../kit/connector.ts';
import { asChangegateError, type ChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ApplyResult } from '../store/change-store.ts';
import type { Delivery, DeliveryStore } from '../store/delivery-store.ts';
import type { ClaimOwner } from '../store/claim-owner.ts';

export interface DeliveryProcessorOptions {
  /** Deliveries claimed at once. */
  batchSize?: number;
  /** Records re-fetched at once. */
  concurrency?: number;
  /** How often due retries are looked for. */
  pollMs?: number;
  /** Attempts before a delivery stays failed. */
  maxAttempts?: number;
  /** Retry n waits min(maxBackoffMs, backoffMs * 2^(n-1)). */
  backoffMs?: number;
  maxBackoffMs?: number;
  leaseMs?: number;
  /** Done and failed deliveries are kept this long (the de-duplication window). */
  retentionMs?: number;
}

export interface DeliveryProcessorDeps {
  store: DeliveryStore;
  engine: { syncOne(instance: string, nativeId: string): Promise<ApplyResult | null> };
  /** The webhook declaration of a configured instance, if it has one. */
  webhookOf(instance: string): ConnectorWebhook | undefined;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
  /** Recorded on every claim, so the next process releases this one's deliveries at once if it dies. */
  owner?: ClaimOwner;
  options?: DeliveryProcessorOptions;
}

const DEFAULTS: Required<DeliveryProcessorOptions> = {
  batchSize: 50,
  concurrency: 4,
  pollMs: 5_000,
  maxAttempts: 8,
  backoffMs: 2_000,
  maxBackoffMs: 10 * 60_000,
  leaseMs: 30_000,
  retentionMs: 7 * 24 * 3_600_000,
};

const PURGE_EVERY_MS = 3_600_000;

/**
 * A re-fetch refused for a reason only the operator can change (credentials
 * rejected after the client's own refresh and retry, a 4xx, a mapping that
 * cannot map, a bounded read past its bound) fails the same way on every
 * attempt: retrying costs upstream requests and hides the signal behind hours
 * of backoff. Such a delivery ends at once, like a parked write-back, and no
 * record is lost by it: the scheduled sync reads the record once the cause is
 * fixed, as it does after its own failed runs. A store fault is config-kind too
 * but says nothing about the record and heals (disk freed, server back), so it
 * keeps its retries, as ingress asks the sender to retry for it.
 */
function endsAtOnce(error: ChangegateError): boolean {
  return (error.kind === 'config' || error.kind === 'input') && error.code !== 'CG_STORE_UNAVAILABLE';
}
/** Records whose last re-fetch start is remembered, at most (the oldest are forgotten first). */
const FETCH_MEMORY = 50_000;

export class DeliveryProcessor {
  readonly #deps: DeliveryProcessorDeps;
  readonly #opts: Required<DeliveryProcessorOptions>;
  readonly #clock: () => Date;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = true;
  #lastPurge = 0;
  /** The last pass failed (a store fault mid-batch): deliveries it claimed may still be held under this owner. */
  #broken = false;
  /**
   * When the last successful re-fetch of each record started (this process's
   * clock, ms). A delivery recorded before that instant is covered by it: the
   * fetch read a version at least as new as the one the delivery announced.
   */
  readonly #fetchedAt = new Map<string, number>();

  constructor(deps: DeliveryProcessorDeps) {
    this.#deps = deps;
    this.#opts = { ...DEFAULTS, ...deps.options };
    this.#clock = deps.clock ?? (() => new Date());
  }

  /** Drains what is pending now (a crash's leftovers), then polls for due retries. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#timer = setInterval(() => this.kick(), this.#opts.pollMs);
    this.#timer.unref();
    this.kick();
  }

  /** Ask for a drain soon; calls while one runs coalesce into one more pass after it. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#again = false;
    this.#running = this.#pass().finally(() => {
      this.#running = null;
      if (this.#again) this.kick();
    });
  }

  /** Stops polling and waits for the work in hand; unclaimed deliveries stay in the store for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Works every due delivery until none is left; returns how many were claimed. For start-up, tests and the loop. */
  async drain(): Promise<number> {
    let claimed = 0;
    for (;;) {
      const batch = await this.#deps.store.claim(this.#opts.batchSize, this.#clock(), { leaseMs: this.#opts.leaseMs, ...(this.#deps.owner ? { owner: this.#deps.owner } : {}) });
      if (batch.length === 0) return claimed;
      claimed += batch.length;
      await this.#work(batch);
      if (this.#stopped) return claimed;
    }
  }

  async #pass(): Promise<void> {
    try {
      // Passes run one at a time: what this owner still holds was stranded by a pass that failed (below).
      if (this.#broken && this.#deps.owner !== undefined) {
        const released = await this.#deps.store.releaseClaims(this.#deps.owner.id, this.#clock());
        if (released > 0) this.#deps.logger.warn({ released }, `released ${released} webhook deliveries this process claimed before a pass failed; they are worked again`);
      }
      this.#broken = false;
      await this.drain();
      await this.#purge();
    } catch (err) {
      // A store failure: nothing was lost (the deliveries stay in the store); the rest of a claimed batch
      // is released by the next pass rather than waiting for its lease.
      this.#broken = true;
      const error = asChangegateError(err);
      this.#deps.logger.error({ code: error.code, details: error.details, err: error }, `webhook delivery processing failed: ${error.message}`);
    }
  }

  async #purge(): Promise<void> {
    const now = this.#clock().getTime();
    if (now - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = now;
    const purged = await this.#deps.store.purge(new Date(now - this.#opts.retentionMs));
    if (purged > 0) this.#deps.logger.info({ purged }, `forgot ${purged} webhook deliveries older than the retention period`);
  }

  /**
   * One re-fetch per record, however many deliveries of the batch name it: the
   * fetch starts after all of them were recorded, so it sees a version at least
   * as new as each of them. A record re-fetched since a delivery was recorded
   * (by an earlier batch of a burst) is not fetched again for it.
   */
  async #work(batch: Delivery[]): Promise<void> {
    const fetches = new Map<string, { instance: string; nativeId: string; error: unknown }>();
    const plan = new Map<Delivery, string[]>();
    for (const delivery of batch) {
      const webhook = this.#deps.webhookOf(delivery.instance);
      const ids = webhook ? webhook.toRecordIds(delivery.body) : [];
      if (!webhook) {
        this.#deps.logger.warn({ instance: delivery.instance, deliveryId: delivery.deliveryId }, 'webhook delivery for an instance no longer configured for webhooks; dropped');
      } else if (ids.length === 0) {
        this.#deps.logger.debug({ instance: delivery.instance, deliveryId: delivery.deliveryId }, 'webhook delivery names no record; nothing to fetch');
      }
      const receivedAt = Date.parse(delivery.receivedAt);
      const keys = ids.flatMap((nativeId) => {
        const key = `${delivery.instance}\u0000${nativeId}`;
        // Strictly after: a fetch that started in the same millisecond may have missed it.
        if ((this.#fetchedAt.get(key) ?? -Infinity) > receivedAt) return [];
        if (!fetches.has(key)) fetches.set(key, { instance: delivery.instance, nativeId, error: null });
        return [key];
      });
      plan.set(delivery, keys);
    }
    const queue = [...fetches.values()];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const startedAt = this.#clock().getTime();
        try {
          const result = await this.#deps.engine.syncOne(next.instance, next.nativeId);
          this.#remember(`${next.instance}\u0000${next.nativeId}`, startedAt);
          if (result === null) {
            this.#deps.logger.info(
              { instance: next.instance, nativeId: next.nativeId },
              `record ${next.nativeId} named by a webhook no longer exists upstream (deleted, or moved out of scope); nothing to mirror`,
            );
          }
        } catch (err) {
          next.error = err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, queue.length) }, worker));

    for (const [delivery, keys] of plan) {
      const failure = keys.map((key) => fetches.get(key)).find((f) => f !== undefined && f.error !== null);
      await (failure ? this.#failed(delivery, failure.nativeId, failure.error) : this.#done(delivery));
    }
  }

  #remember(key: string, startedAt: number): void {
    this.#fetchedAt.delete(key);
    this.#fetchedAt.set(key, startedAt);
    // Insertion order is age order: forget the oldest past the bound.
    if (this.#fetchedAt.size > FETCH_MEMORY) this.#fetchedAt.delete(this.#fetchedAt.keys().next().value as string);
  }

  async #done(delivery: Delivery): Promise<void> {
    await this.#deps.store.complete(delivery.id, this.#clock());
    this.#deps.metrics.webhookDeliveries.inc({ instance: delivery.instance, outcome: 'processed' });
  }

  async #failed(delivery: Delivery, nativeId: string, err: unknown): Promise<void> {
    const error = asChangegateError(err);
    const now = this.#clock();
    const context = { instance: delivery.instance, deliveryId: delivery.deliveryId, nativeId, attempts: delivery.attempts, code: error.code, details: error.details };
    const text = `[${error.code}] ${error.message}`;
    const final = endsAtOnce(error);
    if (final || delivery.attempts >= this.#opts.maxAttempts) {
      await this.#deps.store.fail(delivery.id, text, null, now);
      this.#deps.metrics.webhookDeliveries.inc({ instance: delivery.instance, outcome: 'failed' });
      const why = final ? `a retry would meet the same ${error.kind} error; the scheduled sync reads ${nativeId} once it is fixed` : `after ${delivery.attempts} attempts`;
      this.#deps.logger.error(
        { ...context, kind: error.kind, err: error },
        `webhook delivery ${delivery.deliveryId} failed for good (${why}): re-fetching ${nativeId}: ${error.message}`,
      );
      return;
    }
    const wait = Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** (delivery.attempts - 1));
    await this.#deps.store.fail(delivery.id, text, new Date(now.getTime() + wait), now);
    this.#deps.metrics.webhookDeliveries.inc({ instance: delivery.instance, outcome: 'retried' });
    this.#deps.logger.warn({ ...context, retryInMs: wait }, `webhook delivery ${delivery.deliveryId}: re-fetching ${nativeId} failed, retrying: ${error.message}`);
  }
}
