// Run locks held in this process's memory: they keep two runs of one instance
// apart within one process (a scheduled run, a webhook-triggered one, an API
// call). A one-shot `changegate sync` beside `serve` is not kept out: the two
// runs then overlap, which idempotent upserts and cursors saved after the
// write make harmless, only wasteful. Several processes sharing a store take
// the lease-backed adapter that comes with MongoDB.

import { randomUUID } from 'node:crypto';
import type { RunLock, RunLocks } from './run-locks.ts';

export class InProcessRunLocks implements RunLocks {
  readonly #held = new Map<string, RunLock>();

  #live(instance: string, now: Date): RunLock | null {
    const lock = this.#held.get(instance);
    if (lock === undefined) return null;
    if (Date.parse(lock.expiresAt) <= now.getTime()) {
      this.#held.delete(instance);
      return null;
    }
    return lock;
  }

  async acquire(instance: string, owner: string, ttlMs: number, now: Date): Promise<RunLock | null> {
    if (this.#live(instance, now) !== null) return null;
    const lock: RunLock = { instance, owner, token: randomUUID(), expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
    this.#held.set(instance, lock);
    return { ...lock };
  }

  async renew(lock: RunLock, ttlMs: number, now: Date): Promise<RunLock | null> {
    const current = this.#live(lock.instance, now);
    if (current === null || current.token !== lock.token) return null;
    const renewed: RunLock = { ...current, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
    this.#held.set(lock.instance, renewed);
    return { ...renewed };
  }

  async release(lock: RunLock): Promise<boolean> {
    if (this.#held.get(lock.instance)?.token !== lock.token) return false;
    this.#held.delete(lock.instance);
    return true;
  }

  async holder(instance: string, now: Date): Promise<RunLock | null> {
    const lock = this.#live(instance, now);
    return lock === null ? null : { ...lock };
  }

  async close(): Promise<void> {
    this.#held.clear();
  }
}
