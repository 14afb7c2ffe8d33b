// Whether the store can keep what it is given, as readiness, the webhook
// ingress and the validate endpoint need to know it without touching the store
// on the request path. Each adapter checks its own store (`StoreBundle.health`);
// the monitor asks every second, and at once when a port meets a fault, and
// keeps the answer as plain state.

import type { Logger } from '../log.ts';

/** Why the store cannot take work: another process holds its write lock, a page is corrupt, its file is gone, its disk is full, its server cannot be reached (MongoDB). */
export type StoreFaultReason = 'locked' | 'corrupt' | 'missing' | 'full' | 'unreachable';

/** What one check of the store found. */
export type StoreHealth = { ok: true } | { ok: false; reason: StoreFaultReason; detail: string };

/** What the monitor holds: the last check, and since when an unhealthy store has been so for the same reason. */
export type StoreHealthState = { ok: true } | { ok: false; reason: StoreFaultReason; detail: string; since: string };

/** How each fault reads in an error message or a validate answer. */
export const STORE_FAULT_TEXT: Readonly<Record<StoreFaultReason, string>> = {
  locked: 'the store is locked by another process',
  corrupt: 'the store file is corrupt',
  missing: 'the store file was deleted or replaced',
  full: 'the disk holding the store is full',
  unreachable: 'the store server cannot be reached',
};

export const DEFAULT_HEALTH_CHECK_MS = 1_000;

export interface StoreHealthMonitorOptions {
  everyMs?: number;
  /** Called with the new state each time it changes (readiness keeps it). */
  onChange?: (state: StoreHealthState) => void;
  logger?: Logger;
  clock?: () => Date;
}

export class StoreHealthMonitor {
  readonly #check: () => Promise<StoreHealth>;
  readonly #options: StoreHealthMonitorOptions;
  #state: StoreHealthState = { ok: true };
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<StoreHealthState> | null = null;
  #again = false;

  constructor(check: () => Promise<StoreHealth>, options: StoreHealthMonitorOptions = {}) {
    this.#check = check;
    this.#options = options;
  }

  current(): StoreHealthState {
    return this.#state;
  }

  /** Checks now, then every `everyMs` until stopped. */
  start(): void {
    if (this.#timer !== null) return;
    void this.checkNow();
    this.#timer = setInterval(() => void this.checkNow(), this.#options.everyMs ?? DEFAULT_HEALTH_CHECK_MS);
    this.#timer.unref();
  }

  /** One check at a time: a call during a check is answered by one more check after it, not a second one beside it. */
  checkNow(): Promise<StoreHealthState> {
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }

  async #loop(): Promise<StoreHealthState> {
    do {
      this.#again = false;
      try {
        this.#apply(await this.#check());
      } catch (err) {
        // A check that throws is a bug in the adapter, not a verdict on the store: the last state stands.
        this.#options.logger?.error({ err }, 'the store health check failed');
      }
    } while (this.#again);
    return this.#state;
  }

  #apply(health: StoreHealth): void {
    const before = this.#state;
    if (health.ok) {
      if (before.ok) return;
      this.#state = { ok: true };
      this.#options.logger?.info({ was: before.reason }, 'the store is healthy again');
    } else {
      if (!before.ok && before.reason === health.reason) return;
      const since = (this.#options.clock?.() ?? new Date()).toISOString();
      this.#state = { ok: false, reason: health.reason, detail: health.detail, since };
      this.#options.logger?.error({ reason: health.reason, detail: health.detail }, `store unhealthy: ${STORE_FAULT_TEXT[health.reason]}; /readyz answers 503 and webhooks 503 until it clears`);
    }
    this.#options.onChange?.(this.#state);
  }
}
