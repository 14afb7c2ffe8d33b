// The store port. Two adapters (SQLite embedded, MongoDB for scale-out) pass one
// contract suite (test/contract/change-store.contract.ts).

import type { StreamCursor, StreamItem } from '../../connectors/connector.ts';
import type { CanonicalState, Change, MirroredChange, System } from '../domain/change.ts';

export interface FieldDiff {
  /** Dotted path into the change (`risk.level`, `raw.state.value`, `services`). */
  path: string;
  /** Absent on the first revision. */
  from?: unknown;
  to?: unknown;
}

export interface Revision {
  changeId: string;
  /** 1, 2, 3 … in the order changegate observed them. */
  seq: number;
  nativeRevision: number;
  /** Source's updated-at of this version. */
  updatedAt: string;
  /** When changegate stored it. */
  observedAt: string;
  /** sha256 of the canonical change (stable key order). */
  hash: string;
  /** Field-level changes against the previous revision; every field on the first. */
  diff: FieldDiff[];
}

export interface ApplyResult {
  /** Changes inserted or updated (a new revision each). */
  changesWritten: number;
  /** Changes whose content hash was unchanged: nothing written. */
  changesUnchanged: number;
  /** Changes older than what the mirror holds (out-of-order delivery): ignored. */
  changesStale: number;
  approvalsWritten: number;
  journalWritten: number;
  invalid: number;
}

export interface ChangeQuery {
  system?: System;
  instance?: string;
  state?: CanonicalState;
  /** ISO-8601; changes updated at or after. */
  updatedSince?: string;
  limit: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface ChangePage {
  items: Change[];
  nextCursor: string | null;
}

export interface ChangeStore {
  /**
   * Store one page's items, then (only after they are stored) the stream cursor.
   * Idempotent: re-applying the same items writes nothing new.
   */
  applyPage(instance: string, stream: string, items: readonly StreamItem[], cursor: StreamCursor | null): Promise<ApplyResult>;
  getCursor(instance: string, stream: string): Promise<StreamCursor | null>;
  /** Forget the cursors of an instance (a `--full` sync). Mirrored data is kept. */
  resetCursors(instance: string): Promise<void>;
  /** By canonical id (`servicenow:sn-prod:<sys_id>`) or by key (`CHG0030001`). */
  getChange(idOrKey: string): Promise<MirroredChange | null>;
  listChanges(query: ChangeQuery): Promise<ChangePage>;
  listRevisions(changeId: string): Promise<Revision[]>;
  countChanges(instance?: string): Promise<number>;
  close(): Promise<void>;
}
