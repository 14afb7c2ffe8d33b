// The outbox port: every write to a ticket is recorded here first, with a
// deterministic idempotency key, and worked by src/sync/outbox-worker.ts. An
// item survives a crash (it is claimed with a lease that runs out, and under
// its owner, so the next process releases it at once when the owner died) and
// is never enqueued twice (the key is unique). Adapters pass one contract suite
// (test/contract/outbox-store.contract.ts).

import type { EvidenceHead, NoteSeries, TicketFile, TicketNote, TicketVerdict } from '../kit/connector.ts';
import type { ErrorKind } from '../errors.ts';
import type { ClaimOwner } from './claim-owner.ts';

export const OUTBOX_ACTIONS = ['set-verdict', 'comment', 'transition', 'attach'] as const;
export type OutboxAction = (typeof OUTBOX_ACTIONS)[number];

/**
 * `pending` until claimed; `claimed` while a worker holds its lease; `done` once
 * written (or found already written); `failed` when parked (a refusal, or retries
 * ran out); `superseded` when a newer item of the same kind made it pointless.
 */
export type OutboxStatus = 'pending' | 'claimed' | 'done' | 'failed' | 'superseded';

/**
 * What caused the item: an assessment's outcome (superseded by the next outcome), an enforcement, the
 * evidence summary or a hypercare alert note (neither of the last three ever superseded, nor superseding an
 * assessment's items).
 */
export type OutboxSource = 'assessment' | 'enforcement' | 'evidence' | 'hypercare';

export interface TransitionPayload {
  toNativeState: string;
  /** The native state the ticket must still be in; otherwise the move is superseded. */
  expectedNativeState: string;
  /** Posted (as its own outbox item) after the move succeeded. */
  noteAfter?: TicketNote;
  /** Posted (as its own outbox item) when the ticket system refused the move. */
  noteIfRefused?: TicketNote;
}

export type OutboxPayload =
  | { action: 'set-verdict'; verdict: TicketVerdict }
  /** `series`: a note that stands for the latest decision (the verdict), judged from the ticket too (see NoteSeries). */
  | { action: 'comment'; note: TicketNote; series?: NoteSeries }
  | ({ action: 'transition' } & TransitionPayload)
  /** A file for the ticket (the evidence bundle as of `evidence`), kept whole here so what is attached is what was queued. */
  | { action: 'attach'; file: TicketFile; evidence?: EvidenceHead };

export interface NewOutboxItem {
  instance: string;
  changeId: string;
  nativeId: string;
  source: OutboxSource;
  payload: OutboxPayload;
  /** Unique across the outbox: an item with a key already present is not enqueued again. */
  idempotencyKey: string;
}

export interface OutboxError {
  code: string;
  kind: ErrorKind;
  message: string;
}

export interface OutboxItem extends NewOutboxItem {
  id: number;
  action: OutboxAction;
  status: OutboxStatus;
  /** Claims so far (a claim cut short by a crash counts). */
  attempts: number;
  /** ISO-8601 UTC: when it may be claimed (a retry's time, or the end of the current lease). */
  nextAttemptAt: string;
  lastError: OutboxError | null;
  /** Who holds it while claimed (null when claimed without an owner, or not claimed). */
  claimOwner: ClaimOwner | null;
  /** Set while claimed: what `complete`, `retryLater` and `fail` must present, so a worker whose lease ran out cannot settle an item someone else now holds. */
  claimToken: string | null;
  createdAt: string;
  /** When it became done, failed or superseded. */
  finishedAt: string | null;
  /** How it was settled when done: `written`, `already-done` or `superseded` (see WriteOutcome). */
  result: string | null;
}

export interface EnqueueResult {
  /** Keys stored now. */
  inserted: string[];
  /** Keys that were already in the outbox: nothing stored. */
  duplicates: string[];
  /** Older assessment items of the same change and action that were still pending and are now superseded. */
  superseded: number;
}

export interface OutboxQuery {
  changeId?: string;
  status?: OutboxStatus;
  action?: OutboxAction;
  /** At most this many, oldest first (default 100, at most 1000). */
  limit?: number;
}

/** A page of one change's items in the order its history lists them (src/assess/history-page.ts). */
export interface OutboxHistoryQuery {
  /** `asc`: oldest first, by `createdAt`, then id; `desc`: the reverse. */
  order: 'asc' | 'desc';
  /** Only items strictly after this position in that order (ids are bounds: 0 and Number.MAX_SAFE_INTEGER take all or none at that time). */
  after?: { createdAt: string; id: number };
  limit: number;
}

/**
 * Longer than one write can take (a marker look-up retried through timeouts and backoff, then one post),
 * so a second worker never starts an item the first is still writing. A crashed worker's items wait this long
 * only when nobody can tell it died (see claim-owner.ts); otherwise the next start releases them.
 */
export const DEFAULT_OUTBOX_LEASE_MS = 10 * 60_000;

export interface OutboxStore {
  /**
   * Durable before it resolves. Items whose key is present are skipped. An
   * assessment item supersedes the pending assessment items of the same change
   * and action enqueued before it, so a stale verdict is never written after a
   * fresh one.
   */
  enqueue(items: readonly NewOutboxItem[], now: Date): Promise<EnqueueResult>;
  /**
   * Atomically takes up to `limit` items due at `now` (pending and due, or
   * claimed with a lease that ran out), oldest first, counts the attempt and
   * leases them under a fresh claim token, so two workers never hold one item.
   */
  claim(limit: number, now: Date, leaseMs?: number, owner?: ClaimOwner): Promise<OutboxItem[]>;
  /** Who holds the items claimed now (those claimed with an owner), each once. */
  claimOwners(): Promise<ClaimOwner[]>;
  /**
   * Returns the items `ownerId` holds to pending, due at `now`, without counting
   * an attempt (the claim that died already counted one); its claim token no
   * longer settles them. For an owner known dead; returns how many.
   */
  releaseClaims(ownerId: string, now: Date): Promise<number>;
  /** Marks a claimed item done. False when the claim token no longer holds it (the lease ran out and it was re-claimed). */
  complete(id: number, claimToken: string, result: string, now: Date): Promise<boolean>;
  /** Returns a claimed item to pending until `retryAt`, keeping the error. */
  retryLater(id: number, claimToken: string, retryAt: Date, error: OutboxError, now: Date): Promise<boolean>;
  /** Parks a claimed item as failed. */
  fail(id: number, claimToken: string, error: OutboxError, now: Date): Promise<boolean>;
  get(idempotencyKey: string): Promise<OutboxItem | null>;
  list(query: OutboxQuery): Promise<OutboxItem[]>;
  /**
   * One change's items, `limit` at a time, in `(createdAt, id)` order from `after`: a keyset page by an
   * index, so a change with any number of write-backs is read a page at a time, and every one is reached.
   */
  listForHistory(changeId: string, query: OutboxHistoryQuery): Promise<OutboxItem[]>;
  /** How many items one change has. */
  countForChange(changeId: string): Promise<number>;
  /** Items by status (every status present, zero when none). */
  counts(): Promise<Record<OutboxStatus, number>>;
  close(): Promise<void>;
}
