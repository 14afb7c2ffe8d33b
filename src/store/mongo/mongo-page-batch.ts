// The fast path of a page write: a sync page carries up to a thousand
// changes, and one round trip per change and per write is most of a page's
// time on a remote server. Here the page's heads are read in one query, its
// new revisions inserted in one unordered batch and its change documents
// written in another, each write keeping the guard it has on the slow path
// (mongo-page-writer.ts). Whatever a batch could not settle (a revision number
// another writer took, a change that moved under the page) goes through the
// slow path one item at a time, which reads it again.

import { MongoBulkWriteError, type AnyBulkWriteOperation } from 'mongodb';
import type { Change } from '../../domain/change.ts';
import { diffChanges } from '../change-diff.ts';
import type { ApplyResult } from '../change-store.ts';
import { instantKey } from '../instant-key.ts';
import { againstHead, type ChangeDoc, changeDocFields, type ChildDoc, insertOwed, type MirrorCollections, revisionId, type RevisionDoc } from './mongo-mirror-docs.ts';
import type { Prepared } from './mongo-page-writer.ts';

type ChangeItem = Extract<Prepared, { kind: 'change' }>;
type JournalItem = Extract<Prepared, { kind: 'journal' }>;

interface Planned {
  item: ChangeItem;
  revision: RevisionDoc;
  head: Pick<ChangeDoc, '_id' | 'hash' | 'lastSeq' | 'json'> | null;
  doc: Omit<ChangeDoc, '_id'>;
}

/** The indexes of the batch's writes the server refused (duplicate keys among them). */
function refusedIndexes(err: unknown): Set<number> {
  if (!(err instanceof MongoBulkWriteError)) throw err;
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  return new Set(errors.map((e) => e.index));
}

/** Stores the page's changes; returns those the batch could not settle, for the slow path. */
export async function writeChangesBatched(c: MirrorCollections, items: readonly ChangeItem[], observedAt: string, result: ApplyResult): Promise<ChangeItem[]> {
  if (items.length === 0) return [];
  const heads = new Map(
    (await c.changes.find({ _id: { $in: items.map((i) => i.change.id) } }, { projection: { hash: 1, nativeRevision: 1, updatedAt: 1, lastSeq: 1, json: 1 } }).toArray()).map((h) => [h._id, h]),
  );
  const planned: Planned[] = [];
  for (const item of items) {
    const { change } = item;
    const head = heads.get(change.id) ?? null;
    const known = againstHead(head, change, item.hash);
    if (known === 'stale') {
      result.changesStale += 1;
      continue;
    }
    if (known === 'unchanged') {
      result.changesUnchanged += 1;
      continue;
    }
    const seq = head === null ? 1 : head.lastSeq + 1;
    const previous = head === null ? null : (JSON.parse(head.json) as Change);
    planned.push({
      item,
      head,
      revision: {
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
      },
      doc: changeDocFields(change, item, seq),
    });
  }
  if (planned.length === 0) return [];

  const slow: ChangeItem[] = [];
  let refused = new Set<number>();
  try {
    await c.revisions.insertMany(planned.map((p) => p.revision), { ordered: false });
  } catch (err) {
    refused = refusedIndexes(err);
  }
  const go = planned.filter((p, i) => {
    if (refused.has(i)) slow.push(p.item);
    return !refused.has(i);
  });
  if (go.length === 0) return slow;
  // Owed before the changes move (mongo-mirror-docs.ts, OwedDoc).
  await insertOwed(c, go.map((p) => ({ changeId: p.item.change.id, seq: p.revision.seq })));
  // The first revision's diff is derived from the change: keep the first version before it is overwritten.
  const snapshots = go.filter((p) => p.head?.lastSeq === 1);
  if (snapshots.length > 0) {
    await c.revisions.bulkWrite(
      snapshots.map((p) => ({ updateOne: { filter: { _id: revisionId(p.item.change.id, 1), diff: null, snapshot: null }, update: { $set: { snapshot: p.head?.json ?? null } } } })),
      { ordered: false },
    );
  }
  const ops: AnyBulkWriteOperation<ChangeDoc>[] = go.map((p) =>
    p.head === null
      ? { insertOne: { document: { _id: p.item.change.id, ...p.doc } } }
      : { updateOne: { filter: { _id: p.item.change.id, lastSeq: p.head.lastSeq, hash: p.head.hash }, update: { $set: p.doc } } },
  );
  let failed = new Set<number>();
  let matched = 0;
  try {
    const res = await c.changes.bulkWrite(ops, { ordered: false });
    matched = res.insertedCount + res.matchedCount;
  } catch (err) {
    failed = refusedIndexes(err);
    matched = err instanceof MongoBulkWriteError ? err.result.insertedCount + err.result.matchedCount : 0;
  }
  const expected = go.length - failed.size;
  if (matched === expected && failed.size === 0) {
    result.changesWritten += go.length;
    return slow;
  }
  // Some writes met another writer: what holds our version is written, the rest goes the slow way.
  const now = new Map(
    (await c.changes.find({ _id: { $in: go.map((p) => p.item.change.id) } }, { projection: { hash: 1 } }).toArray()).map((h) => [h._id, h.hash]),
  );
  for (const p of go) {
    if (now.get(p.item.change.id) === p.item.hash) result.changesWritten += 1;
    else slow.push(p.item);
  }
  return slow;
}

/** Stores the page's journal entries (immutable: one stored stays). */
/** `touched` gets the native ids of the changes whose entries were stored. */
export async function writeJournalBatched(c: MirrorCollections, instance: string, items: readonly JournalItem[], result: ApplyResult, touched: Set<string>): Promise<void> {
  if (items.length === 0) return;
  const docs: ChildDoc[] = items.map((i) => ({ _id: `${instance}\u0000${i.entry.id}`, instance, id: i.entry.id, changeNativeId: i.changeNativeId, at: instantKey(i.entry.at), json: i.json }));
  let refused = new Set<number>();
  try {
    await c.journal.insertMany(docs, { ordered: false });
  } catch (err) {
    refused = refusedIndexes(err);
  }
  result.journalWritten += docs.length - refused.size;
  docs.forEach((doc, index) => {
    if (!refused.has(index)) touched.add(doc.changeNativeId);
  });
}
