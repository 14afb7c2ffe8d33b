// A run lock while a sync holds it: taken before the run, renewed after every
// page, let go at the end. A renewal the port refuses means the lock lapsed
// and another run may hold the instance now, so the holder stops.

import { ChangegateError } from '../errors.ts';
import type { RunLock, RunLocks } from '../store/run-locks.ts';

/** Longer than any one page can take (retries and backoff included); a crashed holder frees the instance after it. */
export const DEFAULT_RUN_LOCK_TTL_MS = 15 * 60_000;

export class HeldRunLock {
  readonly #locks: RunLocks;
  readonly #ttlMs: number;
  #lock: RunLock;

  private constructor(locks: RunLocks, ttlMs: number, lock: RunLock) {
    this.#locks = locks;
    this.#ttlMs = ttlMs;
    this.#lock = lock;
  }

  /** Null while someone else holds the instance. */
  static async take(locks: RunLocks, instance: string, owner: string, ttlMs: number, now: Date): Promise<HeldRunLock | null> {
    const lock = await locks.acquire(instance, owner, ttlMs, now);
    return lock === null ? null : new HeldRunLock(locks, ttlMs, lock);
  }

  /** Throws CG_SYNC_BUSY when the lock is not held any more. */
  async renew(now: Date): Promise<void> {
    const renewed = await this.#locks.renew(this.#lock, this.#ttlMs, now);
    if (renewed === null) {
      const { instance } = this.#lock;
      throw new ChangegateError('CG_SYNC_BUSY', `the run lock of "${instance}" lapsed and may be held by another run now; this run stopped (what it stored is kept)`, {
        details: { instance, lapsed: true },
      });
    }
    this.#lock = renewed;
  }

  release(): Promise<boolean> {
    return this.#locks.release(this.#lock);
  }
}
