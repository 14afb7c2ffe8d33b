// The Connector interface. A connector declares what it reads (one page at a
// time, per stream), how it fetches one record again and how it verifies a
// webhook. Scheduling, retries' loop, cursors and persistence live in src/sync.

import type { Approval, Change, JournalEntry, System } from '../src/domain/change.ts';
import type { ChangegateError } from '../src/errors.ts';

/** Composite keyset position: `(updatedAt, id)`, never a bare timestamp. */
export interface StreamCursor {
  /** ISO-8601 UTC. */
  updatedAt: string;
  /** Native id; ties on `updatedAt` are broken by it, in the source's sort order. */
  id: string;
}

/** One thing a page yields, already mapped to the canonical model. */
export type StreamItem =
  | { kind: 'change'; change: Change }
  | { kind: 'approval'; changeNativeId: string; approval: Approval }
  | { kind: 'journal'; changeNativeId: string; entry: JournalEntry }
  /** A record that could not be mapped. It is reported and counted; the sync carries on. */
  | { kind: 'invalid'; ref: string; error: ChangegateError };

export interface PageRequest {
  stream: string;
  /** Read rows strictly after this key (null: from the beginning). */
  after: StreamCursor | null;
  /**
   * Rows to skip past `after`. Normally 0; the engine raises it only when a page
   * came back empty although the source matched more rows (ServiceNow applies
   * ACLs after `sysparm_limit`, so a page can be short or empty mid-stream).
   */
  offset: number;
  pageSize: number;
  signal?: AbortSignal;
}

export interface PageResult {
  items: StreamItem[];
  /** Last key of the rows this page returned (including invalid rows that had a key); null if none. */
  last: StreamCursor | null;
  /** Rows the source matched for this request before paging (`X-Total-Count`); null if unknown. */
  total: number | null;
  /** The source says more rows follow this page. */
  hasMore: boolean;
  /** HTTP requests this page cost (for the API-call budget in metrics and benchmarks). */
  apiCalls: number;
}

export interface StreamDeclaration {
  /** Stable name; cursors are stored per `(instance, stream)`. */
  name: string;
  description: string;
}

export interface WebhookVerification {
  ok: boolean;
  /** Stable error code when not ok. */
  code?: 'CG_WEBHOOK_SIGNATURE_INVALID' | 'CG_WEBHOOK_SIGNATURE_MISSING';
}

export interface ConnectorWebhook {
  /** Verify on the raw bytes, timing-safe. */
  verify(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookVerification;
  /** Delivery id for de-duplication, if the source sends one. */
  deliveryId(headers: Record<string, string | string[] | undefined>): string | null;
  /** Native record ids the delivery is about; the engine re-fetches them, never trusting the payload. */
  toRecordIds(body: unknown): string[];
}

/** Writes back to the ticket. Every call carries an idempotency key the connector checks before posting. */
export interface ConnectorWriter {
  comment(nativeId: string, text: string, idempotencyKey: string): Promise<void>;
  transition(nativeId: string, toNativeState: string, idempotencyKey: string): Promise<void>;
}

/** One configured instance of a connector, ready to read. */
export interface ConnectorInstance {
  readonly system: System;
  readonly instanceId: string;
  /** Streams in the order the engine syncs them (changes first, then their children). */
  readonly streams: readonly StreamDeclaration[];
  readPage(request: PageRequest): Promise<PageResult>;
  /** Re-fetch one change and its children by native id (webhooks, reconcile). Null when it no longer exists. */
  fetchOne(nativeId: string, signal?: AbortSignal): Promise<StreamItem[] | null>;
  webhook?: ConnectorWebhook;
  writer?: ConnectorWriter;
  close?(): Promise<void>;
}
