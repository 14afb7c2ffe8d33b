// Every storage port the app uses, opened together by one store adapter. The
// composition root asks `openStores` (open-stores.ts) for a bundle and never
// names an adapter; an adapter is a folder (src/store/sqlite/, later
// src/store/mongo/) exporting one `StoreAdapter` declaration, listed once in
// store-adapters.ts.

import type { StoreConfig } from '../config/schema.ts';
import type { OAuthTokenStores } from '../kit/oauth-token-store.ts';
import type { AssessmentStore } from './assessment-store.ts';
import type { AssessmentWriter } from './assessment-writes.ts';
import type { ChangeStore } from './change-store.ts';
import type { DeliveryStore } from './delivery-store.ts';
import type { EvidenceStore } from './evidence-store.ts';
import type { LeaseStore } from './lease-store.ts';
import type { EventStore } from './event-store.ts';
import type { OutboxStore } from './outbox-store.ts';
import type { RunLocks } from './run-locks.ts';
import type { StoreHealth } from './store-health.ts';

export interface StoreBundle {
  /** The mirror: changes, approvals, journal, revisions, cursors. */
  changes: ChangeStore;
  /** Assessments and enforcement records. */
  assessments: AssessmentStore;
  /** Ticket write-back, in order, idempotent by key. */
  outbox: OutboxStore;
  /** The webhook inbox. */
  deliveries: DeliveryStore;
  /** The evidence ledger: per change, an append-only hash chain (src/evidence). */
  evidence: EvidenceStore;
  /** Stores several assessments' writes at once (one transaction on SQLite); without it the runner writes them item by item. */
  assessmentWriter?: AssessmentWriter;
  /** Who runs an instance's sync right now. */
  runLocks: RunLocks;
  /** Which process works which connector instance when several share the store, with a fencing token. */
  leases: LeaseStore;
  /** CI and monitoring event deliveries, their events, and links to changes. */
  events: EventStore;
  /** Rotating OAuth tokens shared by every process on a store that several hosts share (MongoDB); absent: files in the state directory beside an embedded store serve. */
  oauthTokens?: OAuthTokenStores;
  /** Whether the store can keep what it is given now: locked, corrupt, missing or full otherwise (store-health.ts). Run by the health monitor, off the request path. */
  health(): Promise<StoreHealth>;
  /** Calls `listener` each time an operation of any port meets a store fault, so the monitor checks at once. */
  onFault(listener: () => void): void;
  /** Closes every port (one a caller closed already included). */
  close(): Promise<void>;
}

export type StoreKind = StoreConfig['kind'];

/** Rotating OAuth tokens opened alone, for a process that needs no other port (`mappings validate --instance`). */
export interface OpenedOAuthTokens {
  tokens: OAuthTokenStores;
  close(): Promise<void>;
}

/** One store adapter: the kind of `store:` configuration it serves and how it opens a bundle. */
export interface StoreAdapter<K extends StoreKind = StoreKind> {
  kind: K;
  open(config: Extract<StoreConfig, { kind: K }>): Promise<StoreBundle>;
  /** Present when its bundles carry `oauthTokens`: opens only those. */
  openOAuthTokens?(config: Extract<StoreConfig, { kind: K }>): Promise<OpenedOAuthTokens>;
}

/** Closes each port in turn; the first failure is raised after all were tried, so one broken port does not leave the others open. */
export async function closeAll(ports: readonly { close(): Promise<void> }[]): Promise<void> {
  const results = await Promise.allSettled(ports.map((p) => p.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
