// The outbox on MongoDB: one document per item, its idempotency key unique by
// index, its id from a counter (so "oldest first" and "enqueued before" read
// as on SQLite). A claim picks due items, then takes each with one atomic
// find-and-modify guarded on "still due": two replicas claiming at once never
// both take an item, and each gets a fresh claim token to settle it with.

import { randomUUID } from 'node:crypto';
import type { Collection, Filter } from 'mongodb';
import type { ClaimOwner } from '../claim-owner.ts';
import {
  DEFAULT_OUTBOX_LEASE_MS,
  type EnqueueResult,
  type NewOutboxItem,
  type OutboxAction,
  type OutboxError,
  type OutboxHistoryQuery,
  type OutboxItem,
  type OutboxPayload,
  type OutboxQuery,
  type OutboxSource,
  type OutboxStatus,
  type OutboxStore,
} from '../outbox-store.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';
import { nextSeq } from './mongo-counters.ts';
import { MongoTurns } from './mongo-turns.ts';

const WHAT = 'the MongoDB outbox';
const STATUSES: readonly OutboxStatus[] = ['pending', 'claimed', 'done', 'failed', 'superseded'];

interface OutboxDoc {
  _id: number;
  idempotencyKey: string;
  instance: string;
  changeId: string;
  nativeId: string;
  source: string;
  action: string;
  /** JSON text: a note quotes ticket text freely. */
  payload: string;
  status: string;
  attempts: number;
  /** Epoch milliseconds, as every time below. */
  nextAttemptAt: number;
  lastError: OutboxError | null;
  claimToken: string | null;
  claimOwner: ClaimOwner | null;
  result: string | null;
  createdAt: number;
  finishedAt: number | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function toItem(d: OutboxDoc): OutboxItem {
  return {
    id: d._id,
    idempotencyKey: d.idempotencyKey,
    instance: d.instance,
    changeId: d.changeId,
    nativeId: d.nativeId,
    source: d.source as OutboxSource,
    action: d.action as OutboxAction,
    payload: JSON.parse(d.payload) as OutboxPayload,
    status: d.status as OutboxStatus,
    attempts: d.attempts,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastError: d.lastError,
    claimToken: d.claimToken,
    claimOwner: d.claimOwner,
    result: d.result,
    createdAt: iso(d.createdAt),
    finishedAt: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

export class MongoOutboxStore implements OutboxStore {
  readonly #conn: MongoConnection;
  readonly #items: Collection<OutboxDoc>;
  readonly #turns: MongoTurns;

  constructor(conn: MongoConnection) {
    this.#conn = conn;
    this.#items = conn.db.collection<OutboxDoc>('outbox');
    this.#turns = new MongoTurns(conn.db);
  }

  static async ensureIndexes(conn: MongoConnection): Promise<void> {
    const c = conn.db.collection<OutboxDoc>('outbox');
    await Promise.all([
      c.createIndex({ idempotencyKey: 1 }, { name: 'one_per_key', unique: true }),
      c.createIndex({ status: 1, nextAttemptAt: 1, _id: 1 }, { name: 'due' }),
      c.createIndex({ changeId: 1, action: 1, status: 1, _id: 1 }, { name: 'by_change' }),
      c.createIndex({ changeId: 1, createdAt: 1, _id: 1 }, { name: 'history' }),
    ]);
  }

  async enqueue(items: readonly NewOutboxItem[], now: Date): Promise<EnqueueResult> {
    const nowMs = now.getTime();
    const result: EnqueueResult = { inserted: [], duplicates: [], superseded: 0 };
    if (items.length === 0) return result;
    return this.#run('enqueue', { items: items.length }, async () => {
      for (const item of items) {
        if ((await this.#items.findOne({ idempotencyKey: item.idempotencyKey }, { projection: { _id: 1 } })) !== null) {
          result.duplicates.push(item.idempotencyKey);
          continue;
        }
        // FerretDB does not isolate the counter's find-and-modify: two replicas can draw one number. A
        // duplicate whose key is not stored is such a collision, and the item takes the next number.
        let id = 0;
        let stored = false;
        let duplicate = false;
        for (let attempt = 0; attempt < 5 && !stored && !duplicate; attempt++) {
          id = await nextSeq(this.#conn.db, 'outbox');
          try {
            await this.#items.insertOne({
              _id: id,
              idempotencyKey: item.idempotencyKey,
              instance: item.instance,
              changeId: item.changeId,
              nativeId: item.nativeId,
              source: item.source,
              action: item.payload.action,
              payload: JSON.stringify(item.payload),
              status: 'pending',
              attempts: 0,
              nextAttemptAt: nowMs,
              lastError: null,
              claimToken: null,
              claimOwner: null,
              result: null,
              createdAt: nowMs,
              finishedAt: null,
            });
            stored = true;
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            duplicate = (await this.#items.findOne({ idempotencyKey: item.idempotencyKey }, { projection: { _id: 1 } })) !== null;
          }
        }
        if (duplicate) {
          result.duplicates.push(item.idempotencyKey);
          continue;
        }
        // Never dropped: the caller fails, and what it was queueing for is done again.
        if (!stored) throw new Error(`outbox item ${item.idempotencyKey} drew a number already taken five times`);
        result.inserted.push(item.idempotencyKey);
        if (item.source === 'assessment') {
          const superseded = await this.#items.updateMany(
            { changeId: item.changeId, action: item.payload.action, source: 'assessment', status: 'pending', _id: { $lt: id } },
            { $set: { status: 'superseded', finishedAt: nowMs } },
          );
          result.superseded += superseded.modifiedCount;
        }
      }
      return result;
    });
  }

  async claim(limit: number, now: Date, leaseMs: number = DEFAULT_OUTBOX_LEASE_MS, owner?: ClaimOwner): Promise<OutboxItem[]> {
    const nowMs = now.getTime();
    const due: Filter<OutboxDoc> = { status: { $in: ['pending', 'claimed'] }, nextAttemptAt: { $lte: nowMs } };
    return this.#run('claim', { limit }, async () => {
      const candidates = await this.#items.find(due, { projection: { _id: 1, attempts: 1 } }).sort({ _id: 1 }).limit(Math.max(1, limit)).toArray();
      const token = randomUUID();
      const claimed: OutboxItem[] = [];
      for (const { _id, attempts } of candidates) {
        // Another worker took it first (mongo-turns.ts).
        if (!(await this.#turns.take(`outbox:${_id}`, attempts + 1))) continue;
        const doc = await this.#items.findOneAndUpdate(
          { _id, attempts, ...due },
          { $set: { status: 'claimed', nextAttemptAt: nowMs + leaseMs, claimToken: token, claimOwner: owner ?? null }, $inc: { attempts: 1 } },
          { returnDocument: 'after' },
        );
        // Null: another worker took it between the pick and the take.
        if (doc !== null) claimed.push(toItem(doc));
      }
      return claimed;
    });
  }

  async claimOwners(): Promise<ClaimOwner[]> {
    return this.#run('claimOwners', {}, async () => {
      const docs = await this.#items.find({ status: 'claimed', claimOwner: { $ne: null } }, { projection: { claimOwner: 1 } }).toArray();
      const byId = new Map<string, ClaimOwner>();
      for (const d of docs) if (d.claimOwner !== null) byId.set(d.claimOwner.id, d.claimOwner);
      return [...byId.values()];
    });
  }

  async releaseClaims(ownerId: string, now: Date): Promise<number> {
    return this.#run('releaseClaims', { ownerId }, async () => {
      const res = await this.#items.updateMany({ status: 'claimed', 'claimOwner.id': ownerId }, { $set: { status: 'pending', nextAttemptAt: now.getTime(), claimToken: null, claimOwner: null } });
      return res.modifiedCount;
    });
  }

  async complete(id: number, claimToken: string, result: string, now: Date): Promise<boolean> {
    return this.#settle('complete', id, claimToken, { status: 'done', result, finishedAt: now.getTime() });
  }

  async retryLater(id: number, claimToken: string, retryAt: Date, error: OutboxError, _now: Date): Promise<boolean> {
    return this.#settle('retryLater', id, claimToken, { status: 'pending', nextAttemptAt: retryAt.getTime(), lastError: error });
  }

  async fail(id: number, claimToken: string, error: OutboxError, now: Date): Promise<boolean> {
    return this.#settle('fail', id, claimToken, { status: 'failed', lastError: error, finishedAt: now.getTime() });
  }

  /** Settles only under the claim token that holds the item now. */
  #settle(op: string, id: number, claimToken: string, set: Partial<OutboxDoc>): Promise<boolean> {
    return this.#run(op, { id }, async () => {
      const res = await this.#items.updateOne({ _id: id, claimToken, status: 'claimed' }, { $set: { ...set, claimToken: null, claimOwner: null } });
      if (res.matchedCount === 1 && set.status !== 'pending') await this.#turns.forget([`outbox:${id}`]);
      return res.matchedCount === 1;
    });
  }

  async get(idempotencyKey: string): Promise<OutboxItem | null> {
    return this.#run('get', { idempotencyKey }, async () => {
      const doc = await this.#items.findOne({ idempotencyKey });
      return doc === null ? null : toItem(doc);
    });
  }

  async list(query: OutboxQuery): Promise<OutboxItem[]> {
    const limit = Math.min(1000, Math.max(1, Math.trunc(query.limit ?? 100)));
    const filter: Filter<OutboxDoc> = {};
    if (query.changeId !== undefined) filter.changeId = query.changeId;
    if (query.status !== undefined) filter.status = query.status;
    if (query.action !== undefined) filter.action = query.action;
    return this.#run('list', {}, async () => (await this.#items.find(filter).sort({ _id: 1 }).limit(limit).toArray()).map(toItem));
  }

  async listForHistory(changeId: string, query: OutboxHistoryQuery): Promise<OutboxItem[]> {
    const dir = query.order === 'asc' ? 1 : -1;
    const beyond = query.order === 'asc' ? '$gt' : '$lt';
    const filter: Filter<OutboxDoc> = { changeId };
    if (query.after !== undefined) {
      const at = Date.parse(query.after.createdAt);
      filter.$or = [{ createdAt: { [beyond]: at } }, { createdAt: at, _id: { [beyond]: query.after.id } }];
    }
    const limit = Math.max(1, Math.trunc(query.limit));
    return this.#run('listForHistory', { changeId }, async () => (await this.#items.find(filter).sort({ createdAt: dir, _id: dir }).limit(limit).toArray()).map(toItem));
  }

  async countForChange(changeId: string): Promise<number> {
    return this.#run('countForChange', { changeId }, () => this.#items.countDocuments({ changeId }));
  }

  async counts(): Promise<Record<OutboxStatus, number>> {
    return this.#run('counts', {}, async () => {
      const counts = await Promise.all(STATUSES.map((status) => this.#items.countDocuments({ status })));
      return Object.fromEntries(STATUSES.map((s, i) => [s, counts[i] ?? 0])) as Record<OutboxStatus, number>;
    });
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }
}
