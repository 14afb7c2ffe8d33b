// Run locks shared by every replica on one MongoDB: one document per instance,
// taken by an atomic conditional upsert. A live lock makes the upsert collide
// with the existing document (the filter wants a lapsed one), which is the
// refusal; a lapsed or released lock is taken over in the same single write.

import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import type { RunLock, RunLocks } from '../run-locks.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';

const WHAT = 'the MongoDB run locks';

interface LockDoc {
  /** The instance. */
  _id: string;
  owner: string;
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

function toLock(doc: LockDoc): RunLock {
  return { instance: doc._id, owner: doc.owner, token: doc.token, expiresAt: new Date(doc.expiresAt).toISOString() };
}

export class MongoRunLocks implements RunLocks {
  readonly #conn: MongoConnection;
  readonly #locks: Collection<LockDoc>;

  constructor(conn: MongoConnection, collection = 'run_locks') {
    this.#conn = conn;
    this.#locks = conn.db.collection<LockDoc>(collection);
  }

  async acquire(instance: string, owner: string, ttlMs: number, now: Date): Promise<RunLock | null> {
    return this.#run('acquire', { instance }, async () => {
      try {
        const doc = await this.#locks.findOneAndUpdate(
          { _id: instance, expiresAt: { $lte: now.getTime() } },
          { $set: { owner, token: randomUUID(), expiresAt: now.getTime() + ttlMs } },
          { upsert: true, returnDocument: 'after' },
        );
        return doc === null ? null : toLock(doc);
      } catch (err) {
        if (isDuplicateKey(err)) return null;
        throw err;
      }
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
    return this.#run('release', { instance: lock.instance }, async () => (await this.#locks.deleteOne({ _id: lock.instance, token: lock.token })).deletedCount === 1);
  }

  async holder(instance: string, now: Date): Promise<RunLock | null> {
    return this.#run('holder', { instance }, async () => {
      const doc = await this.#locks.findOne({ _id: instance, expiresAt: { $gt: now.getTime() } });
      return doc === null ? null : toLock(doc);
    });
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }
}
