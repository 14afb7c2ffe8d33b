// The webhook delivery port: a durable inbox. The HTTP receiver records a
// verified delivery and answers 202; a processor claims deliveries from here
// and works them. Two adapters (SQLite embedded, MongoDB for scale-out) pass one
// contract suite (test/contract/delivery-store.contract.ts).

import type { System } from '../domain/change.ts';
import type { ClaimOwner } from './claim-owner.ts';

/** `pending` until worked; `done` once every record it names was re-fetched; `failed` when retries ran out, or at once for an error a retry cannot fix. */
export type DeliveryStatus = 'pending' | 'done' | 'failed';

export interface NewDelivery {
  system: System;
  instance: string;
  /** The source's delivery id (`x-atlassian-webhook-identifier`), or `sha256:<hex of the raw body>` when it sends none. */
  deliveryId: string;
  /** ISO-8601 UTC. */
  receivedAt: string;
  /** The parsed JSON body, kept as received. */
  body: unknown;
}

export interface Delivery extends NewDelivery {
  /** Store key: `system:instance:deliveryId`. */
  id: string;
  status: DeliveryStatus;
  /** Attempts begun (a claim is an attempt, so one cut short by a crash counts). */
  attempts: number;
  /** When it may next be claimed (ISO-8601 UTC): a retry's time, or the end of a claim's lease. */
  nextAttemptAt: string;
  lastError: string | null;
  /** When it became `done` or `failed`. */
  finishedAt: string | null;
}

export interface RecordResult {
  id: string;
  /** The same delivery id was recorded before for this instance: nothing was stored, nothing will be processed again. */
  duplicate: boolean;
}

export interface ClaimOptions {
  /** How long a claimed delivery is hidden from other claims; a processor that dies mid-work lets it come back after this. */
  leaseMs?: number;
  /** Recorded with the lease, so a later process can release what a dead owner held (see claim-owner.ts). */
  owner?: ClaimOwner;
}

export const DEFAULT_LEASE_MS = 30_000;

export function deliveryKey(system: System, instance: string, deliveryId: string): string {
  return `${system}:${instance}:${deliveryId}`;
}

export interface DeliveryStore {
  /** Durable before it resolves. De-duplicates on `(system, instance, deliveryId)`; a duplicate keeps the first body. */
  record(delivery: NewDelivery): Promise<RecordResult>;
  /**
   * Atomically takes up to `limit` pending deliveries that are due at `now` (new,
   * retry time reached, or lease expired), oldest received first, counts the
   * attempt and leases them, so two processors never hold the same one.
   */
  claim(limit: number, now: Date, options?: ClaimOptions): Promise<Delivery[]>;
  /** Who holds deliveries leased now (those claimed with an owner), each once. */
  claimOwners(): Promise<ClaimOwner[]>;
  /**
   * Makes the deliveries `ownerId` has leased due at `now`, without counting an
   * attempt (the claim that died already counted one). For an owner known dead;
   * returns how many.
   */
  releaseClaims(ownerId: string, now: Date): Promise<number>;
  /** Marks a claimed delivery done; it is never claimed again. */
  complete(id: string, now: Date): Promise<void>;
  /** Records the error; `retryAt` schedules another attempt, null gives up (status `failed`). */
  fail(id: string, error: string, retryAt: Date | null, now: Date): Promise<void>;
  get(id: string): Promise<Delivery | null>;
  /** Deliveries not yet done or failed (leased ones included). */
  pendingCount(instance?: string): Promise<number>;
  /**
   * Forgets done and failed deliveries finished before `before`; returns how many.
   * A replay of a purged delivery id is accepted as new, so the retention period
   * must outlast the source's redelivery window (Jira: about 30 minutes).
   */
  purge(before: Date): Promise<number>;
  close(): Promise<void>;
}
