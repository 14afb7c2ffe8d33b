// How one page of stream items reaches MongoDB without a transaction. Every
// item is serialised before anything is written, so a page that cannot be
// stored (a payload that is not JSON) stores nothing. Then each item is one or
// two single-document writes, each idempotent, and the cursor is saved last: a
// process that dies mid-page leaves some items written and the cursor where it
// was, and the replay of the page finds them written (same hash) and moves on.
//
// A change is written revision first, then the change document under a guard
// on the revision it read (`lastSeq`, `hash`): two replicas storing the same
// change at once cannot both move it, and the loser reads it again.
//
// The guard alone does not hold on FerretDB: its update reads the document,
// then writes the whole document back, so two writers can both pass the guard,
// and the later write undoes whatever moved the change in between. So the
// insert of revision `seq` (a primary key: atomic everywhere) also decides who
// moves the change to `seq`: only the writer whose insert stored it. Then the
// move to `seq + 1` can only start once the move to `seq` is written, and the
// moves of one change never overlap. A writer that finds its own version
// already stored under `seq` leaves the move to that revision's writer while
// the revision is recent (another replica storing the same version now); an
// older one is a writer that died before moving the change (a replay after a
// crash), and this writer moves it.

import type { StreamItem } from '../../kit/connector.ts';
import { approvalTime, type Approval, type Change, type JournalEntry } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { ApplyResult } from '../change-store.ts';
import { diffChanges } from '../change-diff.ts';
import { sha256Hex, stableStringify } from '../content-hash.ts';
import { instantKey } from '../instant-key.ts';
import { isDuplicateKey } from './mongo-connection.ts';
import { againstHead, changeDocFields, insertOwed, type MirrorCollections, pairId, revisionId } from './mongo-mirror-docs.ts';
import { writeChangesBatched, writeJournalBatched } from './mongo-page-batch.ts';

export type Prepared =
  | { kind: 'change'; change: Change; json: string; core: string; hash: string; author: string }
  | { kind: 'approval'; changeNativeId: string; approval: Approval; json: string; hash: string }
  | { kind: 'journal'; changeNativeId: string; entry: JournalEntry; json: string }
  | { kind: 'invalid'; ref: string; code: string; message: string };

/** How often a change write that lost a race to another writer is tried again, waiting a little longer each time (about 2 s in all). */
const RACE_RETRIES = 12;
const raceWait = (attempt: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10 * 2 ** Math.min(attempt, 7)));
/**
 * How old a revision the change never moved to must be before another writer of the same version moves
 * the change to it: far longer than one write takes, shorter than the race retries (about 6 s), so a
 * replay after a crash waits out the first such revision and finds the rest of the page's old enough.
 */
const ORPHANED_AFTER_MS = 5_000;

export function preparePage(items: readonly StreamItem[]): Prepared[] {
  return items.map((item, index) => {
    try {
      return prepare(item);
    } catch (err) {
      throw new ChangegateError('CG_STORE_FAILED', `item ${index} of the page cannot be stored: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        details: { item: index },
      });
    }
  });
}

function prepare(item: StreamItem): Prepared {
  switch (item.kind) {
    case 'change': {
      const json = stableStringify(item.change);
      return { kind: 'change', change: item.change, json, core: JSON.stringify({ ...item.change, raw: null }), hash: sha256Hex(json), author: JSON.stringify(item.author ?? null) };
    }
    case 'approval': {
      const json = stableStringify(item.approval);
      return { kind: 'approval', changeNativeId: item.changeNativeId, approval: item.approval, json, hash: sha256Hex(json) };
    }
    case 'journal':
      return { kind: 'journal', changeNativeId: item.changeNativeId, entry: item.entry, json: stableStringify(item.entry) };
    case 'invalid':
      return { kind: 'invalid', ref: item.ref, code: item.error.code, message: item.error.message };
  }
}

export class MongoPageWriter {
  readonly #c: MirrorCollections;

  constructor(collections: MirrorCollections) {
    this.#c = collections;
  }

  async write(instance: string, stream: string, items: readonly Prepared[], observedAt: string, result: ApplyResult): Promise<void> {
    const hasRejected = (await this.#c.rejected.findOne({ instance, stream }, { projection: { _id: 1 } })) !== null;
    // Native ids of the changes whose approvals or notes this page stored: they are owed an assessment after it.
    const touched = new Set<string>();
    await this.#items(instance, stream, items, observedAt, result, hasRejected, touched);
    await this.#oweAssessments(instance, touched);
  }

  /**
   * Marks owed the latest revision of the mirrored changes among `nativeIds` (a mark already there stays), so
   * noting the latest clears it, as on SQLite. After the children's writes (no transaction holds a page
   * together): a process that dies in between leaves them unmarked, as a SQLite page is never half-stored.
   */
  async #oweAssessments(instance: string, nativeIds: ReadonlySet<string>): Promise<void> {
    if (nativeIds.size === 0) return;
    const one = await this.#c.changes.findOne({ instance }, { projection: { system: 1 } });
    if (one === null) return;
    const ids = [...nativeIds].map((nativeId) => `${one.system}:${instance}:${nativeId}`);
    const mirrored = await this.#c.changes.find({ _id: { $in: ids } }, { projection: { lastSeq: 1 } }).toArray();
    await insertOwed(this.#c, mirrored.map((doc) => ({ changeId: doc._id, seq: doc.lastSeq })));
  }

  async #items(instance: string, stream: string, items: readonly Prepared[], observedAt: string, result: ApplyResult, hasRejected: boolean, touched: Set<string>): Promise<void> {
    const rest = hasRejected ? items : await this.#batched(instance, items, observedAt, result, touched);
    for (const item of rest) {
      switch (item.kind) {
        case 'change':
          await this.#change(item, observedAt, result);
          if (hasRejected) await this.#clearRejected(instance, stream, item.change.nativeId, item.change.key);
          break;
        case 'approval':
          if (await this.#approval(instance, item, result)) touched.add(item.changeNativeId);
          if (hasRejected) await this.#clearRejected(instance, stream, item.approval.id);
          break;
        case 'journal':
          if (await this.#journal(instance, item, result)) touched.add(item.changeNativeId);
          if (hasRejected) await this.#clearRejected(instance, stream, item.entry.id);
          break;
        case 'invalid':
          await this.#c.rejected.updateOne(
            { _id: pairId(instance, stream, item.ref) },
            { $set: { instance, stream, ref: item.ref, code: item.code, message: item.message, lastSeen: observedAt }, $setOnInsert: { firstSeen: observedAt } },
            { upsert: true },
          );
          result.invalid += 1;
          break;
      }
    }
  }

  /**
   * Writes the page's changes and journal in batches (mongo-page-batch.ts) when each record appears
   * once; returns what is left for the item-by-item path.
   */
  async #batched(instance: string, items: readonly Prepared[], observedAt: string, result: ApplyResult, touched: Set<string>): Promise<Prepared[]> {
    const changes = items.filter((i) => i.kind === 'change');
    const journal = items.filter((i) => i.kind === 'journal');
    if (new Set(changes.map((i) => i.change.id)).size !== changes.length || new Set(journal.map((i) => i.entry.id)).size !== journal.length) return [...items];
    const slow = await writeChangesBatched(this.#c, changes, observedAt, result);
    await writeJournalBatched(this.#c, instance, journal, result, touched);
    return [...slow, ...items.filter((i) => i.kind !== 'change' && i.kind !== 'journal')];
  }

  async #change(item: Extract<Prepared, { kind: 'change' }>, observedAt: string, result: ApplyResult): Promise<void> {
    const { change } = item;
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const head = await this.#c.changes.findOne({ _id: change.id }, { projection: { hash: 1, nativeRevision: 1, updatedAt: 1, lastSeq: 1, json: 1 } });
      const known = againstHead(head, change, item.hash);
      if (known === 'stale') {
        result.changesStale += 1;
        return;
      }
      if (known === 'unchanged') {
        result.changesUnchanged += 1;
        return;
      }
      const seq = head === null ? 1 : head.lastSeq + 1;
      const previous = head === null ? null : (JSON.parse(head.json) as Change);
      // The last try takes over a revision number whose writer never moved the change to it (it died in between).
      if (!(await this.#revision(item, seq, previous, observedAt, attempt === RACE_RETRIES - 1))) {
        await raceWait(attempt);
        continue;
      }
      // Owed before the change moves: a writer that dies in between leaves it owed, never assessed-looking.
      await insertOwed(this.#c, [{ changeId: change.id, seq }]);
      const doc = changeDocFields(change, item, seq);
      if (head === null) {
        try {
          await this.#c.changes.insertOne({ _id: change.id, ...doc });
        } catch (err) {
          // Another writer stored the change first: read it again.
          if (isDuplicateKey(err)) {
            await raceWait(attempt);
            continue;
          }
          throw err;
        }
      } else {
        if (head.lastSeq === 1) {
          // The first revision's diff is derived from the change; keep the first version before it is overwritten.
          await this.#c.revisions.updateOne({ _id: revisionId(change.id, 1), diff: null, snapshot: null }, { $set: { snapshot: head.json } });
        }
        const moved = await this.#c.changes.updateOne({ _id: change.id, lastSeq: head.lastSeq, hash: head.hash }, { $set: doc });
        if (moved.matchedCount === 0) {
          await raceWait(attempt);
          continue;
        }
      }
      result.changesWritten += 1;
      return;
    }
    throw new ChangegateError('CG_STORE_FAILED', `change ${change.id} kept changing under this write (${RACE_RETRIES} tries); the page will be stored on the next sync`, {
      details: { changeId: change.id },
    });
  }

  /** Stores revision `seq`; false when this writer is not the one to move the change to it (another version is stored under that number, or this one by a writer still at work): the caller reads again. */
  async #revision(item: Extract<Prepared, { kind: 'change' }>, seq: number, previous: Change | null, observedAt: string, takeOver: boolean): Promise<boolean> {
    const { change } = item;
    const revision = {
      _id: revisionId(change.id, seq),
      changeId: change.id,
      seq,
      nativeRevision: change.nativeRevision,
      updatedAt: change.updatedAt,
      at: instantKey(change.updatedAt),
      observedAt,
      hash: item.hash,
      diff: previous === null ? null : JSON.stringify(diffChanges(previous, change)),
      snapshot: null,
      author: item.author,
      writtenAt: new Date(),
    };
    try {
      await this.#c.revisions.insertOne(revision);
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.#c.revisions.findOne({ _id: revision._id }, { projection: { hash: 1, writtenAt: 1 } });
      // This version, stored by another writer: a live one moves the change itself (this one then reads
      // it unchanged); one that died before moving it (a replay after a crash) left it old.
      if (existing?.hash === item.hash) return takeOver || existing.writtenAt === undefined || Date.now() - existing.writtenAt.getTime() >= ORPHANED_AFTER_MS;
      if (!takeOver || existing === null) return false;
      const replaced = await this.#c.revisions.replaceOne({ _id: revision._id, hash: existing.hash }, revision);
      return replaced.matchedCount === 1;
    }
  }

  /** Says whether it stored the approval. */
  async #approval(instance: string, item: Extract<Prepared, { kind: 'approval' }>, result: ApplyResult): Promise<boolean> {
    const at = instantKey(item.approval.updatedAt);
    const _id = pairId(instance, item.approval.id);
    const head = await this.#c.approvals.findOne({ _id }, { projection: { hash: 1, at: 1, firstAt: 1, json: 1 } });
    // Same rule as changes: an older delivery never rolls an approval back.
    if (head !== null && (head.hash === item.hash || head.at > at)) return false;
    const firstAt = head === null ? approvalTime(item.approval) : (head.firstAt ?? approvalTime(JSON.parse(head.json) as Approval));
    const doc = { instance, id: item.approval.id, changeNativeId: item.changeNativeId, at, hash: item.hash, json: item.json, firstAt, firstKey: instantKey(firstAt) };
    try {
      // Guarded on the version read: a newer one stored meanwhile is not overwritten (the upsert then collides and is dropped).
      await this.#c.approvals.replaceOne(head === null ? { _id } : { _id, at: { $lte: at } }, doc, { upsert: true });
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
    result.approvalsWritten += 1;
    return true;
  }

  /** Says whether it stored the entry. */
  async #journal(instance: string, item: Extract<Prepared, { kind: 'journal' }>, result: ApplyResult): Promise<boolean> {
    try {
      await this.#c.journal.insertOne({ _id: pairId(instance, item.entry.id), instance, id: item.entry.id, changeNativeId: item.changeNativeId, at: instantKey(item.entry.at), json: item.json });
      result.journalWritten += 1;
      return true;
    } catch (err) {
      // Journal entries are immutable: the one stored stays.
      if (!isDuplicateKey(err)) throw err;
      return false;
    }
  }

  async #clearRejected(instance: string, stream: string, ...refs: string[]): Promise<void> {
    await this.#c.rejected.deleteMany({ _id: { $in: refs.map((ref) => pairId(instance, stream, ref)) } });
  }
}
