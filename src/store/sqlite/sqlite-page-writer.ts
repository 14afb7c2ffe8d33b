// Writing one page of a stream into the embedded store, inside the transaction
// SqliteChangeStore.applyPage opens: the fence, each item, then the cursor.
// The hot path compares content hashes on indexed columns and never parses a
// stored change unless the hash differs.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StreamCursor, StreamItem } from '../../kit/connector.ts';
import { approvalTime, type Approval, type Change, type JournalEntry } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import { diffChanges } from '../change-diff.ts';
import type { ApplyResult, RevisionAuthor } from '../change-store.ts';
import { changeIndexKeys, changeRefKeys, INDEX_ONLY, isActiveState, windowDays } from '../change-refs.ts';
import { sha256Hex, stableStringify } from '../content-hash.ts';
import { instantKey } from '../instant-key.ts';
import type { ChangeHead, Statements } from './sqlite-statements.ts';

interface PageState {
  instance: string;
  stream: string;
  observedAt: string;
  /** Whether this stream has rejections a valid record could clear (saves a DELETE per item when not). */
  hasRejected: boolean;
  /** The instance's system, read on the first approval or note written (it spells their changes' ids); null when none is mirrored. */
  system?: string | null;
  result: ApplyResult;
}

export class SqlitePageWriter {
  readonly #db: DatabaseSync;
  readonly #stmt: Statements;
  /** The multi-row inserts of change_refs, by row count, prepared on first use. */
  readonly #refStatements = new Map<string, StatementSync>();
  readonly #fenceOf: StatementSync;
  readonly #raiseFence: StatementSync;
  /** The index of the item being written when a page failed; -1 when the failure was not an item's. */
  failedAt = -1;

  /** On the store's connection (its statements), whose `instance_sync` table holds the fences. */
  constructor(db: DatabaseSync, stmt: Statements) {
    this.#db = db;
    this.#stmt = stmt;
    this.#fenceOf = db.prepare('SELECT fence FROM instance_sync WHERE instance = ?');
    this.#raiseFence = db.prepare('INSERT INTO instance_sync (instance, fence) VALUES (?, ?) ON CONFLICT (instance) DO UPDATE SET fence = excluded.fence WHERE excluded.fence > fence');
  }

  /** Inside a transaction the caller opened and commits: the page's items, then its cursor. */
  write(instance: string, stream: string, items: readonly StreamItem[], cursor: StreamCursor | null, fence: number | undefined, observedAt: string): ApplyResult {
    this.failedAt = -1;
    const page: PageState = {
      instance,
      stream,
      observedAt,
      hasRejected: false,
      result: { changesWritten: 0, changesUnchanged: 0, changesStale: 0, approvalsWritten: 0, journalWritten: 0, invalid: 0 },
    };
    if (fence !== undefined) this.#checkFence(instance, stream, fence);
    page.hasRejected = this.#stmt.anyRejected.get(instance, stream) !== undefined;
    for (let index = 0; index < items.length; index++) {
      this.failedAt = index;
      this.#applyItem(page, items[index] as StreamItem);
    }
    this.failedAt = -1;
    // The cursor moves only with the items it covers; a null cursor (an empty page) keeps the saved one.
    if (cursor !== null) this.#stmt.saveCursor.run(instance, stream, cursor.updatedAt, cursor.id, page.observedAt);
    return page.result;
  }

  /** Inside the page's transaction: a stale fence rolls it back whole. */
  #checkFence(instance: string, stream: string, fence: number): void {
    const newest = (this.#fenceOf.get(instance) as { fence: number } | undefined)?.fence ?? 0;
    if (newest > fence) {
      // Thrown inside the transaction: the connection rolls it back whole.
      throw new ChangegateError('CG_LEASE_LOST', `a page of ${instance}/${stream} was refused: it was written under fence ${fence} of the instance's lease, and a holder with fence ${newest} wrote since; nothing of it was stored`, {
        details: { instance, stream, fence, newest },
      });
    }
    this.#raiseFence.run(instance, fence);
  }

  #applyItem(page: PageState, item: StreamItem): void {
    switch (item.kind) {
      case 'change':
        this.#applyChange(page, item.change, item.author);
        if (page.hasRejected) this.#clearRejected(page, item.change.nativeId, item.change.key);
        return;
      case 'approval':
        this.#applyApproval(page, item.changeNativeId, item.approval);
        if (page.hasRejected) this.#clearRejected(page, item.approval.id);
        return;
      case 'journal':
        this.#applyJournal(page, item.changeNativeId, item.entry);
        if (page.hasRejected) this.#clearRejected(page, item.entry.id);
        return;
      case 'invalid':
        this.#stmt.upsertRejected.run(page.instance, page.stream, item.ref, item.error.code, item.error.message, page.observedAt, page.observedAt);
        page.hasRejected = true;
        page.result.invalid += 1;
        return;
    }
  }

  #applyChange(page: PageState, change: Change, author: RevisionAuthor | null | undefined): void {
    const json = stableStringify(change);
    const hash = sha256Hex(json);
    const updatedAt = instantKey(change.updatedAt);
    const head = this.#stmt.changeHead.get(change.id) as ChangeHead | undefined;
    const s = this.#stmt;
    if (head === undefined) {
      s.insertChange.run(change.id, change.instance, change.system, change.nativeId, change.key, change.state, updatedAt, change.nativeRevision, hash, json);
      s.upsertCore.run(change.id, change.instance, change.nativeId, change.key, updatedAt, coreJson(change));
      this.#indexRefs(change, null);
      // A first revision's diff is every field of the change row itself: derived on read (see sqlite-schema.ts).
      s.insertRevision.run(change.id, 1, change.nativeRevision, change.updatedAt, updatedAt, page.observedAt, hash, null, authorJson(author));
      page.result.changesWritten += 1;
      return;
    }
    if (head.native_revision > change.nativeRevision || (head.native_revision === change.nativeRevision && head.updated_at > updatedAt)) {
      page.result.changesStale += 1;
      return;
    }
    if (head.hash === hash) {
      page.result.changesUnchanged += 1;
      return;
    }
    const previousJson = (s.changeJson.get(change.id) as { json: string }).json;
    const previous = JSON.parse(previousJson) as Change;
    if (head.last_seq === 1) s.keepFirstSnapshot.run(previousJson, change.id);
    const seq = head.last_seq + 1;
    s.updateChange.run(change.key, change.state, updatedAt, change.nativeRevision, hash, seq, json, change.id);
    s.upsertCore.run(change.id, change.instance, change.nativeId, change.key, updatedAt, coreJson(change));
    this.#indexRefs(change, previous);
    s.insertRevision.run(change.id, seq, change.nativeRevision, change.updatedAt, updatedAt, page.observedAt, hash, JSON.stringify(diffChanges(previous, change)), authorJson(author));
    page.result.changesWritten += 1;
  }

  /**
   * Keeps `change_refs` in step: an active change is found under each of its
   * services and CIs on each day of its planned window, and under its index
   * keys (commits, service keys) on INDEX_ONLY without a window; a finished one
   * under none. Its rows carry the change's updated_at (the order lookups answer in),
   * so a new version of an active change rewrites them; a finished one has none.
   */
  #indexRefs(change: Change, previous: Change | null): void {
    if (previous !== null) {
      if (sameRefFacts(previous, change)) return;
      this.#stmt.deleteRefs.run(change.id);
    }
    if (!isActiveState(change.state)) return;
    const start = change.plannedStart === null ? null : instantKey(change.plannedStart);
    const end = change.plannedEnd === null ? null : instantKey(change.plannedEnd);
    const days = windowDays(change.plannedStart, change.plannedEnd);
    const updatedAt = instantKey(change.updatedAt);
    const params: (string | number | null)[] = [];
    for (const key of changeRefKeys(change)) {
      for (const day of days) params.push(change.instance, key, day, updatedAt, change.id, start, end);
    }
    for (const key of changeIndexKeys(change)) params.push(change.instance, key, INDEX_ONLY, updatedAt, change.id, null, null);
    // One statement for all of a change's rows: per-statement cost dominates on this hot path.
    for (let at = 0; at < params.length; at += REF_ROWS_PER_INSERT * REF_COLUMNS) {
      const chunk = params.slice(at, at + REF_ROWS_PER_INSERT * REF_COLUMNS);
      this.#insertRefsStatement(chunk.length / REF_COLUMNS).run(...chunk);
    }
  }

  #insertRefsStatement(rows: number): StatementSync {
    const shape = `refs:${rows}`;
    let stmt = this.#refStatements.get(shape);
    if (stmt === undefined) {
      const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ');
      stmt = this.#db.prepare(`INSERT OR IGNORE INTO change_refs (instance, ref, day, updated_at, change_id, planned_start, planned_end) VALUES ${values}`);
      this.#refStatements.set(shape, stmt);
    }
    return stmt;
  }

  #applyApproval(page: PageState, changeNativeId: string, approval: Approval): void {
    const json = stableStringify(approval);
    const hash = sha256Hex(json);
    const updatedAt = instantKey(approval.updatedAt);
    const head = this.#stmt.approvalHead.get(page.instance, approval.id) as { hash: string; updated_at: string } | undefined;
    // Same rule as changes: an older delivery never rolls an approval back (not counted: ApplyResult has no slot for it).
    if (head !== undefined && (head.hash === hash || head.updated_at > updatedAt)) return;
    const firstAt = approvalTime(approval);
    this.#stmt.upsertApproval.run(page.instance, approval.id, changeNativeId, updatedAt, hash, json, firstAt, instantKey(firstAt));
    page.result.approvalsWritten += 1;
    this.#oweAssessment(page, changeNativeId);
  }

  #applyJournal(page: PageState, changeNativeId: string, entry: JournalEntry): void {
    const { changes } = this.#stmt.insertJournal.run(page.instance, entry.id, changeNativeId, instantKey(entry.at), stableStringify(entry));
    page.result.journalWritten += Number(changes);
    if (Number(changes) > 0) this.#oweAssessment(page, changeNativeId);
  }

  /** In the page's transaction: what the policy reads of the change moved, so it is owed an assessment (see listOwedAssessments). */
  #oweAssessment(page: PageState, changeNativeId: string): void {
    if (page.system === undefined) page.system = (this.#stmt.systemOf.get(page.instance) as { system: string } | undefined)?.system ?? null;
    if (page.system !== null) this.#stmt.oweAssessment.run(`${page.system}:${page.instance}:${changeNativeId}`);
  }

  #clearRejected(page: PageState, ...refs: string[]): void {
    for (const ref of refs) this.#stmt.clearRejected.run(page.instance, page.stream, ref);
  }
}

const REF_ROWS_PER_INSERT = 64;
const REF_COLUMNS = 7;

/** Whether two versions of a change are indexed alike in `change_refs` (whose rows carry updated_at, the answer order). */
function sameRefFacts(a: Change, b: Change): boolean {
  if (isActiveState(a.state) !== isActiveState(b.state)) return false;
  if (!isActiveState(b.state)) return true;
  if (a.plannedStart !== b.plannedStart || a.plannedEnd !== b.plannedEnd || a.updatedAt !== b.updatedAt) return false;
  return changeRefKeys(a).join('\u0000') === changeRefKeys(b).join('\u0000') && changeIndexKeys(a).join('\u0000') === changeIndexKeys(b).join('\u0000');
}

function authorJson(author: RevisionAuthor | null | undefined): string {
  return JSON.stringify(author ?? null);
}

/** The change without its source payload, for readers that never look at it (policy evaluation). */
function coreJson(change: Change): string {
  return JSON.stringify({ ...change, raw: null });
}
