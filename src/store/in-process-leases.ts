// Leases held in this process's memory, for the embedded store: its file is
// served by one process, so the lease only keeps one instance's work to one
// run at a time here. The fence counts on from the greatest one the store saw
// written (`fenceFloor`), so a process started after another took the file
// writes under a greater fence than the one before it.

import { randomUUID } from 'node:crypto';
import type { Lease, LeaseStore } from './lease-store.ts';

export class InProcessLeases implements LeaseStore {
  readonly #held = new Map<string, Lease>();
  readonly #fences = new Map<string, number>();
  readonly #floor: ((instance: string) => Promise<number>) | undefined;

  /** `fenceFloor`: the greatest fence the store has seen written for an instance, so fences keep growing across restarts. */
  constructor(options: { fenceFloor?: (instance: string) => Promise<number> } = {}) {
    this.#floor = options.fenceFloor;
  }

  #live(instance: string, now: Date): Lease | null {
    const lease = this.#held.get(instance);
    return lease === undefined || Date.parse(lease.expiresAt) <= now.getTime() ? null : lease;
  }

  async acquire(instance: string, holder: string, ttlMs: number, now: Date): Promise<Lease | null> {
    // Read before the check: from the check on, nothing awaits, so two takers in this process cannot both pass.
    const floor = this.#floor === undefined || this.#live(instance, now) !== null ? 0 : await this.#floor(instance);
    if (this.#live(instance, now) !== null) return null;
    const fence = Math.max(this.#fences.get(instance) ?? 0, floor) + 1;
    this.#fences.set(instance, fence);
    const lease: Lease = { instance, holder, token: randomUUID(), fence, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
    this.#held.set(instance, lease);
    return { ...lease };
  }

  async renew(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    const current = this.#live(lease.instance, now);
    if (current === null || current.token !== lease.token) return null;
    const renewed: Lease = { ...current, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
    this.#held.set(lease.instance, renewed);
    return { ...renewed };
  }

  async release(lease: Lease): Promise<boolean> {
    if (this.#held.get(lease.instance)?.token !== lease.token) return false;
    this.#held.delete(lease.instance);
    return true;
  }

  async current(instance: string, now: Date): Promise<Lease | null> {
    const lease = this.#live(instance, now);
    return lease === null ? null : { ...lease };
  }

  async isCurrent(instance: string, fence: number, now: Date): Promise<boolean> {
    return this.#live(instance, now)?.fence === fence;
  }

  async close(): Promise<void> {
    this.#held.clear();
  }
}
