// The CI and monitoring event store on MongoDB: the inbox of deliveries (one
// document per delivery under its store key, so a replay is refused by the
// primary key on any replica, claimed like the webhook inbox through turns),
// the normalised events by id (each as `settle` makes it over the stored one), the
// links from events to changes (one document per pair, the first rule kept)
// and each source's last heartbeat (moved only forward).

import { ObjectId, type AnyBulkWriteOperation, type Collection } from 'mongodb';
import type { Change } from '../../domain/change.ts';
import { commitBucket, sameCommit } from '../../domain/commit-sha.ts';
import type { ClaimOwner } from '../claim-owner.ts';
import {
  changeKeyIndexKey,
  DEFAULT_EVENT_LEASE_MS,
  eventDeliveryKey,
  linkHolds,
  settle,
  type EventClaimOptions,
  type EventDelivery,
  type EventDeliveryStatus,
  type EventLink,
  type EventQuery,
  type EventRecordResult,
  type EventStore,
  type LinkedEvent,
  type NewEventDelivery,
  type StoredEvent,
} from '../event-store.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';
import { MongoTurns } from './mongo-turns.ts';

const WHAT = 'the MongoDB event store';
/** Turns are shared with the webhook inbox: event deliveries take theirs under this prefix. */
const TURN = 'event:';

interface DeliveryDoc {
  _id: string;
  seq: ObjectId;
  source: string;
  kind: string;
  deliveryId: string;
  receivedAt: number;
  headers: string;
  /** Base64 of the raw body. */
  rawBody: string;
  status: string;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  finishedAt: number | null;
  /** Who leased it (claim-owner.ts), while a claim is in flight. Absent on deliveries recorded before owners were. */
  claimOwner?: ClaimOwner | null;
}

interface EventDoc {
  _id: string;
  seq: ObjectId;
  type: 'ci' | 'monitor';
  source: string;
  receivedAt: string;
  changeKeys: string[];
  /** `changeKeys` as `changeKeyIndexKey` makes them: the index an event is found by a change key through, in any case. Absent on events an earlier version stored, until start-up or a look-up fills it. */
  changeKeysLower?: string[];
  commit: string | null;
  /** `commitBucket` of the commit (null without one): the index the events on a commit are found by. Absent on events an earlier version stored, until start-up or a look-up fills it. */
  commitBucket?: string | null;
  repo: string | null;
  service: string | null;
  json: string;
}

interface LinkDoc {
  _id: string;
  eventId: string;
  changeId: string;
  rule: string;
  linkedAt: string;
}

interface HeartbeatDoc {
  _id: string;
  at: string;
}

interface PullStateDoc {
  _id: string;
  state: string;
  savedAt: string;
}

/** A note in `event_meta` that a once-per-store upgrade was made. */
interface MetaDoc {
  _id: string;
  n: number;
}

/** The event_meta note saying the events stored before `commitBucket` was were given theirs. */
const COMMIT_BUCKETS_ID = 'commit-buckets';
/** Events given a field an earlier version did not store per write. */
const BACKFILL_BATCH = 500;

/**
 * Once per store: the events an earlier version stored get their `commitBucket`, and the index on
 * the commit as written (which it replaces) goes. Replicas starting together may both do it, with the same result.
 */
async function addCommitBuckets(events: Collection<EventDoc>, meta: Collection<MetaDoc>): Promise<void> {
  if ((await meta.findOne({ _id: COMMIT_BUCKETS_ID })) !== null) return;
  const updates: AnyBulkWriteOperation<EventDoc>[] = [];
  for await (const doc of events.find({ commit: { $type: 'string' } }, { projection: { commit: 1 } })) {
    updates.push({ updateOne: { filter: { _id: doc._id, commit: doc.commit }, update: { $set: { commitBucket: commitBucket(doc.commit ?? '') || null } } } });
    if (updates.length >= BACKFILL_BATCH) await events.bulkWrite(updates.splice(0), { ordered: false });
  }
  if (updates.length > 0) await events.bulkWrite(updates, { ordered: false });
  // Another replica starting at the same time may drop it first: what matters is that it is gone.
  if ((await events.listIndexes().toArray().catch(() => [])).some((index) => index['name'] === 'by_commit')) await events.dropIndex('by_commit').catch(() => undefined);
  // A replica starting at the same time may note it first.
  await meta.insertOne({ _id: COMMIT_BUCKETS_ID, n: 1 }).catch((err: unknown) => {
    if (!isDuplicateKey(err)) throw err;
  });
}

/** The event_meta note saying the events stored before `changeKeysLower` was were given theirs. */
const CHANGE_KEYS_LOWER_ID = 'change-keys-lower';

/**
 * Once per store: the events an earlier version stored, indexed by their change keys as given, get them in any
 * case, and the index on the keys as given (which it replaces) goes. Replicas starting together may both do it.
 */
async function addChangeKeysLower(events: Collection<EventDoc>, meta: Collection<MetaDoc>): Promise<void> {
  if ((await meta.findOne({ _id: CHANGE_KEYS_LOWER_ID })) !== null) return;
  await fillEarlierEvents(events);
  if ((await events.listIndexes().toArray().catch(() => [])).some((index) => index['name'] === 'by_change_key')) await events.dropIndex('by_change_key').catch(() => undefined);
  await meta.insertOne({ _id: CHANGE_KEYS_LOWER_ID, n: 1 }).catch((err: unknown) => {
    if (!isDuplicateKey(err)) throw err;
  });
}

/**
 * Gives the events an earlier version stored their `changeKeysLower`, and their `commitBucket` where they lack it too
 * (it came first, so every event without a bucket is among them). Start-up does it once, and a look-up by a
 * change key or a commit before it reads (at most every EARLIER_EVENTS_FILL_MS): during a rolling upgrade a replica of an earlier version goes on storing
 * events without them after this one started, and a fill noted once would leave those unfound until written again.
 * Filled rather than matched on the fields as written: those have no index (the keys in any case, an abbreviation
 * of the commit). The events lacking `changeKeysLower` are one range of its index (null: this version writes `[]`
 * for an event without keys, which the index keeps apart), empty once every replica runs this version: on MongoDB
 * the look-up costs a round trip and no scan (on FerretDB's SQLite backend, which reads the collection for any
 * filter, what the look-up itself costs). Replicas may fill one event at once, with the same result.
 */
async function fillEarlierEvents(events: Collection<EventDoc>): Promise<void> {
  const updates: AnyBulkWriteOperation<EventDoc>[] = [];
  for await (const doc of events.find({ changeKeysLower: { $exists: false } }, { projection: { changeKeys: 1, commit: 1, commitBucket: 1 } })) {
    const bucket = doc.commitBucket !== undefined ? {} : { commitBucket: typeof doc.commit === 'string' ? commitBucket(doc.commit) || null : null };
    updates.push({ updateOne: { filter: { _id: doc._id, changeKeysLower: { $exists: false } }, update: { $set: { changeKeysLower: doc.changeKeys.map(changeKeyIndexKey), ...bucket } } } });
    if (updates.length >= BACKFILL_BATCH) await events.bulkWrite(updates.splice(0), { ordered: false });
  }
  if (updates.length > 0) await events.bulkWrite(updates, { ordered: false });
}

/**
 * How often a look-up by change key or commit fills first. Look-ups run on every assessment, and the fill's own
 * query is a scan on FerretDB's SQLite backend: at most once in this long, an event an earlier version's replica
 * stored is found within it, not on the very next look-up.
 */
const EARLIER_EVENTS_FILL_MS = 10_000;

const iso = (ms: number): string => new Date(ms).toISOString();

function toDelivery(d: DeliveryDoc): EventDelivery {
  return {
    id: d._id,
    source: d.source,
    kind: d.kind,
    deliveryId: d.deliveryId,
    receivedAt: iso(d.receivedAt),
    headers: JSON.parse(d.headers) as Record<string, string>,
    rawBody: Buffer.from(d.rawBody, 'base64'),
    status: d.status as EventDeliveryStatus,
    attempts: d.attempts,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastError: d.lastError,
    finishedAt: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

function eventDoc(e: StoredEvent): EventDoc {
  const ev = e.event;
  return {
    _id: e.id,
    seq: new ObjectId(),
    type: e.type,
    source: e.source,
    receivedAt: e.receivedAt,
    changeKeys: e.type === 'ci' ? e.event.changeKeys : [],
    changeKeysLower: e.type === 'ci' ? e.event.changeKeys.map(changeKeyIndexKey) : [],
    commit: e.type === 'ci' ? e.event.commit : null,
    commitBucket: e.type === 'ci' && e.event.commit !== null ? commitBucket(e.event.commit) || null : null,
    repo: e.type === 'ci' ? e.event.repo : null,
    service: e.type === 'monitor' ? e.event.service : null,
    json: JSON.stringify({ ...e, event: ev }),
  };
}

export class MongoEventStore implements EventStore {
  readonly #conn: MongoConnection;
  readonly #deliveries: Collection<DeliveryDoc>;
  readonly #events: Collection<EventDoc>;
  readonly #links: Collection<LinkDoc>;
  readonly #beats: Collection<HeartbeatDoc>;
  readonly #pulls: Collection<PullStateDoc>;
  readonly #turns: MongoTurns;
  /** When this process last filled what earlier versions' replicas stored (0: not yet); see EARLIER_EVENTS_FILL_MS. */
  #filledAt = 0;

  constructor(conn: MongoConnection) {
    this.#conn = conn;
    this.#deliveries = conn.db.collection<DeliveryDoc>('event_deliveries');
    this.#events = conn.db.collection<EventDoc>('events');
    this.#links = conn.db.collection<LinkDoc>('event_links');
    this.#beats = conn.db.collection<HeartbeatDoc>('event_heartbeats');
    this.#pulls = conn.db.collection<PullStateDoc>('event_pull_state');
    this.#turns = new MongoTurns(conn.db);
  }

  static async ensureIndexes(conn: MongoConnection): Promise<void> {
    const db = conn.db;
    await Promise.all([
      db.collection('event_deliveries').createIndex({ status: 1, nextAttemptAt: 1 }, { name: 'due' }),
      db.collection('events').createIndex({ changeKeysLower: 1 }, { name: 'by_change_key_lower' }),
      db.collection('events').createIndex({ commitBucket: 1 }, { name: 'by_commit_bucket' }),
      db.collection('events').createIndex({ receivedAt: 1, seq: 1 }, { name: 'by_received' }),
      db.collection('event_links').createIndex({ changeId: 1 }, { name: 'by_change' }),
      db.collection('event_links').createIndex({ eventId: 1 }, { name: 'by_event' }),
    ]);
    await addCommitBuckets(db.collection<EventDoc>('events'), db.collection<MetaDoc>('event_meta'));
    await addChangeKeysLower(db.collection<EventDoc>('events'), db.collection<MetaDoc>('event_meta'));
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }

  async record(delivery: NewEventDelivery): Promise<EventRecordResult> {
    const id = eventDeliveryKey(delivery.source, delivery.deliveryId);
    const receivedAt = Date.parse(delivery.receivedAt);
    return this.#run('record', { id }, async () => {
      try {
        await this.#deliveries.insertOne({
          _id: id,
          seq: new ObjectId(),
          source: delivery.source,
          kind: delivery.kind,
          deliveryId: delivery.deliveryId,
          receivedAt,
          headers: JSON.stringify(delivery.headers),
          rawBody: delivery.rawBody.toString('base64'),
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

  async claim(limit: number, now: Date, options: EventClaimOptions = {}): Promise<EventDelivery[]> {
    const nowMs = now.getTime();
    const due = { status: 'pending', nextAttemptAt: { $lte: nowMs } };
    return this.#run('claim', { limit }, async () => {
      const candidates = await this.#deliveries.find(due, { projection: { _id: 1, attempts: 1 } }).sort({ receivedAt: 1, seq: 1 }).limit(Math.max(1, limit)).toArray();
      const claimed: EventDelivery[] = [];
      for (const { _id, attempts } of candidates) {
        if (!(await this.#turns.take(`${TURN}${_id}`, attempts + 1))) continue;
        const doc = await this.#deliveries.findOneAndUpdate(
          { _id, attempts, ...due },
          { $set: { nextAttemptAt: nowMs + (options.leaseMs ?? DEFAULT_EVENT_LEASE_MS), claimOwner: options.owner ?? null }, $inc: { attempts: 1 } },
          { returnDocument: 'after' },
        );
        if (doc !== null) claimed.push(toDelivery(doc));
      }
      return claimed;
    });
  }

  async claimOwners(): Promise<ClaimOwner[]> {
    return this.#run('claimOwners', {}, async () => {
      // `$ne: null` also passes over deliveries recorded before owners were (no field at all).
      const docs = await this.#deliveries.find({ status: 'pending', claimOwner: { $ne: null } }, { projection: { claimOwner: 1 } }).toArray();
      const byId = new Map<string, ClaimOwner>();
      for (const d of docs) if (d.claimOwner) byId.set(d.claimOwner.id, d.claimOwner);
      return [...byId.values()];
    });
  }

  /** Its turns stay: the dead claim's turn was for the attempt it counted, the next claim takes the next one. */
  async releaseClaims(ownerId: string, now: Date): Promise<number> {
    return this.#run('releaseClaims', { ownerId }, async () => {
      const res = await this.#deliveries.updateMany({ status: 'pending', 'claimOwner.id': ownerId }, { $set: { nextAttemptAt: now.getTime(), claimOwner: null } });
      return res.modifiedCount;
    });
  }

  async complete(id: string, events: readonly StoredEvent[], now: Date): Promise<StoredEvent[]> {
    return this.#run('complete', { id }, async () => {
      const stored: StoredEvent[] = [];
      // Events first, the delivery marked done last: a crash in between processes the delivery again, which replaces nothing it should not.
      for (const event of events) {
        const current = await this.getEvent(event.id);
        if (current === null) {
          try {
            await this.#events.insertOne(eventDoc(event));
            stored.push(event);
            continue;
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
          }
        }
        const existing = current ?? (await this.getEvent(event.id));
        const next = settle(existing, event);
        if (next === existing) {
          stored.push(existing);
          continue;
        }
        const { _id: _ignored, ...doc } = eventDoc(next);
        await this.#events.updateOne({ _id: event.id }, { $set: doc });
        stored.push(next);
      }
      await this.#deliveries.updateOne({ _id: id, status: 'pending' }, { $set: { status: 'done', finishedAt: now.getTime(), claimOwner: null } });
      await this.#turns.forget([`${TURN}${id}`]);
      return stored;
    });
  }

  /** One delivery after the other: MongoDB has no multi-document step to put them in (DESIGN: no transactions). */
  async completeAll(items: readonly { id: string; events: readonly StoredEvent[] }[], now: Date): Promise<StoredEvent[][]> {
    const out: StoredEvent[][] = [];
    for (const item of items) out.push(await this.complete(item.id, item.events, now));
    return out;
  }

  async fail(id: string, error: string, retryAt: Date | null, now: Date): Promise<void> {
    const nowMs = now.getTime();
    const set =
      retryAt === null
        ? { status: 'failed', lastError: error, nextAttemptAt: nowMs, finishedAt: nowMs, claimOwner: null }
        : { status: 'pending', lastError: error, nextAttemptAt: retryAt.getTime(), finishedAt: null, claimOwner: null };
    await this.#run('fail', { id }, async () => {
      await this.#deliveries.updateOne({ _id: id, status: 'pending' }, { $set: set });
      if (retryAt === null) await this.#turns.forget([`${TURN}${id}`]);
    });
  }

  async getDelivery(id: string): Promise<EventDelivery | null> {
    return this.#run('getDelivery', { id }, async () => {
      const doc = await this.#deliveries.findOne({ _id: id });
      return doc === null ? null : toDelivery(doc);
    });
  }

  async pendingCount(): Promise<number> {
    return this.#run('pendingCount', {}, () => this.#deliveries.countDocuments({ status: 'pending' }));
  }

  async getEvent(id: string): Promise<StoredEvent | null> {
    return this.#run('getEvent', { id }, async () => {
      const doc = await this.#events.findOne({ _id: id });
      return doc === null ? null : (JSON.parse(doc.json) as StoredEvent);
    });
  }

  async findEvents(query: EventQuery): Promise<StoredEvent[]> {
    const filter: Record<string, unknown> = {};
    if (query.changeKey !== undefined) filter['changeKeysLower'] = changeKeyIndexKey(query.changeKey);
    // The bucket's index finds the candidates; `sameCommit` keeps those on the same commit (below).
    const commit = query.commit;
    if (commit !== undefined) filter['commitBucket'] = commitBucket(commit);
    if (query.repo !== undefined) filter['repo'] = query.repo;
    if (query.service !== undefined) filter['service'] = query.service;
    if (query.services !== undefined) {
      if (query.services.length === 0) return [];
      filter['service'] = query.service === undefined ? { $in: query.services } : { $eq: query.service, $in: query.services };
    }
    if (query.source !== undefined) filter['source'] = query.source;
    return this.#run('findEvents', {}, async () => {
      // What a replica of an earlier version stored since start-up, during a rolling upgrade (see there).
      if ((query.changeKey !== undefined || commit !== undefined) && Date.now() - this.#filledAt >= EARLIER_EVENTS_FILL_MS) {
        this.#filledAt = Date.now();
        await fillEarlierEvents(this.#events);
      }
      const cursor = this.#events.find(filter).sort({ receivedAt: 1, seq: 1 });
      if (commit === undefined) {
        if (query.limit !== undefined) cursor.limit(query.limit);
        return (await cursor.toArray()).map((d) => JSON.parse(d.json) as StoredEvent);
      }
      // Another commit sharing the bucket is rare: read on past it, up to the limit of matches.
      const found: StoredEvent[] = [];
      for await (const d of cursor) {
        if (d.commit === null || !sameCommit(d.commit, commit)) continue;
        found.push(JSON.parse(d.json) as StoredEvent);
        if (found.length === query.limit) break;
      }
      return found;
    });
  }

  async link(links: readonly EventLink[]): Promise<number> {
    return this.#run('link', { links: links.length }, async () => {
      let added = 0;
      for (const l of links) {
        try {
          await this.#links.insertOne({ _id: `${l.eventId}\u0000${l.changeId}`, eventId: l.eventId, changeId: l.changeId, rule: l.rule, linkedAt: l.linkedAt });
          added += 1;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
        }
      }
      return added;
    });
  }

  async linkedEvents(change: Pick<Change, 'id' | 'key'>): Promise<LinkedEvent[]> {
    const changeId = change.id;
    return this.#run('linkedEvents', { changeId }, async () => {
      const links = await this.#links.find({ changeId }).toArray();
      if (links.length === 0) return [];
      const events = new Map((await this.#events.find({ _id: { $in: links.map((l) => l.eventId) } }).sort({ receivedAt: 1, seq: 1 }).toArray()).map((d) => [d._id, d]));
      const byEvent = new Map(links.map((l) => [l.eventId, l]));
      return [...events.values()]
        .map((d) => {
          const l = byEvent.get(d._id) as LinkDoc;
          return { event: JSON.parse(d.json) as StoredEvent, rule: l.rule, linkedAt: l.linkedAt };
        })
        .filter((l) => linkHolds(l.rule, l.event, change));
    });
  }

  async linkedChanges(eventId: string): Promise<EventLink[]> {
    return this.#run('linkedChanges', { eventId }, async () =>
      (await this.#links.find({ eventId }).sort({ changeId: 1 }).toArray()).map((l) => ({ eventId: l.eventId, changeId: l.changeId, rule: l.rule, linkedAt: l.linkedAt })),
    );
  }

  async heartbeat(source: string, at: string): Promise<void> {
    await this.#run('heartbeat', { source }, async () => {
      try {
        await this.#beats.insertOne({ _id: source, at });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Only a later time moves it (ISO-8601 UTC compares as text).
        await this.#beats.updateOne({ _id: source, at: { $lt: at } }, { $set: { at } });
      }
    });
  }

  async heartbeats(): Promise<Record<string, string>> {
    return this.#run('heartbeats', {}, async () => Object.fromEntries((await this.#beats.find({}).toArray()).map((d) => [d._id, d.at])));
  }

  async pullState(key: string): Promise<string | null> {
    return this.#run('pullState', { key }, async () => (await this.#pulls.findOne({ _id: key }))?.state ?? null);
  }

  async savePullState(key: string, state: string, at: string): Promise<void> {
    await this.#run('savePullState', { key }, async () => {
      await this.#pulls.updateOne({ _id: key }, { $set: { state, savedAt: at } }, { upsert: true });
    });
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }
}
