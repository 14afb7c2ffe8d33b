// The webhook inbox on MongoDB: one document per delivery under its store key
// (so a replay is refused by the primary key, on any replica), claimed like
// the outbox: pick the due ones, then take each with an atomic find-and-modify
// guarded on "still due".

import { ObjectId, type Collection } from 'mongodb';
import type { System } from '../../domain/change.ts';
import type { ClaimOwner } from '../claim-owner.ts';
import { DEFAULT_LEASE_MS, deliveryKey, type ClaimOptions, type Delivery, type DeliveryStatus, type DeliveryStore, type NewDelivery, type RecordResult } from '../delivery-store.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';
import { MongoTurns } from './mongo-turns.ts';

const WHAT = 'the MongoDB webhook delivery store';

interface DeliveryDoc {
  _id: string;
  /** Ties between equal receive times go in recording order. */
  seq: ObjectId;
  system: string;
  instance: string;
  deliveryId: string;
  /** Epoch milliseconds, as every time below. */
  receivedAt: number;
  /** JSON text: a webhook body's keys need not be valid field names. */
  body: string;
  status: string;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  finishedAt: number | null;
  claimOwner: ClaimOwner | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function toDelivery(d: DeliveryDoc): Delivery {
  return {
    id: d._id,
    system: d.system as System,
    instance: d.instance,
    deliveryId: d.deliveryId,
    receivedAt: iso(d.receivedAt),
    body: JSON.parse(d.body) as unknown,
    status: d.status as DeliveryStatus,
    attempts: d.attempts,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastError: d.lastError,
    finishedAt: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

export class MongoDeliveryStore implements DeliveryStore {
  readonly #conn: MongoConnection;
  readonly #items: Collection<DeliveryDoc>;
  readonly #turns: MongoTurns;

  constructor(conn: MongoConnection) {
    this.#conn = conn;
    this.#items = conn.db.collection<DeliveryDoc>('webhook_deliveries');
    this.#turns = new MongoTurns(conn.db);
  }

  static async ensureIndexes(conn: MongoConnection): Promise<void> {
    const c = conn.db.collection<DeliveryDoc>('webhook_deliveries');
    await Promise.all([
      c.createIndex({ status: 1, nextAttemptAt: 1 }, { name: 'due' }),
      c.createIndex({ status: 1, instance: 1 }, { name: 'pending_by_instance' }),
      c.createIndex({ finishedAt: 1 }, { name: 'finished' }),
    ]);
  }

  async record(delivery: NewDelivery): Promise<RecordResult> {
    const id = deliveryKey(delivery.system, delivery.instance, delivery.deliveryId);
    const receivedAt = Date.parse(delivery.receivedAt);
    return this.#run('record', { id }, async () => {
      try {
        await this.#items.insertOne({
          _id: id,
          seq: new ObjectId(),
          system: delivery.system,
          instance: delivery.instance,
          deliveryId: delivery.deliveryId,
          receivedAt,
          body: JSON.stringify(delivery.body),
          status: 'pending',
          attempts: 0,
          nextAttemptAt: receivedAt,
          lastError: null,
          finishedAt: null,
          claimOwner: null,
        });
        return { id, duplicate: false };
      } catch (err) {
        if (isDuplicateKey(err)) return { id, duplicate: true };
        throw err;
      }
    });
  }

  async claim(limit: number, now: Date, options: ClaimOptions = {}): Promise<Delivery[]> {
    const nowMs = now.getTime();
    const due = { status: 'pending', nextAttemptAt: { $lte: nowMs } };
    return this.#run('claim', { limit }, async () => {
      const candidates = await this.#items.find(due, { projection: { _id: 1, attempts: 1 } }).sort({ receivedAt: 1, seq: 1 }).limit(Math.max(1, limit)).toArray();
      const claimed: Delivery[] = [];
      for (const { _id, attempts } of candidates) {
        // Another processor took it first (mongo-turns.ts).
        if (!(await this.#turns.take(_id, attempts + 1))) continue;
        const doc = await this.#items.findOneAndUpdate(
          { _id, attempts, ...due },
          { $set: { nextAttemptAt: nowMs + (options.leaseMs ?? DEFAULT_LEASE_MS), claimOwner: options.owner ?? null }, $inc: { attempts: 1 } },
          { returnDocument: 'after' },
        );
        if (doc !== null) claimed.push(toDelivery(doc));
      }
      return claimed;
    });
  }

  async claimOwners(): Promise<ClaimOwner[]> {
    return this.#run('claimOwners', {}, async () => {
      const docs = await this.#items.find({ status: 'pending', claimOwner: { $ne: null } }, { projection: { claimOwner: 1 } }).toArray();
      const byId = new Map<string, ClaimOwner>();
      for (const d of docs) if (d.claimOwner !== null) byId.set(d.claimOwner.id, d.claimOwner);
      return [...byId.values()];
    });
  }

  async releaseClaims(ownerId: string, now: Date): Promise<number> {
    return this.#run('releaseClaims', { ownerId }, async () => {
      const res = await this.#items.updateMany({ status: 'pending', 'claimOwner.id': ownerId }, { $set: { nextAttemptAt: now.getTime(), claimOwner: null } });
      return res.modifiedCount;
    });
  }

  async complete(id: string, now: Date): Promise<void> {
    await this.#run('complete', { id }, async () => {
      await this.#items.updateOne({ _id: id, status: 'pending' }, { $set: { status: 'done', finishedAt: now.getTime(), claimOwner: null } });
      await this.#turns.forget([id]);
    });
  }

  async fail(id: string, error: string, retryAt: Date | null, now: Date): Promise<void> {
    const nowMs = now.getTime();
    const set =
      retryAt === null
        ? { status: 'failed', lastError: error, nextAttemptAt: nowMs, finishedAt: nowMs, claimOwner: null }
        : { status: 'pending', lastError: error, nextAttemptAt: retryAt.getTime(), finishedAt: null, claimOwner: null };
    await this.#run('fail', { id }, async () => {
      await this.#items.updateOne({ _id: id, status: 'pending' }, { $set: set });
      if (retryAt === null) await this.#turns.forget([id]);
    });
  }

  async get(id: string): Promise<Delivery | null> {
    return this.#run('get', { id }, async () => {
      const doc = await this.#items.findOne({ _id: id });
      return doc === null ? null : toDelivery(doc);
    });
  }

  async pendingCount(instance?: string): Promise<number> {
    return this.#run('pendingCount', {}, () => this.#items.countDocuments(instance === undefined ? { status: 'pending' } : { status: 'pending', instance }));
  }

  async purge(before: Date): Promise<number> {
    return this.#run('purge', {}, async () => (await this.#items.deleteMany({ status: { $in: ['done', 'failed'] }, finishedAt: { $ne: null, $lt: before.getTime() } })).deletedCount);
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }
}
