// The mirror on MongoDB. A page is written item by item, then its cursor
// (mongo-page-writer.ts): no multi-document transaction, so it runs on any
// deployment and on compatible servers. Reads of a change without its payload
// go through the same read cache as on SQLite; its "mirror unchanged" signal is
// a generation document every page write bumps, read at most every
// `recheckMs`, so a write by another replica reaches cached readers within it.

import type { Collection, Filter } from 'mongodb';
import { ChangegateError } from '../../errors.ts';
import type { StreamCursor, StreamItem } from '../../kit/connector.ts';
import { approvalTime, instanceOfChangeId, type Approval, type Change, type JournalEntry, type MirroredChange, type NeighbourChange } from '../../domain/change.ts';
import { diffChanges } from '../change-diff.ts';
import type {
  ApplyPageOptions,
  ApplyResult,
  ApprovalHistoryQuery,
  ChangePage,
  ChangeQuery,
  ChangeStore,
  FieldDiff,
  GetChangeOptions,
  HistoryApproval,
  IndexedQuery,
  RejectedRecord,
  Revision,
  RevisionAuthor,
  RevisionHistoryQuery,
  TouchingQuery,
} from '../change-store.ts';
import { ANY_DAY, NO_WINDOW, refKey, windowDays } from '../change-refs.ts';
import { instantKey } from '../instant-key.ts';
import { clampLimit, sinceKey } from '../list-params.ts';
import { decodeListCursor, encodeListCursor } from '../list-cursor.ts';
import { deepFreeze, MirrorReadCache, type MirrorReadCacheOptions, type ReadCacheStats, DEFAULT_RECHECK_MS } from '../mirror-read-cache.ts';
import { isDuplicateKey, type MongoConnection } from './mongo-connection.ts';
import { type ChangeDoc, type ChildDoc, fillApprovalFirstKeys, fillRevisionInstants, GENERATION_ID, indexKeyField, instanceVersionId, type MirrorCollections, mirrorCollections, pairId, type RevisionDoc } from './mongo-mirror-docs.ts';
import { MongoPageWriter, preparePage } from './mongo-page-writer.ts';
import { escapeRegExp } from '../../kit/escape-regexp.ts';

const WHAT = 'the MongoDB mirror';

/** Per instance, the greatest lease fence its pages were written under (see ChangeStore.applyPage) and when its last sync succeeded. */
interface InstanceSyncDoc {
  _id: string;
  fence?: number;
  /** Epoch milliseconds. */
  lastSuccessAt?: number;
}
const CORE = { projection: { core: 1, instance: 1, nativeId: 1 } } as const;

export class MongoChangeStore implements ChangeStore {
  readonly #conn: MongoConnection;
  readonly #c: MirrorCollections;
  readonly #writer: MongoPageWriter;
  readonly #fences: Collection<InstanceSyncDoc>;
  readonly #cache: MirrorReadCache;
  readonly #recheckMs: number;
  /** The generation last read from the server; the cache compares it synchronously. */
  #generation = -1;
  #generationReadAt = Number.NEGATIVE_INFINITY;
  /** Neighbour answers while the generation holds (the cache's own `lookup` computes synchronously). */
  readonly #touching = new Map<string, readonly Change[]>();
  #touchingGeneration = -1;

  constructor(conn: MongoConnection, cache: MirrorReadCacheOptions = {}) {
    this.#conn = conn;
    this.#c = mirrorCollections(conn.db);
    this.#writer = new MongoPageWriter(this.#c);
    this.#fences = conn.db.collection<InstanceSyncDoc>('instance_sync');
    this.#recheckMs = cache.recheckMs ?? DEFAULT_RECHECK_MS;
    // The cache reads the generation at most every recheckMs itself; #refresh reads the server as often.
    this.#cache = new MirrorReadCache(() => this.#generation, { ...cache, recheckMs: 0 });
  }

  async applyPage(instance: string, stream: string, items: readonly StreamItem[], cursor: StreamCursor | null, options: ApplyPageOptions = {}): Promise<ApplyResult> {
    const { fence } = options;
    const observedAt = new Date().toISOString();
    const result: ApplyResult = { changesWritten: 0, changesUnchanged: 0, changesStale: 0, approvalsWritten: 0, journalWritten: 0, invalid: 0 };
    const prepared = preparePage(items);
    // Counted as begun before any item is written (see instanceVersionId); finished below, whatever the outcome.
    const started = items.length === 0 ? null : await this.#beginWrite(instance);
    try {
      return await this.#run('applyPage', { instance, stream }, async () => {
        // No transaction binds the fence to the page, so it is checked twice, each time in one atomic
        // single-document write: before the items (a stale writer writes none of them) and with the cursor
        // (a writer that went stale while writing them cannot move it; its items are idempotent upserts
        // judged stale against newer versions, and the next holder reads them again).
        if (fence !== undefined) await this.#raiseFence(instance, stream, fence);
        await this.#writer.write(instance, stream, prepared, observedAt, result);
        // The cursor only after every item it covers; a null cursor (an empty page) keeps the saved one.
        if (cursor !== null) {
          const set = { $set: { instance, stream, updatedAt: cursor.updatedAt, id: cursor.id, savedAt: observedAt, ...(fence === undefined ? {} : { fence }) } };
          if (fence === undefined) await this.#c.cursors.updateOne({ _id: pairId(instance, stream) }, set, { upsert: true });
          else {
            try {
              // Matches no document when a greater fence saved the cursor: the upsert then collides on _id.
              await this.#c.cursors.updateOne({ _id: pairId(instance, stream), $or: [{ fence: { $exists: false } }, { fence: { $lte: fence } }] }, set, { upsert: true });
            } catch (err) {
              if (isDuplicateKey(err)) throw await this.#staleFence(instance, stream, fence, 'its cursor');
              throw err;
            }
          }
        }
        return result;
      });
    } finally {
      // Bumped whatever the outcome: a page cut short may have written some of its items.
      if (items.length > 0) await this.#c.meta.updateOne({ _id: GENERATION_ID }, { $inc: { n: 1 } }, { upsert: true }).catch(() => undefined);
      if (started !== null) await this.#c.meta.updateOne({ _id: instanceVersionId(instance) }, { $max: { finished: started } }).catch(() => undefined);
      this.#cache.invalidate();
      this.#touching.clear();
      this.#generationReadAt = Number.NEGATIVE_INFINITY;
    }
  }

  /** Takes the instance's fence up to `fence`, or refuses the page when a greater one wrote: one conditional upsert. */
  async #raiseFence(instance: string, stream: string, fence: number): Promise<void> {
    try {
      await this.#fences.updateOne({ _id: instance, $or: [{ fence: { $exists: false } }, { fence: { $lte: fence } }] }, { $set: { fence } }, { upsert: true });
    } catch (err) {
      if (isDuplicateKey(err)) throw await this.#staleFence(instance, stream, fence, 'any of its items');
      throw err;
    }
  }

  async #staleFence(instance: string, stream: string, fence: number, what: string): Promise<ChangegateError> {
    const newest = (await this.#fences.findOne({ _id: instance }).catch(() => null))?.fence ?? null;
    return new ChangegateError(
      'CG_LEASE_LOST',
      `a page of ${instance}/${stream} was refused before ${what} was stored: it was written under fence ${fence} of the instance's lease, and a holder with fence ${newest ?? 'greater'} wrote since`,
      { details: { instance, stream, fence, ...(newest === null ? {} : { newest }) } },
    );
  }

  async noteSyncSucceeded(instance: string, at: Date): Promise<void> {
    await this.#run('noteSyncSucceeded', { instance }, () => this.#fences.updateOne({ _id: instance }, { $max: { lastSuccessAt: at.getTime() } }, { upsert: true }));
  }

  async lastSyncSucceeded(instance: string): Promise<Date | null> {
    const doc = await this.#run('lastSyncSucceeded', { instance }, () => this.#fences.findOne({ _id: instance }));
    return doc?.lastSuccessAt === undefined ? null : new Date(doc.lastSuccessAt);
  }

  async getCursor(instance: string, stream: string): Promise<StreamCursor | null> {
    return this.#run('getCursor', { instance, stream }, async () => {
      const doc = await this.#c.cursors.findOne({ _id: pairId(instance, stream) });
      return doc === null ? null : { updatedAt: doc.updatedAt, id: doc.id };
    });
  }

  async resetCursors(instance: string): Promise<void> {
    await this.#run('resetCursors', { instance }, () => this.#c.cursors.deleteMany({ instance }));
  }

  async getChange(idOrKey: string, options: GetChangeOptions = {}): Promise<MirroredChange | null> {
    return this.#run('getChange', { idOrKey }, async () => {
      if (options.withoutRaw === true) return this.#getCore(idOrKey, options.instance, options.children, options.keep ?? true);
      const doc = await this.#find(idOrKey, options.instance, { projection: { json: 1, instance: 1, nativeId: 1 } });
      if (doc === null) return null;
      const { approvals = true, journal = true } = options.children ?? {};
      return {
        change: JSON.parse(doc.json) as Change,
        approvals: approvals ? await this.#children<Approval>(this.#c.approvals, doc.instance, doc.nativeId) : [],
        journal: journal ? await this.#children<JournalEntry>(this.#c.journal, doc.instance, doc.nativeId) : [],
      };
    });
  }

  async #getCore(idOrKey: string, instance: string | undefined, wanted: GetChangeOptions['children'], keep: boolean): Promise<MirroredChange | null> {
    await this.#refresh();
    let entry = idOrKey.includes(':') ? this.#cache.byId(idOrKey) : undefined;
    if (entry !== undefined && instance !== undefined && entry.instance !== instance) entry = undefined;
    entry ??= this.#cache.byKey(idOrKey, instance);
    const { approvals = true, journal = true } = wanted ?? {};
    if (entry === undefined) {
      const doc = await this.#find(idOrKey, instance, CORE);
      if (doc === null) return null;
      const change = JSON.parse(doc.core) as Change;
      if (!keep) {
        return {
          change,
          approvals: approvals ? await this.#children<Approval>(this.#c.approvals, doc.instance, doc.nativeId) : [],
          journal: journal ? await this.#children<JournalEntry>(this.#c.journal, doc.instance, doc.nativeId) : [],
        };
      }
      entry = this.#cache.add(change, doc.instance, doc.nativeId, doc.core.length);
      if (entry.change.id !== idOrKey) this.#cache.rememberKey(idOrKey, instance, entry.change.id);
    }
    if (approvals) entry.approvals ??= deepFreeze(await this.#children<Approval>(this.#c.approvals, entry.instance, entry.nativeId));
    if (journal) entry.journal ??= deepFreeze(await this.#children<JournalEntry>(this.#c.journal, entry.instance, entry.nativeId));
    return { change: entry.change, approvals: (approvals ? entry.approvals : []) as Approval[], journal: (journal ? entry.journal : []) as JournalEntry[] };
  }

  /** By canonical id (it has colons), else by key, ignoring case: the most recently updated unless `instance` narrows it. */
  async #find<P extends Partial<Record<keyof ChangeDoc, 1>>>(idOrKey: string, instance: string | undefined, options: { projection: P }): Promise<ChangeDoc | null> {
    if (idOrKey.includes(':')) {
      const doc = await this.#c.changes.findOne({ _id: idOrKey }, options);
      if (doc !== null && (instance === undefined || doc.instance === instance)) return doc as ChangeDoc;
    }
    const filter: Filter<ChangeDoc> = { keyLower: idOrKey.toLowerCase(), ...(instance === undefined ? {} : { instance }) };
    return (await this.#c.changes.findOne(filter, { ...options, sort: { updatedAt: -1, _id: -1 } })) as ChangeDoc | null;
  }

  async #children<T>(collection: MirrorCollections['approvals'], instance: string, nativeId: string): Promise<T[]> {
    const docs = await collection.find({ instance, changeNativeId: nativeId }, { projection: { json: 1, at: 1, id: 1 } }).sort({ at: 1, id: 1 }).toArray();
    return docs.map((d) => JSON.parse(d.json) as T);
  }

  /** Reads the generation document when the last read is older than recheckMs, then lets the cache compare. */
  async #refresh(): Promise<void> {
    const now = performance.now();
    if (now - this.#generationReadAt >= this.#recheckMs) {
      const doc = await this.#c.meta.findOne({ _id: GENERATION_ID });
      this.#generation = doc?.n ?? 0;
      this.#generationReadAt = now;
    }
    this.#cache.refresh();
    if (this.#touchingGeneration !== this.#generation) {
      this.#touching.clear();
      this.#touchingGeneration = this.#generation;
    }
  }

  async listChanges(query: ChangeQuery): Promise<ChangePage> {
    const limit = clampLimit(query.limit);
    const after = query.cursor === undefined ? null : decodeListCursor(query.cursor);
    const filter: Filter<ChangeDoc> = {};
    if (query.instance !== undefined) filter.instance = query.instance;
    if (query.system !== undefined) filter.system = query.system;
    if (query.state !== undefined) filter.state = query.state;
    const and: Filter<ChangeDoc>[] = [];
    if (query.updatedSince !== undefined) and.push({ updatedAt: { $gte: sinceKey(query.updatedSince) } });
    if (after !== null) and.push({ $or: [{ updatedAt: { $gt: after.updatedAt } }, { updatedAt: after.updatedAt, _id: { $gt: after.id } }] });
    if (and.length > 0) filter.$and = and;
    return this.#run('listChanges', {}, async () => {
      // One document more than asked tells whether another page exists without a count.
      const docs = await this.#c.changes.find(filter, { projection: { json: 1, updatedAt: 1 } }).sort({ updatedAt: 1, _id: 1 }).limit(limit + 1).toArray();
      const more = docs.length > limit;
      const page = more ? docs.slice(0, limit) : docs;
      const last = page.at(-1);
      return {
        items: page.map((d) => JSON.parse(d.json) as Change),
        nextCursor: more && last !== undefined ? encodeListCursor({ updatedAt: last.updatedAt, id: last._id }) : null,
      };
    });
  }

  async listActiveChangesTouching(query: TouchingQuery): Promise<Change[]> {
    const limit = clampLimit(query.limit);
    const refs = [...new Set(query.refs.map(refKey))].filter((k) => k !== '');
    const window = query.plannedOverlap;
    const days = window === undefined ? null : windowDays(window.start, window.end);
    if (refs.length === 0 || days?.[0] === NO_WINDOW) return [];
    const onDays = days === null || days[0] === ANY_DAY ? [] : [...days, ANY_DAY];
    const filter: Filter<ChangeDoc> = { instance: query.instance };
    if (query.excludeId !== undefined) filter._id = { $ne: query.excludeId };
    if (onDays.length > 0) filter.refDays = { $in: refs.flatMap((ref) => onDays.map((day) => `${ref}\u0000${day}`)) };
    else filter.refs = { $in: refs };
    if (window !== undefined) {
      filter.plannedStart = { $lt: instantKey(window.end) };
      filter.plannedEnd = { $gt: instantKey(window.start) };
    }
    return this.#run('listActiveChangesTouching', { instance: query.instance }, async () => {
      await this.#refresh();
      // Every validation of a change into authorize asks the same: answered once while the mirror is unchanged.
      const key = JSON.stringify([filter, limit]);
      const known = this.#touching.get(key);
      if (known !== undefined) return known as Change[];
      const docs = await this.#c.changes.find(filter, CORE).sort({ updatedAt: -1, _id: 1 }).limit(limit).toArray();
      const found = docs.map((d) => this.#cache.byId(d._id)?.change ?? this.#cache.add(JSON.parse(d.core) as Change, d.instance, d.nativeId, d.core.length).change);
      this.#touching.set(key, Object.freeze(found));
      return found;
    });
  }

  /** Whole changes (each a NeighbourChange): the cores are kept as one JSON text per document, so there is no smaller read to make. */
  async listNeighbours(query: TouchingQuery): Promise<NeighbourChange[]> {
    return this.listActiveChangesTouching(query);
  }

  async listActiveChangesIndexed(query: IndexedQuery): Promise<Change[]> {
    const limit = clampLimit(query.limit);
    const keys = [...new Set(query.keys)].filter((k) => k !== '');
    if (keys.length === 0) return [];
    // Through the neighbours' day index: one ordered scan per key, merged, stopping at the limit.
    const filter: Filter<ChangeDoc> = { instance: query.instance, refDays: { $in: keys.map(indexKeyField) } };
    return this.#run('listActiveChangesIndexed', { instance: query.instance }, async () => {
      await this.#refresh();
      const docs = await this.#c.changes.find(filter, CORE).sort({ updatedAt: -1, _id: 1 }).limit(limit).toArray();
      return docs.map((d) => this.#cache.byId(d._id)?.change ?? this.#cache.add(JSON.parse(d.core) as Change, d.instance, d.nativeId, d.core.length).change);
    });
  }

  async lastRevisionSeq(changeId: string): Promise<number> {
    return this.#run('lastRevisionSeq', { changeId }, async () => (await this.#c.changes.findOne({ _id: changeId }, { projection: { lastSeq: 1 } }))?.lastSeq ?? 0);
  }

  async listApprovalsForHistory(instance: string, changeNativeId: string, query: ApprovalHistoryQuery): Promise<HistoryApproval[]> {
    const dir = query.order === 'asc' ? 1 : -1;
    const beyond = query.order === 'asc' ? '$gt' : '$lt';
    const filter: Filter<ChildDoc> = { instance, changeNativeId };
    if (query.after !== undefined) {
      const { firstAt, id } = query.after;
      filter.$or = [{ firstKey: { [beyond]: firstAt } }, { firstKey: firstAt, id: { [beyond]: id } }];
    }
    const limit = Math.max(1, Math.trunc(query.limit));
    return this.#run('listApprovalsForHistory', { instance, changeNativeId }, async () => {
      // What a replica of an earlier version stored since start-up, during a rolling upgrade (see there).
      await fillApprovalFirstKeys(this.#c.approvals, { instance, changeNativeId });
      const docs = await this.#c.approvals.find(filter, { projection: { json: 1, firstAt: 1 } }).sort({ firstKey: dir, id: dir }).limit(limit).toArray();
      return docs.map((d) => {
        const approval = JSON.parse(d.json) as Approval;
        return { approval, firstAt: d.firstAt ?? approvalTime(approval) };
      });
    });
  }

  async countApprovals(instance: string, changeNativeId: string): Promise<number> {
    return this.#run('countApprovals', { instance, changeNativeId }, () => this.#c.approvals.countDocuments({ instance, changeNativeId }));
  }

  async listRevisions(changeId: string, options: { after?: number } = {}): Promise<Revision[]> {
    return this.#run('listRevisions', { changeId }, async () => {
      const docs = await this.#c.revisions.find(options.after === undefined ? { changeId } : { changeId, seq: { $gt: options.after } }).sort({ seq: 1 }).toArray();
      return this.#revisions(docs);
    });
  }

  /**
   * Two ranges of the `history` index, each a plain one any server answers in order (no `$or` of the keyset): the
   * rest of the cursor's instant by seq, then the instants beyond it, for what the first left of the page.
   */
  async listRevisionsForHistory(changeId: string, query: RevisionHistoryQuery): Promise<Revision[]> {
    const sign = query.order === 'asc' ? 1 : -1;
    const beyond = sign === 1 ? '$gt' : '$lt';
    const limit = Math.max(1, Math.trunc(query.limit));
    const after = query.after;
    return this.#run('listRevisionsForHistory', { changeId }, async () => {
      // What a replica of an earlier version stored since start-up, during a rolling upgrade (see there).
      await fillRevisionInstants(this.#c.revisions, { changeId });
      const atCursor = after === undefined ? [] : await this.#c.revisions.find({ changeId, at: after.at, seq: { [beyond]: after.seq } }).sort({ at: sign, seq: sign }).limit(limit).toArray();
      const rest = limit - atCursor.length;
      const later = rest === 0 ? [] : await this.#c.revisions.find(after === undefined ? { changeId } : { changeId, at: { [beyond]: after.at } }).sort({ at: sign, seq: sign }).limit(rest).toArray();
      return this.#revisions([...atCursor, ...later]);
    });
  }

  async countRevisions(changeId: string): Promise<number> {
    return this.#run('countRevisions', { changeId }, () => this.#c.revisions.countDocuments({ changeId }));
  }

  async #revisions(docs: readonly RevisionDoc[]): Promise<Revision[]> {
    const out: Revision[] = [];
    for (const doc of docs) {
      out.push({
        changeId: doc.changeId,
        seq: doc.seq,
        nativeRevision: doc.nativeRevision,
        updatedAt: doc.updatedAt,
        observedAt: doc.observedAt,
        hash: doc.hash,
        diff: doc.diff === null ? await this.#firstDiff(doc) : (JSON.parse(doc.diff) as FieldDiff[]),
        ...authorOf(doc.author),
      });
    }
    return out;
  }

  async #firstDiff(doc: RevisionDoc): Promise<FieldDiff[]> {
    const json = doc.snapshot ?? (await this.#c.changes.findOne({ _id: doc.changeId }, { projection: { json: 1 } }))?.json;
    return json === undefined ? [] : diffChanges(null, JSON.parse(json) as Change);
  }

  async noteAssessed(changeId: string, seq: number, asOf?: number): Promise<void> {
    // The marks of this revision and earlier ones; a revision stored meanwhile has a mark of its own. Never
    // an update of the change document, which a page may be moving right now (see OwedDoc).
    await this.#run('noteAssessed', { changeId }, async () => {
      // The version is checked, then the marks deleted: a page begun between the two is not seen (no
      // transaction here); one begun at any time before, during or after the assessment's read is.
      if (asOf !== undefined && (await this.#versionOf(instanceOfChangeId(changeId) ?? '')) !== asOf) return;
      await this.#c.owed.deleteMany({ changeId, seq: { $lte: seq } });
    });
  }

  async mirrorVersion(instance: string): Promise<number> {
    return this.#run('mirrorVersion', { instance }, () => this.#versionOf(instance));
  }

  /** The instance's version, or -1 while a page write is under way (no note taken against it can stand). */
  async #versionOf(instance: string): Promise<number> {
    const doc = await this.#c.meta.findOne({ _id: instanceVersionId(instance) });
    if (doc === null) return 0;
    const started = doc.started ?? 0;
    return (doc.finished ?? 0) >= started ? started : -1;
  }

  async #beginWrite(instance: string): Promise<number> {
    const doc = await this.#run('applyPage', { instance }, () =>
      this.#c.meta.findOneAndUpdate({ _id: instanceVersionId(instance) }, { $inc: { started: 1 }, $setOnInsert: { n: 0 } }, { upsert: true, returnDocument: 'after' }),
    );
    return doc?.started ?? 0;
  }

  async listOwedAssessments(query: { instance?: string; after?: string; limit: number }): Promise<string[]> {
    const limit = clampLimit(query.limit);
    return this.#run('listOwedAssessments', {}, async () => {
      // A change may owe several revisions: each change once, in id order.
      const ids: string[] = [];
      for await (const d of this.#c.owed.find(owedFilter(query.instance, query.after), { projection: { changeId: 1 } }).sort({ changeId: 1, seq: 1 })) {
        if (ids.at(-1) === d.changeId) continue;
        if (ids.length === limit) break;
        ids.push(d.changeId);
      }
      return ids;
    });
  }

  readCacheStats(): ReadCacheStats {
    return this.#cache.stats();
  }

  async countChanges(instance?: string): Promise<number> {
    return this.#run('countChanges', {}, () => this.#c.changes.countDocuments(instance === undefined ? {} : { instance }));
  }

  async listRejected(instance?: string): Promise<RejectedRecord[]> {
    return this.#run('listRejected', {}, async () => {
      const docs = await this.#c.rejected.find(instance === undefined ? {} : { instance }).sort({ instance: 1, stream: 1, ref: 1 }).toArray();
      return docs.map((d) => ({ instance: d.instance, stream: d.stream, ref: d.ref, code: d.code, message: d.message, firstSeen: d.firstSeen, lastSeen: d.lastSeen }));
    });
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }
}


function authorOf(json: string | undefined): Pick<Revision, 'author' | 'authorUnknown'> {
  if (json === undefined) return { author: null, authorUnknown: 'not-recorded' };
  const author = JSON.parse(json) as RevisionAuthor | null;
  return author === null ? { author: null, authorUnknown: 'not-named' } : { author };
}

/** Owed marks after `after` (a change id), of one instance's changes when given (ids are `system:instance:nativeId`). */
function owedFilter(instance: string | undefined, after: string | undefined): Record<string, unknown> {
  const changeId: Record<string, unknown> = { $gt: after ?? '' };
  if (instance !== undefined) changeId['$regex'] = `^[^:]+:${escapeRegExp(instance)}:`;
  return { changeId };
}
