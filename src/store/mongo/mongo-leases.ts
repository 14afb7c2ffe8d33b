// Leases on MongoDB: the run-lock documents of mongo-run-locks.ts in a
// collection of their own, whose fence is the lease's fencing token.

import type { Lease, LeaseStore } from '../lease-store.ts';
import type { RunLock } from '../run-locks.ts';
import type { MongoConnection } from './mongo-connection.ts';
import { MongoRunLocks } from './mongo-run-locks.ts';

const toLease = (lock: RunLock, fence: number): Lease => ({ instance: lock.instance, holder: lock.owner, token: lock.token, fence, expiresAt: lock.expiresAt });
const toLock = (lease: Lease): RunLock => ({ instance: lease.instance, owner: lease.holder, token: lease.token, expiresAt: lease.expiresAt });

export class MongoLeases implements LeaseStore {
  readonly #locks: MongoRunLocks;

  constructor(conn: MongoConnection) {
    this.#locks = new MongoRunLocks(conn, 'leases');
  }

  async acquire(instance: string, holder: string, ttlMs: number, now: Date): Promise<Lease | null> {
    const taken = await this.#locks.acquireFenced(instance, holder, ttlMs, now);
    return taken === null ? null : toLease(taken.lock, taken.fence);
  }

  async renew(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    const renewed = await this.#locks.renew(toLock(lease), ttlMs, now);
    return renewed === null ? null : toLease(renewed, lease.fence);
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#locks.release(toLock(lease));
  }

  async current(instance: string, now: Date): Promise<Lease | null> {
    const held = await this.#locks.holderFenced(instance, now);
    return held === null ? null : toLease(held.lock, held.fence);
  }

  async isCurrent(instance: string, fence: number, now: Date): Promise<boolean> {
    return (await this.#locks.holderFenced(instance, now))?.fence === fence;
  }

  async close(): Promise<void> {
    await this.#locks.close();
  }
}
