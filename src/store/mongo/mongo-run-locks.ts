// Run locks shared by every replica on one MongoDB: one document per
// instance, never deleted, whose `fence` counts the acquisitions. A free
// instance is taken by inserting its document (the primary key lets one
// taker in); a lapsed or released one by winning the turn of the next fence
// (mongo-turns.ts), then moving the document to it. Both are atomic on
// MongoDB and on FerretDB alike. The turn is deleted once the move is done:
// every acquisition takes one (a sync run, an OAuth refresh), and kept they
// would pile up for good.

import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import type { RunLock, RunLocks } from '../run-locks.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';
import { MongoTurns } from './mongo-turns.ts';

const WHAT = 'the MongoDB run locks';

interface LockDoc {
  /** The instance. */
  _id: string;
  owner: string;
  token: string;
  /** Epoch milliseconds; 0 once released. */
  expiresAt: number;
  /** 1, 2, 3 … per acquisition: a fencing token that only grows. */
  fence: number;
}

function toLock(doc: LockDoc): RunLock {
  return { instance: doc._id, owner: doc.owner, token: doc.token, expiresAt: new Date(doc.expiresAt).toISOString() };
}

export class MongoRunLocks implements RunLocks {
  readonly #conn: MongoConnection;
  readonly #locks: Collection<LockDoc>;
  readonly #turns: MongoTurns;
  readonly #name: string;

  constructor(conn: MongoConnection, collection = 'run_locks') {
    this.#conn = conn;
    this.#name = collection;
    this.#locks = conn.db.collection<LockDoc>(collection);
    this.#turns = new MongoTurns(conn.db);
  }

  async acquire(instance: string, owner: string, ttlMs: number, now: Date): Promise<RunLock | null> {
    return (await this.acquireFenced(instance, owner, ttlMs, now))?.lock ?? null;
  }

  /** `acquire`, with the fencing token of this acquisition (greater than every earlier one of the instance). */
  async acquireFenced(instance: string, owner: string, ttlMs: number, now: Date): Promise<{ lock: RunLock; fence: number } | null> {
    return this.#run('acquire', { instance }, async () => {
      const nowMs = now.getTime();
      const held = await this.#locks.findOne({ _id: instance });
      const next = { owner, token: randomUUID(), expiresAt: nowMs + ttlMs };
      if (held === null) {
        try {
          await this.#locks.insertOne({ _id: instance, ...next, fence: 1 });
          return { lock: toLock({ _id: instance, ...next, fence: 1 }), fence: 1 };
        } catch (err) {
          if (isDuplicateKey(err)) return null;
          throw err;
        }
      }
      if (held.expiresAt > nowMs) return null;
      const fence = held.fence + 1;
      const turn = `lock:${this.#name}:${instance}`;
      if (!(await this.#turns.take(turn, fence))) return null;
      const moved = await this.#locks.updateOne({ _id: instance, fence: held.fence }, { $set: { ...next, fence } });
      // The document is past `held.fence` now (moved here, or by someone else before): the conditional update refuses
      // whoever read that fence and takes the freed turn later, so the turn has done its part. Only a taker racing
      // this very update needed it, and none could take it while it stood.
      await this.#turns.forgetTurn(turn, fence);
      return moved.matchedCount === 1 ? { lock: toLock({ _id: instance, ...next, fence }), fence } : null;
    });
  }

  async renew(lock: RunLock, ttlMs: number, now: Date): Promise<RunLock | null> {
    return this.#run('renew', { instance: lock.instance }, async () => {
      const doc = await this.#locks.findOneAndUpdate(
        { _id: lock.instance, token: lock.token, expiresAt: { $gt: now.getTime() } },
        { $set: { expiresAt: now.getTime() + ttlMs } },
        { returnDocument: 'after' },
      );
      return doc === null ? null : toLock(doc);
    });
  }

  async release(lock: RunLock): Promise<boolean> {
    // Kept, with its fence, so the next acquisition counts on from it.
    return this.#run('release', { instance: lock.instance }, async () => (await this.#locks.updateOne({ _id: lock.instance, token: lock.token, expiresAt: { $gt: 0 } }, { $set: { expiresAt: 0 } })).matchedCount === 1);
  }

  async holder(instance: string, now: Date): Promise<RunLock | null> {
    return (await this.holderFenced(instance, now))?.lock ?? null;
  }

  /** `holder`, with the fencing token of the live acquisition. */
  async holderFenced(instance: string, now: Date): Promise<{ lock: RunLock; fence: number } | null> {
    return this.#run('holder', { instance }, async () => {
      const doc = await this.#locks.findOne({ _id: instance, expiresAt: { $gt: now.getTime() } });
      return doc === null ? null : { lock: toLock(doc), fence: doc.fence };
    });
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }
}
