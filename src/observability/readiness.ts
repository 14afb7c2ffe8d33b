// What /readyz reports about each instance, kept as plain state: the sync
// engine writes it as runs start and finish, the route only reads it. (The
// Prometheus registry is for scraping, not for the process to read back.)
// The store's health is written by the store health monitor (src/store/store-health.ts).

import { formatDuration } from '../policy/zoned-time.ts';
import type { StoreHealthState } from '../store/store-health.ts';

/** The staleness bound when the instance's settings give none: the validate endpoint's default `maxStaleness`. */
export const DEFAULT_STALE_AFTER_MS = 900_000;

export interface InstanceReadiness {
  id: string;
  /** A run of this instance is in progress in this process. */
  syncing: boolean;
  /**
   * ISO-8601 UTC: the last successful sync known, this process's or (on a shared
   * store) one another replica recorded; null when none is known.
   */
  lastSuccessAt: string | null;
  /** The last run's failure, cleared by the next success. */
  lastError: { code: string; at: string } | null;
  /** Runs of this instance that failed in this process since its last success here (or since it started). */
  failedSinceSuccess: number;
  /** How long the mirror may go without a successful sync before it counts as stale. */
  staleAfterMs: number;
  /** Whether a stale mirror makes the process unready (503): only when the instance sets `unreadyAfter`. */
  unreadyWhenStale: boolean;
  /** Why the mirror is stale, or null when it is not. */
  stale: string | null;
}

interface InstanceState {
  running: number;
  /** When this process took the instance on: until a sync succeeds, the bound counts from here. */
  since: Date;
  staleAfterMs: number;
  unreadyWhenStale: boolean;
  /** Runs finished in this process, whatever their outcome. */
  finished: number;
  failedSinceSuccess: number;
  lastSuccess: Date | null;
  /** The last success any process recorded in a shared store, as last read from it. */
  elsewhere: Date | null;
  lastError: { code: string; at: Date } | null;
}

function later(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  return b === null || a >= b ? a : b;
}

export class Readiness {
  readonly #instances = new Map<string, InstanceState>();
  readonly #clock: () => Date;
  #store: StoreHealthState = { ok: true };

  constructor(clock: () => Date = () => new Date()) {
    this.#clock = clock;
  }

  /** The store's health as the monitor last found it; healthy until a check says otherwise. */
  store(): StoreHealthState {
    return this.#store;
  }

  storeChanged(state: StoreHealthState): void {
    this.#store = state;
  }

  #state(instance: string): InstanceState {
    let state = this.#instances.get(instance);
    if (state === undefined) {
      state = { running: 0, since: this.#clock(), staleAfterMs: DEFAULT_STALE_AFTER_MS, unreadyWhenStale: false, finished: 0, failedSinceSuccess: 0, lastSuccess: null, elsewhere: null, lastError: null };
      this.#instances.set(instance, state);
    }
    return state;
  }

  registered(instance: string, staleAfterMs: number = DEFAULT_STALE_AFTER_MS, unreadyWhenStale = false): void {
    const state = this.#state(instance);
    state.staleAfterMs = staleAfterMs;
    state.unreadyWhenStale = unreadyWhenStale;
  }

  runStarted(instance: string): void {
    this.#state(instance).running += 1;
  }

  /** `error` is the failed run's error code; absent on success. */
  runFinished(instance: string, at: Date, error?: { code: string }): void {
    const state = this.#state(instance);
    state.running = Math.max(0, state.running - 1);
    state.finished += 1;
    if (error === undefined) {
      state.lastSuccess = at;
      state.lastError = null;
      state.failedSinceSuccess = 0;
    } else {
      state.lastError = { code: error.code, at };
      state.failedSinceSuccess += 1;
    }
  }

  /** The last success any process sharing the store recorded for the instance (another replica may be the one syncing it). */
  succeededElsewhere(instance: string, at: Date): void {
    const state = this.#state(instance);
    state.elsewhere = later(state.elsewhere, at);
  }

  /** When the instance's last run succeeded in this process. */
  lastSuccessAt(instance: string): Date | null {
    return this.#instances.get(instance)?.lastSuccess ?? null;
  }

  /** The last success known, here or recorded by another replica (the validate endpoint's staleness test). */
  lastKnownSuccess(instance: string): Date | null {
    const state = this.#instances.get(instance);
    return state === undefined ? null : later(state.lastSuccess, state.elsewhere);
  }

  isSyncing(instance: string): boolean {
    return (this.#instances.get(instance)?.running ?? 0) > 0;
  }

  /** Every registered instance, in registration order, judged at the clock's now. */
  instances(): InstanceReadiness[] {
    const now = this.#clock();
    return [...this.#instances].map(([id, s]) => {
      const known = later(s.lastSuccess, s.elsewhere);
      return {
        id,
        syncing: s.running > 0,
        lastSuccessAt: known?.toISOString() ?? null,
        lastError: s.lastError === null ? null : { code: s.lastError.code, at: s.lastError.at.toISOString() },
        failedSinceSuccess: s.failedSinceSuccess,
        staleAfterMs: s.staleAfterMs,
        unreadyWhenStale: s.unreadyWhenStale,
        stale: staleness(id, s, known, now),
      };
    });
  }
}

function staleness(id: string, s: InstanceState, known: Date | null, now: Date): string | null {
  // A success recorded before this process started (a restart after downtime) does not count
  // against it: the bound then runs from the start, so a slow first run is not judged at once.
  const from = known !== null && known >= s.since ? known : null;
  // A first sync may take long (a large instance, a full read): until this process's first run
  // ends, or some replica's success is seen, there is nothing to judge, as before any sync ran.
  if (s.finished === 0 && from === null) return null;
  const age = now.getTime() - (from ?? s.since).getTime();
  if (age <= s.staleAfterMs) return null;
  const last = known === null ? 'no successful sync since changegate started' : `last successful sync at ${known.toISOString()}`;
  const failed = s.failedSinceSuccess === 0 ? '' : `; ${s.failedSinceSuccess} sync${s.failedSinceSuccess === 1 ? '' : 's'} failed since${s.lastError === null ? '' : `, the last with ${s.lastError.code}`}`;
  return `the mirror of ${id} is stale: ${last} (${formatDuration(now.getTime() - (known ?? s.since).getTime())} ago${failed}), more than the ${formatDuration(s.staleAfterMs)} allowed`;
}
