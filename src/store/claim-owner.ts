// Who holds a claim. Every process gets an owner at start (a random id, plus
// its host and pid), and the outbox, the webhook inbox and the event inbox
// record it on each claim, so the next process can tell a claim whose holder
// died from one a live process is working on, and release the first at once
// instead of waiting for its lease.
//
// How an owner is judged dead is the deployment's business, not the store's:
// the embedded store is served from one host, so `judgeOwnerOnThisHost` asks
// the operating system whether the pid still runs (no table of heartbeats to
// keep, nothing to go stale). A store shared by several replicas (MongoDB,
// #13) keeps the same port and judges owners by heartbeats instead: the store
// lists who holds claims (`claimOwners`) and releases one owner's claims
// (`releaseClaims`); the judging stays outside.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

export interface ClaimOwner {
  /** Random per process start: a pid reused by a later process (pid 1 in every container) is still another owner. */
  id: string;
  host: string;
  pid: number;
  /** ISO-8601 UTC. */
  startedAt: string;
}

/** `unknown`: cannot be told from here (another host); its claims wait for their lease. */
export type OwnerState = 'alive' | 'dead' | 'unknown';

let current: ClaimOwner | null = null;

/** This process's owner, the same for every caller in the process. */
export function processOwner(): ClaimOwner {
  current ??= { id: randomUUID(), host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
  return current;
}

/** Whether the pid runs on this host: signal 0 checks without signalling; EPERM means it runs under another user. */
export function pidIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * For a store served from this host only, by one process at a time (as the
 * embedded store is: its run locks are in-process). A pid that runs again after a reboot
 * or in another container is taken as alive: its claims then wait for their
 * lease, which is slow but never doubles a write.
 */
export function judgeOwnerOnThisHost(owner: ClaimOwner, self: ClaimOwner = processOwner(), isRunning: (pid: number) => boolean = pidIsRunning): OwnerState {
  if (owner.id === self.id) return 'alive';
  if (owner.host !== self.host) return 'unknown';
  // Our own pid under another id: an earlier process that had it and is gone.
  if (owner.pid === self.pid) return 'dead';
  return isRunning(owner.pid) ? 'alive' : 'dead';
}
