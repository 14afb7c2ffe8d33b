// The lease port: which process works which connector instance when several
// share a store. A holder takes an instance's lease for a time-to-live and
// renews it while it works; one that dies lets it lapse, and another process
// takes it within that time. Each acquisition carries a fencing token that
// only grows per instance: a write made under a lease that was lost (the
// holder paused past its expiry and another took over) presents its fence and
// is refused (`isCurrent`). Adapters pass one contract suite
// (test/contract/lease-store.contract.ts).

export interface Lease {
  /** The connector instance. */
  instance: string;
  /** Who holds it (a process: host, pid, start id), for operators and logs. */
  holder: string;
  /** Unique per acquisition: what `renew` and `release` must present. */
  token: string;
  /** 1, 2, 3 … per acquisition of the instance, never reused, never smaller than an earlier one. */
  fence: number;
  /** ISO-8601 UTC: when it lapses unless renewed. */
  expiresAt: string;
}

export interface LeaseStore {
  /** Takes the instance's lease for `ttlMs` from `now`; null while another acquisition holds it (the same holder's included). */
  acquire(instance: string, holder: string, ttlMs: number, now: Date): Promise<Lease | null>;
  /** Extends a held lease to `now + ttlMs`; null when it lapsed or was released: the holder then stops its work. */
  renew(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null>;
  /** Frees a held lease (the next acquisition gets a greater fence); false when not held under that token. */
  release(lease: Lease): Promise<boolean>;
  /** The live lease of an instance at `now`, or null. */
  current(instance: string, now: Date): Promise<Lease | null>;
  /** Whether `fence` is the instance's live lease at `now`: a write under any other is refused. */
  isCurrent(instance: string, fence: number, now: Date): Promise<boolean>;
  close(): Promise<void>;
}
