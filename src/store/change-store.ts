// The store port. Two adapters (SQLite embedded, MongoDB for scale-out) pass one
// contract suite (test/contract/change-store.contract.ts).

import type { RevisionAuthor, StreamCursor, StreamItem } from '../kit/connector.ts';

export type { RevisionAuthor };
import type { Approval, CanonicalState, Change, MirroredChange, NeighbourChange, System } from '../domain/change.ts';
import type { ReadCacheStats } from './mirror-read-cache.ts';

export interface FieldDiff {
  /**
   * Dotted path into the change (`risk.level`, `raw.state.value`, `services`); a `.` or `\`
   * inside a key is escaped with `\` (`raw.assigned_to\.name`). Arrays are one value.
   */
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
  /**
   * Who made this version, as the source names it (ServiceNow `sys_updated_by`,
   * the Jira changelog entry's author); null when unknown, `authorUnknown` says why.
   */
  author: RevisionAuthor | null;
  /**
   * Set when `author` is null: `not-recorded` (stored before changegate kept
   * authors), `not-named` (the source named nobody for this version, e.g. a Jira
   * comment, which leaves no changelog entry).
   */
  authorUnknown?: 'not-recorded' | 'not-named';
}

/**
 * A page of one change's revisions in the order its history lists them (src/assess/change-history.ts): by the
 * instant of `updatedAt` (instant-key.ts: the source's text, `…:53Z` or `…:53.500Z`, as an instant), then by
 * `seq`, as the history's entry ids (`revision:<seq in 8 digits>`) compare.
 */
export interface RevisionHistoryQuery {
  /** `asc`: oldest first; `desc`: the reverse. */
  order: 'asc' | 'desc';
  /**
   * Only revisions strictly after this position in that order: `at` an instantKey; `seq` 0 comes before every
   * revision at that instant and `Number.MAX_SAFE_INTEGER` after every one (all or none at that instant).
   */
  after?: { at: string; seq: number };
  limit: number;
}

/** A page of one change's approvals in the order its history lists them: by first time as an instant, then by approval id. */
export interface ApprovalHistoryQuery {
  /** `asc`: oldest first; `desc`: the reverse. */
  order: 'asc' | 'desc';
  /**
   * Only approvals strictly after this position in that order: `firstAt` an instantKey; `id` `APPROVAL_ID_FIRST`
   * comes before every approval at that instant and `APPROVAL_ID_LAST` after every one (all or none at that instant).
   */
  after?: { firstAt: string; id: string };
  limit: number;
}

/** Text before every approval id. */
export const APPROVAL_ID_FIRST = '';
/** Text after every approval id (ids are the sources' record ids, in ASCII). */
export const APPROVAL_ID_LAST = '\u{10FFFF}';

/** An approval as the history pages it, with when the mirror first knew it happened: `approvalTime` of the first version stored (one stored before this was kept: of the version held at the upgrade), which never moves, so the history orders and pages by it. */
export interface HistoryApproval {
  approval: Approval;
  firstAt: string;
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

export interface GetChangeOptions {
  /** Only look on this connector instance (a key such as `ITSM-42` can exist on several). */
  instance?: string;
  /**
   * Leave the source payload out (`raw` is null). It is most of a change's
   * bytes and the policy never reads it; the validate endpoint asks this way.
   */
  withoutRaw?: boolean;
  /**
   * Which child records to read (default: both). One left out comes back as an
   * empty list: for a caller that knows none of its checks reads it (the
   * validate endpoint evaluates only the gates of one transition).
   */
  children?: { approvals: boolean; journal: boolean };
  /**
   * With `withoutRaw`: false reads for one use, leaving the read cache as it was (a kept entry
   * still answers). The assessment runner reads each change once per run; kept, a sync's last
   * pass filled the cache with changes nobody read again. Default true.
   */
  keep?: boolean;
}

/** Active changes that may collide with one change: same instance, a shared service or CI. */
export interface TouchingQuery {
  instance: string;
  /** Service/CI ids or names (any case); a change naming any of them by id or name matches. */
  refs: readonly string[];
  /**
   * Only changes whose planned window overlaps this one (start < other end and
   * end > other start); changes without both planned dates are then left out.
   */
  plannedOverlap?: { start: string; end: string };
  /** Left out of the answer (the change asking). */
  excludeId?: string;
  /** At most this many (1..1000), most recently updated first. */
  limit: number;
}

export interface IndexedQuery {
  instance: string;
  /** Index keys (`changeIndexKeys` in change-refs.ts: `commit:<bucket>`, `service:<serviceKey>`); a change under any of them matches. */
  keys: readonly string[];
  /** At most this many (1..1000), most recently updated first. */
  limit: number;
}

/** A source record that could not be mapped (an `invalid` stream item), kept so an operator can find it. */
export interface RejectedRecord {
  instance: string;
  stream: string;
  /** The record's reference as the connector reported it (native id or key). */
  ref: string;
  code: string;
  message: string;
  /** When changegate first and last saw it rejected (ISO-8601 UTC). */
  firstSeen: string;
  lastSeen: string;
}

export interface ApplyPageOptions {
  /** The fencing token of the lease the writer holds on the instance. */
  fence?: number;
}

export interface ChangeStore {
  /**
   * Store one page's items, then (only after they are stored) the stream cursor,
   * all or nothing. Idempotent: re-applying the same items writes nothing new.
   * A version older than the mirrored one (by nativeRevision, then updatedAt) is
   * ignored, so a late delivery never rolls a change back. A null cursor (a page
   * without rows) keeps the saved one.
   *
   * With `fence` (the sync's lease, src/sync/lease-keeper.ts), the write is
   * refused with CG_LEASE_LOST, nothing of it stored, when a write under a
   * greater fence of the instance was stored before: the store keeps the
   * greatest fence each instance was written under.
   */
  applyPage(instance: string, stream: string, items: readonly StreamItem[], cursor: StreamCursor | null, options?: ApplyPageOptions): Promise<ApplyResult>;
  getCursor(instance: string, stream: string): Promise<StreamCursor | null>;
  /** Records that a sync of the instance succeeded at `at` (an earlier time never replaces a later one). */
  noteSyncSucceeded(instance: string, at: Date): Promise<void>;
  /** When a sync of the instance last succeeded, in any process sharing the store; null before the first. */
  lastSyncSucceeded(instance: string): Promise<Date | null>;
  /** Forget the cursors of an instance (a `--full` sync). Mirrored data is kept. */
  resetCursors(instance: string): Promise<void>;
  /**
   * By canonical id (`servicenow:sn-prod:<sys_id>`) or by key (`CHG0030001`, case-insensitive).
   * A key present on several instances resolves to the most recently updated change
   * unless `options.instance` narrows it.
   */
  getChange(idOrKey: string, options?: GetChangeOptions): Promise<MirroredChange | null>;
  listChanges(query: ChangeQuery): Promise<ChangePage>;
  /**
   * Changes not closed, canceled or failed that name one of `refs` among their
   * services or CIs, on one instance. Answered from an index kept with every
   * applyPage, so its cost follows the number of matches, not the mirror's size.
   * The changes come without their source payload (`raw` is null).
   */
  listActiveChangesTouching(query: TouchingQuery): Promise<Change[]>;
  /**
   * The same changes as `listActiveChangesTouching`, in the same order, each
   * with only what the overlap gate reads (`NeighbourChange`): the lookup every
   * assessment and validation into authorize makes. A store may answer with
   * whole changes; SQLite reads and keeps only those fields.
   */
  listNeighbours(query: TouchingQuery): Promise<NeighbourChange[]>;
  /**
   * Changes not closed, canceled or failed found under one of `keys` (a commit
   * they link, a service or CI they name), on one instance: what a new CI event
   * or alert may reach. Answered from the same index as `listActiveChangesTouching`
   * (which never reads these keys), at a cost that follows the limit; without
   * their source payload.
   */
  listActiveChangesIndexed(query: IndexedQuery): Promise<Change[]>;
  /**
   * One change's approvals with their first times, `limit` at a time, in the order its history lists them from
   * `after`: a keyset page by an index, so a change with hundreds of approval rows is read a page at a time.
   */
  listApprovalsForHistory(instance: string, changeNativeId: string, query: ApprovalHistoryQuery): Promise<HistoryApproval[]>;
  /** How many approvals one change has (a count, not a read). */
  countApprovals(instance: string, changeNativeId: string): Promise<number>;
  /** The change's revisions in order; with `after`, only those with a later `seq` (what an assessment has not seen yet). */
  listRevisions(changeId: string, options?: { after?: number }): Promise<Revision[]>;
  /**
   * One change's revisions, `limit` at a time, in the order its history lists them from `after`: a keyset page
   * by an index, so a change that moved on thousands of syncs is read a page at a time, and every one is reached.
   */
  listRevisionsForHistory(changeId: string, query: RevisionHistoryQuery): Promise<Revision[]>;
  /** How many revisions one change has (a count, not a read). */
  countRevisions(changeId: string): Promise<number>;
  /** The `seq` of the change's latest revision; 0 when the mirror holds no such change. Costs one row, not the revisions' diffs. */
  lastRevisionSeq(changeId: string): Promise<number>;
  /**
   * Records that the assessment runner looked at the change as of revision `seq`
   * (assessed it, or found nothing the policy reads had changed). Never moves
   * back: an older `seq` than recorded is ignored. (A page that stores an
   * approval or journal entry of the change moves it back behind the latest
   * revision: the change is owed again.) With `asOf` (a `mirrorVersion` of the
   * change's instance read before the assessment read the change), only while
   * that instance's mirror is still at that version: a page stored meanwhile
   * may hold what the assessment did not see, so the change stays owed.
   */
  noteAssessed(changeId: string, seq: number, asOf?: number): Promise<void>;
  /**
   * A number that moves whenever anything of the instance's mirror is written
   * (a change, an approval, a journal entry), from any process; 0 before the
   * first write. Costs one small read.
   */
  mirrorVersion(instance: string): Promise<number>;
  /**
   * Ids of changes owed an assessment (their latest revision is newer than the
   * last one noted by `noteAssessed`, or a page stored an approval or journal
   * entry of theirs since), of one instance or all, by id after `after`, at
   * most `limit` (1..1000). Answered from an index of the owed, so start-up
   * after a crash, and the assessments after a sync, cost what is owed, not the
   * mirror's size.
   */
  listOwedAssessments(query: { instance?: string; after?: string; limit: number }): Promise<string[]>;
  countChanges(instance?: string): Promise<number>;
  /** The read cache's figures (store.readCache), for /metrics; a store without one leaves this out. */
  readCacheStats?(): ReadCacheStats;
  /**
   * Records rejected as `invalid`, ordered by (instance, stream, ref). A rejection is
   * cleared once the same ref is stored successfully on the same stream.
   */
  listRejected(instance?: string): Promise<RejectedRecord[]>;
  close(): Promise<void>;
}
