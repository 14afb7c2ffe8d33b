// The leases this process holds, kept alive on a timer. `serve` asks for every
// connector instance: a free (or lapsed) lease is taken on the next tick, a
// held one renewed well inside its time-to-live, and all are released on
// shutdown. Work done under a lease carries its fence and its signal: the
// signal aborts the moment the lease is lost (a renewal refused or failed, or
// the expiry reached without one), and the store refuses a write under a fence
// older than the newest it has seen, so a holder that paused past its expiry
// cannot overwrite what the next holder wrote.

import { ChangegateError, asChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Lease, LeaseStore } from '../store/lease-store.ts';

/** Defaults of `leases:` in the config: a replica that dies hands its instances over within about 40 s. */
export const DEFAULT_LEASE_TTL_MS = 30_000;
export const DEFAULT_LEASE_RENEW_MS = 10_000;

export interface LeaseKeeperDeps {
  leases: LeaseStore;
  /** Who this process is in the lease records (host, pid, start id). */
  holder: string;
  ttlMs: number;
  /** How often held leases are renewed and free ones sought; well inside `ttlMs`. */
  renewEveryMs: number;
  logger: Logger;
  clock?: () => Date;
  /** Told when this process takes a lease on a tick (it may start the work at once). */
  onAcquired?: (name: string) => void;
}

/** A lease in hand: the fence to present with each write, and a signal that aborts when it is lost. */
export interface HeldLease {
  name: string;
  fence: number;
  signal: AbortSignal;
}

interface Holding {
  lease: Lease;
  lost: AbortController;
}

export class LeaseKeeper {
  readonly #deps: LeaseKeeperDeps;
  readonly #held = new Map<string, Holding>();
  readonly #wanted = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopped = false;

  constructor(deps: LeaseKeeperDeps) {
    this.#deps = deps;
  }

  get holder(): string {
    return this.#deps.holder;
  }

  /**
   * Seeks and keeps the leases named, now and on every tick, until `stop()`.
   * What the first tick takes is not announced to `onAcquired`: the caller
   * starts its own work at start-up (or chose not to).
   */
  start(names: readonly string[]): void {
    for (const name of names) this.#wanted.add(name);
    this.#timer ??= setInterval(() => void this.tick(), this.#deps.renewEveryMs);
    this.#timer.unref();
    void this.tick(false);
  }

  /** The lease if this process holds it now: one whose expiry passed without a renewal is lost, whether a tick saw it or not. */
  held(name: string): HeldLease | null {
    const holding = this.#held.get(name);
    if (holding === undefined) return null;
    if (Date.parse(holding.lease.expiresAt) <= this.#now().getTime()) {
      this.#lose(name, holding, 'it expired before it could be renewed');
      return null;
    }
    return { name, fence: holding.lease.fence, signal: holding.lost.signal };
  }

  /** The lease, taken now if it is free; kept and renewed until `stop()`. Null while another process holds it. */
  async ensure(name: string): Promise<HeldLease | null> {
    const held = this.held(name);
    if (held !== null || this.#stopped) return held;
    this.#wanted.add(name);
    if (await this.#acquire(name)) this.#timer ??= setInterval(() => void this.tick(), this.#deps.renewEveryMs).unref();
    return this.held(name);
  }

  /** Who holds the lease now (for messages), or null. */
  async currentHolder(name: string): Promise<string | null> {
    return (await this.#deps.leases.current(name, this.#now()).catch(() => null))?.holder ?? null;
  }

  /** The store refused a write under `fence`: another process holds a newer lease; this one stops its work. */
  refused(name: string, fence: number): void {
    const holding = this.#held.get(name);
    if (holding?.lease.fence !== fence) return;
    this.#lose(name, holding, 'the store refused a write under its fence');
    // Let go, so this process can take a new lease (and fence) as soon as the instance is free.
    void this.#deps.leases.release(holding.lease).catch(() => undefined);
  }

  /** Renews what is held, takes what is wanted and free; one tick at a time. */
  tick(announce = true): Promise<void> {
    this.#ticking ??= this.#tick(announce).finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #tick(announce: boolean): Promise<void> {
    for (const [name, holding] of this.#held) {
      if (this.#stopped) return;
      const now = this.#now();
      if (Date.parse(holding.lease.expiresAt) <= now.getTime()) {
        this.#lose(name, holding, 'it expired before it could be renewed');
        continue;
      }
      try {
        const renewed = await this.#deps.leases.renew(holding.lease, this.#deps.ttlMs, now);
        if (this.#held.get(name) !== holding) continue;
        if (renewed === null) this.#lose(name, holding, 'its renewal was refused (it lapsed or another process took it)');
        else holding.lease = renewed;
      } catch (err) {
        // Unconfirmed is lost: the work stops now rather than run on a lease another may hold by the expiry.
        this.#lose(name, holding, `its renewal failed: ${asChangegateError(err).message}`);
        await this.#deps.leases.release(holding.lease).catch(() => undefined);
      }
    }
    for (const name of this.#wanted) {
      if (this.#stopped) return;
      if (this.#held.has(name)) continue;
      try {
        if ((await this.#acquire(name)) && announce) this.#deps.onAcquired?.(name);
      } catch (err) {
        const error = asChangegateError(err);
        this.#deps.logger.warn({ lease: name, code: error.code, err: error }, `taking the lease of ${name} failed; tried again in ${this.#deps.renewEveryMs} ms: ${error.message}`);
      }
    }
  }

  async #acquire(name: string): Promise<boolean> {
    const lease = await this.#deps.leases.acquire(name, this.#deps.holder, this.#deps.ttlMs, this.#now());
    if (lease === null) return false;
    if (this.#stopped) {
      await this.#deps.leases.release(lease).catch(() => undefined);
      return false;
    }
    this.#held.set(name, { lease, lost: new AbortController() });
    this.#deps.logger.info({ lease: name, holder: lease.holder, fence: lease.fence, expiresAt: lease.expiresAt }, `lease of ${name} taken (fence ${lease.fence})`);
    return true;
  }

  #lose(name: string, holding: Holding, why: string): void {
    this.#held.delete(name);
    const { fence } = holding.lease;
    this.#deps.logger.warn({ lease: name, fence }, `lease of ${name} lost: ${why}; its work stops`);
    holding.lost.abort(
      new ChangegateError('CG_LEASE_LOST', `this process lost the lease of "${name}" (${why}); the work under fence ${fence} stopped`, { details: { instance: name, fence } }),
    );
  }

  /** Stops renewing and releases every held lease, so another process takes them at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#ticking;
    for (const [name, holding] of this.#held) {
      this.#held.delete(name);
      try {
        await this.#deps.leases.release(holding.lease);
        this.#deps.logger.info({ lease: name, fence: holding.lease.fence }, `lease of ${name} released`);
      } catch (err) {
        const error = asChangegateError(err);
        this.#deps.logger.warn({ lease: name, code: error.code, err: error }, `releasing the lease of ${name} failed; it lapses on its own: ${error.message}`);
      }
    }
  }

  #now(): Date {
    return this.#deps.clock?.() ?? new Date();
  }
}
