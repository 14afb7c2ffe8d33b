// The CI and monitoring event port: a durable inbox of raw deliveries from
// event sources, the normalised events they said, and the links from events to
// changes (each with the rule that made it). The ingestion route records a
// verified delivery and answers 2xx only once it is stored; a processor claims
// pending deliveries, normalises them and completes them with their events in
// one step, so a delivery stored before a crash is processed after it. Every
// adapter passes test/contract/event-store.contract.ts.

import type { Change } from '../domain/change.ts';
import type { CiEvent, MonitorEvent } from '../domain/events.ts';
import type { ClaimOwner } from './claim-owner.ts';

/** `pending` until normalised; `done` once its events are stored; `failed` when the body proved unusable or retries ran out. */
export type EventDeliveryStatus = 'pending' | 'done' | 'failed';

export interface NewEventDelivery {
  /** The configured source id (`github`, `alertmanager-prod`). */
  source: string;
  /** The source's kind (`github`, `alertmanager`, `generic`). */
  kind: string;
  /** The source's delivery id, or `sha256:<hex of the raw body>` when it sends none. */
  deliveryId: string;
  /** ISO-8601 UTC. */
  receivedAt: string;
  /** Headers the normaliser reads (event type, delivery id), lower-cased; never credentials. */
  headers: Record<string, string>;
  /** The body exactly as received. */
  rawBody: Buffer;
}

export interface EventDelivery extends NewEventDelivery {
  /** Store key: `source:deliveryId`. */
  id: string;
  status: EventDeliveryStatus;
  attempts: number;
  /** When it may next be claimed (ISO-8601 UTC). */
  nextAttemptAt: string;
  lastError: string | null;
  finishedAt: string | null;
}

export interface EventRecordResult {
  id: string;
  /** The same delivery was stored before for this source: nothing was stored, nothing will be processed again. */
  duplicate: boolean;
}

export type StoredEvent =
  | { type: 'ci'; id: string; source: string; deliveryId: string; receivedAt: string; event: CiEvent }
  | { type: 'monitor'; id: string; source: string; deliveryId: string; receivedAt: string; event: MonitorEvent };

/** One link from an event to a change, and why it was made (`change-key`, `hypercare:<service>`, …). */
export interface EventLink {
  eventId: string;
  changeId: string;
  rule: string;
  /** ISO-8601 UTC. */
  linkedAt: string;
}

export interface LinkedEvent {
  event: StoredEvent;
  rule: string;
  linkedAt: string;
}

/** The rule of a link the correlator makes when an event names a change's key (events/correlate.ts `linksFor`). */
export const CHANGE_KEY_RULE = 'change-key';

/**
 * Whether a link still holds for the event as it is stored now. A `change-key`
 * link holds only while the event's latest version names the change, as the
 * correlator resolved the key when it linked (ChangeStore.getChange): by its
 * canonical id, or by its key in any case (a generic source passes keys as
 * given). A run that completes naming another change, or a corrected payload,
 * no longer counts for the change it named before. Other rules always hold.
 */
export function linkHolds(rule: string, event: StoredEvent, change: Pick<Change, 'id' | 'key'>): boolean {
  if (rule !== CHANGE_KEY_RULE) return true;
  const key = changeKeyIndexKey(change.key);
  return event.type === 'ci' && event.event.changeKeys.some((k) => k === change.id || changeKeyIndexKey(k) === key);
}

/**
 * A change key as the stores index an event's `changeKeys` and look one up: in any case, as a change is found by
 * its key (a generic source passes keys as the sender wrote them, `chg0030001` for CHG0030001).
 */
export function changeKeyIndexKey(key: string): string {
  return key.toLowerCase();
}

/** Every given field must match; `changeKey` matches an event whose `changeKeys` holds it in any case. Results oldest received first. */
export interface EventQuery {
  changeKey?: string;
  /** Events on the same commit (domain/commit-sha.ts `sameCommit`: the full sha or an abbreviation of it, in any case), found through an index of `commitBucket`. */
  commit?: string;
  repo?: string;
  service?: string;
  /** Events on any of these services (one query for a change's many services and CIs); none given, none found. */
  services?: readonly string[];
  source?: string;
  limit?: number;
}

export const DEFAULT_EVENT_LEASE_MS = 30_000;

export interface EventClaimOptions {
  /** How long a claimed delivery is hidden from other claims; a processor that dies mid-work lets it come back after this. */
  leaseMs?: number;
  /** Recorded with the lease, so a later process can release what a dead owner held at once (see claim-owner.ts). */
  owner?: ClaimOwner;
}

export function eventDeliveryKey(source: string, deliveryId: string): string {
  return `${source}:${deliveryId}`;
}

const FINAL_CI = new Set(['success', 'failure', 'cancelled', 'skipped']);

/**
 * Whether `next` replaces `current` for the same event id. Deliveries arrive out
 * of order: a late `in_progress` never undoes a `completed`, nor a final state
 * that ended earlier a later one, and a late `firing`
 * never reopens a resolved alert, but a firing that started after the resolved
 * one did is the alert firing again (a reopened PagerDuty incident, a generic
 * source re-firing under the same id). A resolution that ended before the
 * stored firing began belongs to an earlier firing, and resolves nothing now.
 * Otherwise the later delivery wins.
 */
function supersedes(current: StoredEvent, next: StoredEvent): boolean {
  if (current.type === 'ci' && next.type === 'ci') {
    if (!FINAL_CI.has(current.event.status)) return true;
    if (!FINAL_CI.has(next.event.status)) return false;
    // Both final: a run retried under the same id (a GitLab pipeline whose failed job was retried) ends again later;
    // an end before the stored one is an earlier outcome delivered late, and never rolls the run back.
    const [stored, given] = [Date.parse(current.event.finishedAt ?? ''), Date.parse(next.event.finishedAt ?? '')];
    return !(given < stored);
  }
  if (current.type === 'monitor' && next.type === 'monitor') {
    const began = Date.parse(current.event.startsAt);
    if (current.event.status === 'resolved' && next.event.status === 'firing') return Date.parse(next.event.startsAt) > began;
    const ended = next.event.endsAt === null ? null : Date.parse(next.event.endsAt);
    return !(next.event.status === 'resolved' && Date.parse(next.event.startsAt) < began && ended !== null && ended < began);
  }
  return true;
}

/**
 * The event as it stands once `next` is stored over `current`: `current` where
 * it supersedes `next`, else `next`, except that an update naming an earlier
 * start than the stored alert's keeps the stored start. Such an update is about
 * the firing on now from a source that names only the alert's first start (a
 * reopened PagerDuty incident's acknowledgement and resolution carry its
 * `created_at`), so each firing keeps one start and its own hypercare keys.
 */
export function settle(current: StoredEvent | null, next: StoredEvent): StoredEvent {
  if (current === null) return next;
  if (!supersedes(current, next)) return current;
  if (current.type !== 'monitor' || next.type !== 'monitor' || Date.parse(next.event.startsAt) >= Date.parse(current.event.startsAt)) return next;
  return { ...next, event: { ...next.event, startsAt: current.event.startsAt } };
}

export interface EventStore {
  /** Durable before it resolves. De-duplicates on `(source, deliveryId)`; a duplicate keeps the first body. */
  record(delivery: NewEventDelivery): Promise<EventRecordResult>;
  /** Atomically leases up to `limit` pending deliveries due at `now`, oldest received first, counting the attempt. */
  claim(limit: number, now: Date, options?: EventClaimOptions): Promise<EventDelivery[]>;
  /**
   * Who holds deliveries leased now (those claimed with an owner), each once. A
   * completed or failed delivery (a retry scheduled included) has no owner any
   * more, so a release never cuts a retry's wait short.
   */
  claimOwners(): Promise<ClaimOwner[]>;
  /**
   * Makes the deliveries `ownerId` has leased due at `now`, without counting an
   * attempt (the claim that died already counted one). For an owner known dead;
   * returns how many.
   */
  releaseClaims(ownerId: string, now: Date): Promise<number>;
  /**
   * Stores the delivery's normalised events (an event already stored under the
   * same id becomes what `settle` makes of it) and marks it done, in one step.
   * Returns the events as stored now, those kept unchanged included.
   */
  complete(id: string, events: readonly StoredEvent[], now: Date): Promise<StoredEvent[]>;
  /**
   * `complete` for several deliveries, in the order given (a later one's events
   * are settled over an earlier one's), as one step where the
   * store can: a processor completes a claimed batch at once.
   */
  completeAll(items: readonly { id: string; events: readonly StoredEvent[] }[], now: Date): Promise<StoredEvent[][]>;
  /** Records the error; `retryAt` schedules another attempt, null gives up (status `failed`). */
  fail(id: string, error: string, retryAt: Date | null, now: Date): Promise<void>;
  getDelivery(id: string): Promise<EventDelivery | null>;
  /** Deliveries not yet done or failed. */
  pendingCount(): Promise<number>;
  getEvent(id: string): Promise<StoredEvent | null>;
  findEvents(query: EventQuery): Promise<StoredEvent[]>;
  /** Idempotent per `(eventId, changeId)`: the first rule stays. Returns how many links are new. */
  link(links: readonly EventLink[]): Promise<number>;
  /** The events linked to a change whose links still hold (`linkHolds`), oldest received first. */
  linkedEvents(change: Pick<Change, 'id' | 'key'>): Promise<LinkedEvent[]>;
  /** The links an event was given, as made (`linkedEvents` judges whether a `change-key` one still holds). */
  linkedChanges(eventId: string): Promise<EventLink[]>;
  /** Notes that a monitoring source reported (a Watchdog alert, a successful pull); only a later time moves it. */
  heartbeat(source: string, at: string): Promise<void>;
  /** The last heartbeat of each source that ever reported: source id -> ISO-8601 UTC. */
  heartbeats(): Promise<Record<string, string>>;
  /** A scheduled pull's saved position (`github:acme/shop`: its ETags and `created` bound), as the puller wrote it; null before the first. */
  pullState(key: string): Promise<string | null>;
  /** Saves a pull's position after what it read is stored, so a crash re-reads, never skips. */
  savePullState(key: string, state: string, at: string): Promise<void>;
  close(): Promise<void>;
}
