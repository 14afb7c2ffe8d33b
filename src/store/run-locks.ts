// The run-lock port: who runs an instance's sync right now. A holder takes the
// lock for a time-to-live and renews it while it works; a holder that dies
// lets it lapse, and the next taker gets it. The in-process adapter
// (in-process-run-locks.ts) serves a single process; a lease-backed adapter
// (one document per instance, taken by a conditional update) comes with
// MongoDB, where several processes share one store. Adapters pass one contract
// suite (test/contract/run-locks.contract.ts).

export interface RunLock {
  instance: string;
  /** Who holds it (a process or engine name, for operators and logs). */
  owner: string;
  /** Unique per acquisition: what `renew` and `release` must present, so a holder whose lock lapsed and was taken cannot touch the new holder's. */
  token: string;
  /** ISO-8601 UTC: when it lapses unless renewed. */
  expiresAt: string;
}

export interface RunLocks {
  /**
   * Takes the instance's lock for `ttlMs` from `now`, or answers null while
   * another acquisition holds it (the same owner's included: a lock is not
   * re-entrant). A lock past its expiry is free.
   */
  acquire(instance: string, owner: string, ttlMs: number, now: Date): Promise<RunLock | null>;
  /**
   * Extends a held lock to `now + ttlMs`; null when it is not held any more: it lapsed (taken by
   * someone else or not: another run may have come and gone) or was released. The holder then stops.
   */
  renew(lock: RunLock, ttlMs: number, now: Date): Promise<RunLock | null>;
  /** Frees a held lock; false when it is not held under that token any more (nothing changed). */
  release(lock: RunLock): Promise<boolean>;
  /** The live lock of an instance at `now`, or null. */
  holder(instance: string, now: Date): Promise<RunLock | null>;
  close(): Promise<void>;
}
