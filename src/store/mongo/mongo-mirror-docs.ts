// The documents the MongoDB mirror keeps, one collection each, and the indexes
// created at start-up (createIndex is idempotent: a second start, or a second
// replica, changes nothing). Changes, approvals and journal entries are kept
// as their JSON text, as on SQLite: a source payload's keys may hold `.` or
// `$`, which not every MongoDB-compatible server accepts as field names, and
// the hot path compares hashes, never the parsed content.

import { type AnyBulkWriteOperation, type Collection, type Db, MongoBulkWriteError } from 'mongodb';
import { approvalTime, type Approval, type Change } from '../../domain/change.ts';
import { changeIndexKeys, changeRefKeys, INACTIVE_STATES, INDEX_ONLY, isActiveState, NO_WINDOW, windowDays } from '../change-refs.ts';
import { instantKey } from '../instant-key.ts';

export interface ChangeDoc {
  /** Canonical id. */
  _id: string;
  instance: string;
  system: string;
  nativeId: string;
  key: string;
  /** The key lower-cased: look-ups by key ignore case. */
  keyLower: string;
  state: string;
  /** instantKey of updatedAt: sorts as an instant. */
  updatedAt: string;
  nativeRevision: number;
  hash: string;
  lastSeq: number;
  /**
   * Where earlier versions kept the "owed an assessment" mark. Nothing writes them now: the assessment
   * runner's mark is an `OwedDoc` (see there); start-up moves a store's remaining marks there once.
   */
  assessedSeq?: number;
  owed?: boolean;
  json: string;
  /** The change without its source payload (what validation reads). */
  core: string;
  /**
   * `ref` and `ref\u0000day` keys while active (see change-refs.ts), and in refDays each index key
   * (`changeIndexKeys`) as `key\u0000INDEX_ONLY`, a day no neighbour lookup asks for; empty once finished.
   */
  refs: string[];
  refDays: string[];
  /** instantKeys of the planned window, null when it is not a window. */
  plannedStart: string | null;
  plannedEnd: string | null;
}

export interface RevisionDoc {
  /** `changeId\u0000seq`: a replayed insert of the same revision is refused by the primary key. */
  _id: string;
  changeId: string;
  seq: number;
  nativeRevision: number;
  /** The source's text, as it sent it. */
  updatedAt: string;
  /**
   * instantKey of updatedAt: the history pages a change's revisions by (at, seq). Absent on revisions an earlier
   * version stored until start-up, or the history of their change, gives them theirs (`fillRevisionInstants`).
   */
  at?: string;
  observedAt: string;
  hash: string;
  /** JSON of the diff; null on the first revision (derived on read from the change or `snapshot`). */
  diff: string | null;
  snapshot: string | null;
  /** JSON of the author, or JSON null when the source named nobody. */
  author: string;
  /**
   * When the writer inserted it (its clock): a revision the change never moved to is left to its
   * writer while recent, taken over once old (mongo-page-writer.ts). Absent on revisions stored before.
   */
  writtenAt?: Date;
}

export interface ChildDoc {
  /** `instance\u0000id`. */
  _id: string;
  instance: string;
  id: string;
  changeNativeId: string;
  /** instantKey of updatedAt (approvals) or at (journal). */
  at: string;
  hash?: string;
  json: string;
  /**
   * Approvals: `approvalTime` of the first version stored, kept through later ones (the first time ChangeStore.listApprovalsForHistory gives).
   * Absent on approvals stored before it was kept: the version held then stands for the first.
   */
  firstAt?: string;
  /** Approvals: instantKey of `firstAt`, what the history pages them by (given once at start-up to those stored before it). */
  firstKey?: string;
}

export interface CursorDoc {
  _id: string;
  instance: string;
  stream: string;
  updatedAt: string;
  id: string;
  savedAt: string;
  /** The lease fence it was saved under (a fenced sync's); a smaller one cannot move it. */
  fence?: number;
}

export interface RejectedDoc {
  _id: string;
  instance: string;
  stream: string;
  ref: string;
  code: string;
  message: string;
  firstSeen: string;
  lastSeen: string;
}

/**
 * One revision owed an assessment: inserted by the page writer that stores revision `seq` (before it
 * moves the change there), deleted by `noteAssessed` for every revision up to the one assessed. Its own
 * document, never a field of the change: FerretDB writes a whole document back on every update, so an
 * assessment mark written on the change could undo a page's concurrent move of it. An insert and a
 * delete by `_id` never write a document another writer is updating.
 */
export interface OwedDoc {
  /** revisionId(changeId, seq). */
  _id: string;
  changeId: string;
  seq: number;
}

/** The mirror_meta document saying a store's owed marks were moved out of its change documents. */
export const OWED_MOVED_ID = 'owed-assessments-moved';

/** One document whose counter every mirror write bumps: the read cache's "mirror unchanged" signal. */
export interface MetaDoc {
  _id: string;
  n: number;
  /** On an instance's version document (`instanceVersionId`): page writes begun, and the highest begun one that finished. */
  started?: number;
  finished?: number;
}

export const GENERATION_ID = 'mirror-generation';

/**
 * The version document of one instance's mirror (ChangeStore.mirrorVersion). No transaction holds a page
 * together here, so a page write counts itself in `started` before it writes and in `finished` after: the
 * mirror is at a version only while the two are equal, and a note taken meanwhile is refused. A writer
 * that died in between is passed over by the next page's `finished`.
 */
export function instanceVersionId(instance: string): string {
  return `${GENERATION_ID}:${instance}`;
}

/**
 * The mirror_meta document saying a store's active changes were given their index keys (`indexKeyField`)
 * as this version computes them: a commit's key is its bucket (change-refs.ts `commitRefKey`) since
 * `-commit-buckets`, so a store noted under the earlier id alone has them computed again.
 */
export const INDEX_KEYS_ID = 'change-index-keys-commit-buckets';

/** The mirror_meta document saying the revisions an earlier version stored were given their `at`. */
export const REVISION_INSTANTS_ID = 'revision-instants';

/** The mirror_meta document saying the approvals an earlier version stored were given their `firstKey`. */
export const APPROVAL_FIRST_KEYS_ID = 'approval-first-keys';

export interface MirrorCollections {
  changes: Collection<ChangeDoc>;
  revisions: Collection<RevisionDoc>;
  approvals: Collection<ChildDoc>;
  journal: Collection<ChildDoc>;
  cursors: Collection<CursorDoc>;
  rejected: Collection<RejectedDoc>;
  meta: Collection<MetaDoc>;
  owed: Collection<OwedDoc>;
}

export function mirrorCollections(db: Db): MirrorCollections {
  return {
    changes: db.collection<ChangeDoc>('changes'),
    revisions: db.collection<RevisionDoc>('revisions'),
    approvals: db.collection<ChildDoc>('approvals'),
    journal: db.collection<ChildDoc>('journal'),
    cursors: db.collection<CursorDoc>('cursors'),
    rejected: db.collection<RejectedDoc>('rejected_records'),
    meta: db.collection<MetaDoc>('mirror_meta'),
    owed: db.collection<OwedDoc>('owed_assessments'),
  };
}

/**
 * The neighbour lookup's indexes: under each `ref\u0000day` (a window of a few
 * days) or each ref (no window, or a long one), the changes in answer order
 * (most recently updated first), planned dates beside them. A lookup naming k
 * keys is then k index scans merged in order (MongoDB's SORT_MERGE) that stop
 * at the limit, the window checked on the index keys: about `limit` keys read
 * and only the changes returned fetched, however many changes a busy CI carries.
 */
export const NEIGHBOUR_INDEXES = {
  byDay: { name: 'neighbours_by_day_recent', key: { instance: 1, refDays: 1, updatedAt: -1, _id: 1, plannedStart: 1, plannedEnd: 1 } },
  byRef: { name: 'neighbours_recent', key: { instance: 1, refs: 1, updatedAt: -1, _id: 1, plannedStart: 1, plannedEnd: 1 } },
} as const;

/** Indexes earlier versions created and nothing reads any more (each costs every write). */
const RETIRED_INDEXES = ['neighbours_by_day', 'neighbours', 'owed_assessment'];

export async function ensureMirrorIndexes(c: MirrorCollections): Promise<void> {
  await dropRetiredIndexes(c);
  await Promise.all([
    c.changes.createIndex({ updatedAt: 1, _id: 1 }, { name: 'by_updated' }),
    c.changes.createIndex({ instance: 1, updatedAt: 1, _id: 1 }, { name: 'by_instance_updated' }),
    c.changes.createIndex({ keyLower: 1, updatedAt: -1, _id: -1 }, { name: 'by_key' }),
    c.changes.createIndex(NEIGHBOUR_INDEXES.byDay.key, { name: NEIGHBOUR_INDEXES.byDay.name }),
    c.changes.createIndex(NEIGHBOUR_INDEXES.byRef.key, { name: NEIGHBOUR_INDEXES.byRef.name }),
    c.revisions.createIndex({ changeId: 1, seq: 1 }, { name: 'by_change' }),
    c.revisions.createIndex({ changeId: 1, at: 1, seq: 1 }, { name: 'history' }),
    c.approvals.createIndex({ instance: 1, changeNativeId: 1, at: 1, id: 1 }, { name: 'by_change' }),
    c.approvals.createIndex({ instance: 1, changeNativeId: 1, firstKey: 1, id: 1 }, { name: 'history' }),
    c.journal.createIndex({ instance: 1, changeNativeId: 1, at: 1, id: 1 }, { name: 'by_change' }),
    c.rejected.createIndex({ instance: 1, stream: 1, ref: 1 }, { name: 'by_stream' }),
    c.owed.createIndex({ changeId: 1, seq: 1 }, { name: 'by_change' }),
  ]);
  await moveLegacyOwed(c);
  await addIndexKeys(c);
  await addRevisionInstants(c);
  await addApprovalFirstKeys(c);
}

/** Change documents given their index keys per write at start-up. */
const INDEX_KEYS_BATCH = 500;

/** An index key (`changeIndexKeys`) as refDays holds it. */
export function indexKeyField(key: string): string {
  return `${key}\u0000${INDEX_ONLY}`;
}

/**
 * Once per store: the active changes an earlier version mirrored get their index keys. Each is set only
 * on the version it was computed from (a page writing a newer one meanwhile writes its own); replicas
 * starting together may both do it, with the same result.
 */
async function addIndexKeys(c: MirrorCollections): Promise<void> {
  if ((await c.meta.findOne({ _id: INDEX_KEYS_ID })) !== null) return;
  const active = c.changes.find({ state: { $nin: [...INACTIVE_STATES] } }, { projection: { core: 1, hash: 1 } });
  const updates: AnyBulkWriteOperation<ChangeDoc>[] = [];
  for await (const doc of active) {
    const { refDays } = refFields(JSON.parse(doc.core) as Change);
    updates.push({ updateOne: { filter: { _id: doc._id, hash: doc.hash }, update: { $set: { refDays } } } });
    if (updates.length >= INDEX_KEYS_BATCH) await c.changes.bulkWrite(updates.splice(0), { ordered: false });
  }
  if (updates.length > 0) await c.changes.bulkWrite(updates, { ordered: false });
  // A replica starting at the same time may note it first.
  await c.meta.insertOne({ _id: INDEX_KEYS_ID, n: 1 }).catch((err: unknown) => {
    if ((err as { code?: unknown } | null)?.code !== 11000) throw err;
  });
}

/** Revisions given their `at` per write. */
const REVISION_INSTANTS_BATCH = 500;

/**
 * Once per store: the revisions an earlier version stored get their `at` (the history pages by it, and would
 * not reach one without). Replicas starting together may both do it, with the same result.
 */
async function addRevisionInstants(c: MirrorCollections): Promise<void> {
  if ((await c.meta.findOne({ _id: REVISION_INSTANTS_ID })) !== null) return;
  await fillRevisionInstants(c.revisions, {});
  // A replica starting at the same time may note it first.
  await c.meta.insertOne({ _id: REVISION_INSTANTS_ID, n: 1 }).catch((err: unknown) => {
    if ((err as { code?: unknown } | null)?.code !== 11000) throw err;
  });
}

/** Approvals given their `firstKey` per write at start-up. */
const APPROVAL_FIRST_KEYS_BATCH = 500;

/**
 * Once per store: the approvals an earlier version stored get their `firstKey` (the history pages by it, and would
 * not reach one without), from their `firstAt`, or for one stored before that was kept, the version it holds (as
 * the next write keeps it). Replicas starting together may both do it, with the same result.
 */
async function addApprovalFirstKeys(c: MirrorCollections): Promise<void> {
  if ((await c.meta.findOne({ _id: APPROVAL_FIRST_KEYS_ID })) !== null) return;
  await fillApprovalFirstKeys(c.approvals, {});
  // A replica starting at the same time may note it first.
  await c.meta.insertOne({ _id: APPROVAL_FIRST_KEYS_ID, n: 1 }).catch((err: unknown) => {
    if ((err as { code?: unknown } | null)?.code !== 11000) throw err;
  });
}

/**
 * Gives the approvals `scope` selects that have no `firstKey` theirs. Start-up does it for the whole store once, and
 * the history for the one change it pages before every read, as for revisions (fillRevisionInstants): a replica of an
 * earlier version stores new approvals without it during a rolling upgrade. By the change, those are one range of
 * the `history` index (instance, changeNativeId, null). Only a missing key is set, from `firstAt`, which no write
 * changes once given.
 */
export async function fillApprovalFirstKeys(approvals: Collection<ChildDoc>, scope: { instance?: string; changeNativeId?: string }): Promise<void> {
  const updates: AnyBulkWriteOperation<ChildDoc>[] = [];
  for await (const doc of approvals.find({ ...scope, firstKey: { $exists: false } }, { projection: { firstAt: 1, json: 1 } })) {
    const firstAt = doc.firstAt ?? approvalTime(JSON.parse(doc.json) as Approval);
    updates.push({ updateOne: { filter: { _id: doc._id, firstKey: { $exists: false } }, update: { $set: { firstKey: instantKey(firstAt) } } } });
    if (updates.length >= APPROVAL_FIRST_KEYS_BATCH) await approvals.bulkWrite(updates.splice(0), { ordered: false });
  }
  if (updates.length > 0) await approvals.bulkWrite(updates, { ordered: false });
}

/**
 * Gives the revisions `scope` selects that have no `at` theirs. Start-up does it for the whole store once, and the
 * history for the one change it pages before every read: during a rolling upgrade a replica of an earlier version
 * goes on storing revisions without `at` after this one started, and a revision is never written again, so a
 * fill noted once would leave those out of the history for good. Filled rather than merged into the page by hand:
 * a filled revision is found by the `history` index in order like any other. By the change, the revisions without
 * `at` are one range of that index (changeId, null), empty once every replica runs this version: on MongoDB the
 * look-up costs a round trip and no scan (on FerretDB's SQLite backend, which reads the collection for any
 * filter, what the page's own read costs). Revisions are only inserted, so a fill never races a writer.
 */
export async function fillRevisionInstants(revisions: Collection<RevisionDoc>, scope: { changeId?: string }): Promise<void> {
  const updates: AnyBulkWriteOperation<RevisionDoc>[] = [];
  for await (const doc of revisions.find({ ...scope, at: { $exists: false } }, { projection: { updatedAt: 1 } })) {
    updates.push({ updateOne: { filter: { _id: doc._id, at: { $exists: false } }, update: { $set: { at: instantKey(doc.updatedAt) } } } });
    if (updates.length >= REVISION_INSTANTS_BATCH) await revisions.bulkWrite(updates.splice(0), { ordered: false });
  }
  if (updates.length > 0) await revisions.bulkWrite(updates, { ordered: false });
}

/**
 * Once per store: a change an earlier version marked owed on its document (`owed: true`) gets an
 * `OwedDoc` for its latest revision. Replicas starting together may both do it; the inserts are
 * idempotent, and at worst a change noted meanwhile is assessed once more.
 */
async function moveLegacyOwed(c: MirrorCollections): Promise<void> {
  if ((await c.meta.findOne({ _id: OWED_MOVED_ID })) !== null) return;
  const legacy = await c.changes.find({ owed: true }, { projection: { lastSeq: 1 } }).toArray();
  await insertOwed(c, legacy.map((d) => ({ changeId: d._id, seq: d.lastSeq })));
  // A replica starting at the same time may note it first (the inserts then collide).
  await c.meta.insertOne({ _id: OWED_MOVED_ID, n: 1 }).catch((err: unknown) => {
    if ((err as { code?: unknown } | null)?.code !== 11000) throw err;
  });
}

/** Marks revisions owed an assessment; a mark already there (a replay, another writer) stays as it is. */
export async function insertOwed(c: MirrorCollections, revisions: readonly { changeId: string; seq: number }[]): Promise<void> {
  if (revisions.length === 0) return;
  try {
    await c.owed.insertMany(
      revisions.map((r) => ({ _id: revisionId(r.changeId, r.seq), changeId: r.changeId, seq: r.seq })),
      { ordered: false },
    );
  } catch (err) {
    const errors = err instanceof MongoBulkWriteError ? (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]) : null;
    if (errors === null || errors.length === 0 || errors.some((e) => e.code !== 11000)) throw err;
  }
}

/** Drops the retired indexes a store still has; a store without them (new, or already upgraded) is left as it is. */
async function dropRetiredIndexes(c: MirrorCollections): Promise<void> {
  const present = new Set((await c.changes.listIndexes().toArray().catch(() => [])).map((index) => String(index['name'])));
  for (const name of RETIRED_INDEXES) {
    // Another replica starting at the same time may drop it first: what matters is that it is gone.
    if (present.has(name)) await c.changes.dropIndex(name).catch(() => undefined);
  }
}

export function revisionId(changeId: string, seq: number): string {
  return `${changeId}\u0000${seq}`;
}

export function pairId(a: string, b: string, c?: string): string {
  return c === undefined ? `${a}\u0000${b}` : `${a}\u0000${b}\u0000${c}`;
}

/** The neighbour-index fields of a change: found under each service/CI key, and each on each day of its window, while active. */
export function refFields(change: Change): Pick<ChangeDoc, 'refs' | 'refDays' | 'plannedStart' | 'plannedEnd'> {
  const days = windowDays(change.plannedStart, change.plannedEnd);
  const windowed = days[0] !== NO_WINDOW;
  const fields = {
    plannedStart: windowed && change.plannedStart !== null ? instantKey(change.plannedStart) : null,
    plannedEnd: windowed && change.plannedEnd !== null ? instantKey(change.plannedEnd) : null,
  };
  if (!isActiveState(change.state)) return { refs: [], refDays: [], ...fields };
  const refs = changeRefKeys(change);
  return { refs, refDays: [...refs.flatMap((ref) => days.map((day) => `${ref}\u0000${day}`)), ...changeIndexKeys(change).map(indexKeyField)], ...fields };
}

/** The change document for version `seq` of a change (both page paths write the same one). */
export function changeDocFields(change: Change, item: { hash: string; json: string; core: string }, seq: number): Omit<ChangeDoc, '_id'> {
  return {
    instance: change.instance,
    system: change.system,
    nativeId: change.nativeId,
    key: change.key,
    keyLower: change.key.toLowerCase(),
    state: change.state,
    updatedAt: instantKey(change.updatedAt),
    nativeRevision: change.nativeRevision,
    hash: item.hash,
    lastSeq: seq,
    json: item.json,
    core: item.core,
    ...refFields(change),
  };
}

/** What the mirror's head says of an incoming version: older (stale), the same content (unchanged), or neither (null: store it). */
export function againstHead(head: Pick<ChangeDoc, 'nativeRevision' | 'updatedAt' | 'hash'> | null, change: Change, hash: string): 'stale' | 'unchanged' | null {
  if (head === null) return null;
  const updatedAt = instantKey(change.updatedAt);
  if (head.nativeRevision > change.nativeRevision || (head.nativeRevision === change.nativeRevision && head.updatedAt > updatedAt)) return 'stale';
  return head.hash === hash ? 'unchanged' : null;
}
