// What /readyz reports about each instance, kept as plain state: the sync
// engine writes it as runs start and finish, the route only reads it. (The
// Prometheus registry is for scraping, not for the process to read back.)
// The store's health is written by the store health monitor (src/store/store-health.ts).

import type { StoreHealthState } from '../store/store-health.ts';

export interface InstanceReadiness {
  id: string;
  /** A run of this instance is in progress in this process. */
  syncing: boolean;
  /** ISO-8601 UTC; null when no run has succeeded since this process started. */
  lastSuccessAt: string | null;
  /** The last run's failure, cleared by the next success. */
  lastError: { code: string; at: string } | null;
}

interface InstanceState {
  running: number;
  lastSuccess: Date | null;
  lastError: { code: string; at: Date } | null;
}

export class Readiness {
  readonly #instances = new Map<string, InstanceState>();
  #store: StoreHealthState = { ok: true };

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
      state = { running: 0, lastSuccess: null, lastError: null };
      this.#instances.set(instance, state);
    }
    return state;
  }

  registered(instance: string): void {
    this.#state(instance);
  }

  runStarted(instance: string): void {
    this.#state(instance).running += 1;
  }

  /** `error` is the failed run's error code; absent on success. */
  runFinished(instance: string, at: Date, error?: { code: string }): void {
    const state = this.#state(instance);
    state.running = Math.max(0, state.running - 1);
    if (error === undefined) {
      state.lastSuccess = at;
      state.lastError = null;
    } else {
      state.lastError = { code: error.code, at };
    }
  }

  /** When the instance's last run succeeded in this process (the validate endpoint's staleness test). */
  lastSuccessAt(instance: string): Date | null {
    return this.#instances.get(instance)?.lastSuccess ?? null;
  }

  isSyncing(instance: string): boolean {
    return (this.#instances.get(instance)?.running ?? 0) > 0;
  }

  /** Every registered instance, in registration order. */
  instances(): InstanceReadiness[] {
    return [...this.#instances].map(([id, s]) => ({
      id,
      syncing: s.running > 0,
      lastSuccessAt: s.lastSuccess?.toISOString() ?? null,
      lastError: s.lastError === null ? null : { code: s.lastError.code, at: s.lastError.at.toISOString() },
    }));
  }
}
