// The event store on SQLite (node:sqlite, WAL), on its own connection to the
// mirror's file: its tables are a migration of the shared schema
// (sqlite-schema.ts), so opening it alone (tests, ':memory:') migrates as the
// change store does. Each operation is one statement or one immediate
// transaction; a claim selects and leases in one UPDATE … RETURNING. Raw bodies
// live in their own table (event_bodies), so leasing and completing a delivery
// rewrite a small row, and deliveries recorded together commit together.

import type { StatementSync } from 'node:sqlite';
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
import { ownerOf, ownerText } from './sqlite-claim-owner.ts';
import { SqliteConnection, type SqliteConnectionOptions } from './sqlite-connection.ts';
import { EmptyAnswers, type EmptyAnswersOptions } from './sqlite-empty-answers.ts';
import { migrate } from './sqlite-schema.ts';

interface DeliveryRow {
  id: string;
  source: string;
  kind: string;
  delivery_id: string;
  received_at: number;
  headers: string;
  raw_body: Uint8Array;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  finished_at: number | null;
}

interface EventRow {
  body: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function toDelivery(row: DeliveryRow): EventDelivery {
  return {
    id: row.id,
    source: row.source,
    kind: row.kind,
    deliveryId: row.delivery_id,
    receivedAt: iso(row.received_at),
    headers: JSON.parse(row.headers) as Record<string, string>,
    rawBody: Buffer.from(row.raw_body),
    status: row.status as EventDeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: iso(row.next_attempt_at),
    lastError: row.last_error,
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
  };
}

const toEvent = (row: EventRow): StoredEvent => JSON.parse(row.body) as StoredEvent;

export class SqliteEventStore implements EventStore {
  readonly #conn: SqliteConnection;
  readonly #s: Record<string, StatementSync>;
  #queued: { delivery: NewEventDelivery; resolve: (result: EventRecordResult) => void; reject: (err: unknown) => void }[] = [];
  /** findEvents statements by their SQL (one per filter shape): an assessment asks several per change, and preparing costs more than the query. */
  readonly #finds = new Map<string, StatementSync>();
  /** Look-ups that found nothing, while no event, link or heartbeat moved (a sync asks several per change, and most find none). */
  readonly #empty: EmptyAnswers;

  private constructor(conn: SqliteConnection, emptyAnswers: EmptyAnswersOptions = {}) {
    this.#conn = conn;
    const db = conn.db;
    db.function('changegate_same_commit', { deterministic: true }, (a, b) => (typeof a === 'string' && typeof b === 'string' && sameCommit(a, b) ? 1 : 0));
    const generation = db.prepare('SELECT n FROM event_generation');
    generation.setReturnArrays(true);
    // Links name events, so no event means no linked event either.
    const nothing = db.prepare('SELECT NOT EXISTS (SELECT 1 FROM events) AS no_events, NOT EXISTS (SELECT 1 FROM event_links) AS no_links');
    const whollyEmpty = (): ReadonlySet<string> => {
      const row = nothing.get() as { no_events: number; no_links: number };
      return new Set([...(row.no_events === 1 ? ['find', 'linked'] : []), ...(row.no_links === 1 ? ['linked'] : [])]);
    };
    this.#empty = new EmptyAnswers(() => (generation.get() as unknown as [number])[0], emptyAnswers, whollyEmpty);
    this.#s = {
      insert: db.prepare(
        `INSERT INTO event_deliveries (id, source, kind, delivery_id, received_at, headers, status, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (id) DO NOTHING`,
      ),
      insertBody: db.prepare('INSERT INTO event_bodies (seq, raw_body) VALUES (?, ?)'),
      body: db.prepare('SELECT raw_body FROM event_bodies WHERE seq = ?'),
      claim: db.prepare(
        `UPDATE event_deliveries SET attempts = attempts + 1, next_attempt_at = :leaseUntil, claim_owner = :owner
         WHERE seq IN (SELECT seq FROM event_deliveries WHERE status = 'pending' AND next_attempt_at <= :now ORDER BY received_at, seq LIMIT :limit)
         RETURNING *, seq`,
      ),
      complete: db.prepare(`UPDATE event_deliveries SET status = 'done', finished_at = ?, claim_owner = NULL WHERE id = ? AND status = 'pending'`),
      fail: db.prepare(
        `UPDATE event_deliveries SET status = ?, last_error = ?, next_attempt_at = ?, finished_at = ?, claim_owner = NULL WHERE id = ? AND status = 'pending'`,
      ),
      // Only a claim in flight keeps its owner (settling clears it), so a retry's wait is never cut short by a release.
      owners: db.prepare(`SELECT DISTINCT claim_owner FROM event_deliveries WHERE status = 'pending' AND claim_owner IS NOT NULL`),
      release: db.prepare(
        `UPDATE event_deliveries SET next_attempt_at = :now, claim_owner = NULL
         WHERE status = 'pending' AND json_extract(claim_owner, '$.id') = :owner`,
      ),
      getDelivery: db.prepare('SELECT d.*, b.raw_body FROM event_deliveries d JOIN event_bodies b ON b.seq = d.seq WHERE d.id = ?'),
      pending: db.prepare(`SELECT COUNT(*) AS n FROM event_deliveries WHERE status = 'pending'`),
      getEvent: db.prepare('SELECT body FROM events WHERE id = ?'),
      upsertEvent: db.prepare(
        `INSERT INTO events (id, type, source, delivery_id, received_at, repo, commit_sha, commit_bucket, service, change_keys, body)
         VALUES (:id, :type, :source, :deliveryId, :receivedAt, :repo, :commit, :bucket, :service, :keys, :body)
         ON CONFLICT (id) DO UPDATE SET type = excluded.type, source = excluded.source, delivery_id = excluded.delivery_id,
           received_at = excluded.received_at, repo = excluded.repo, commit_sha = excluded.commit_sha, commit_bucket = excluded.commit_bucket,
           service = excluded.service, change_keys = excluded.change_keys, body = excluded.body`,
      ),
      addKey: db.prepare('INSERT INTO event_change_keys (key, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      dropKey: db.prepare('DELETE FROM event_change_keys WHERE key = ? AND event_id = ?'),
      link: db.prepare('INSERT INTO event_links (event_id, change_id, rule, linked_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      linkedEvents: db.prepare(
        `SELECT e.body, l.rule, l.linked_at FROM event_links l JOIN events e ON e.id = l.event_id WHERE l.change_id = ? ORDER BY e.received_at, e.seq`,
      ),
      linkedChanges: db.prepare('SELECT event_id, change_id, rule, linked_at FROM event_links WHERE event_id = ? ORDER BY change_id'),
      heartbeat: db.prepare('INSERT INTO event_heartbeats (source, at) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET at = max(at, excluded.at)'),
      heartbeats: db.prepare('SELECT source, at FROM event_heartbeats ORDER BY source'),
      pullState: db.prepare('SELECT state FROM event_pull_state WHERE key = ?'),
      savePullState: db.prepare('INSERT INTO event_pull_state (key, state, saved_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at'),
    };
  }

  /** Opens (creating and migrating the file if needed). `':memory:'` gives a private in-memory store. */
  static open(path: string, options: SqliteConnectionOptions & { emptyAnswers?: EmptyAnswersOptions } = {}): SqliteEventStore {
    const { emptyAnswers, ...connection } = options;
    return new SqliteEventStore(SqliteConnection.open(path, 'the event store', connection, (db) => migrate(db, path), { enableForeignKeyConstraints: false }), emptyAnswers);
  }

  /**
   * Group commit: the deliveries recorded while the event loop was busy are
   * inserted in one transaction on its next turn, and each promise settles only
   * once that transaction committed (the 202 follows the commit). Under load a
   * commit then carries many deliveries instead of one.
   */
  record(delivery: NewEventDelivery): Promise<EventRecordResult> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ delivery, resolve, reject });
      if (this.#queued.length === 1) setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queued;
    this.#queued = [];
    if (batch.length === 0) return;
    try {
      const results = await this.#conn.run('record', { count: batch.length }, () => {
        const db = this.#conn.db;
        db.exec('BEGIN IMMEDIATE');
        const out = batch.map(({ delivery }): EventRecordResult => {
          const id = eventDeliveryKey(delivery.source, delivery.deliveryId);
          const receivedAt = Date.parse(delivery.receivedAt);
          const { changes, lastInsertRowid } = this.#s.insert!.run(id, delivery.source, delivery.kind, delivery.deliveryId, receivedAt, JSON.stringify(delivery.headers), receivedAt);
          if (Number(changes) === 0) return { id, duplicate: true };
          this.#s.insertBody!.run(lastInsertRowid, delivery.rawBody);
          return { id, duplicate: false };
        });
        db.exec('COMMIT');
        return out;
      });
      batch.forEach((item, i) => item.resolve(results[i] as EventRecordResult));
    } catch (err) {
      // The whole transaction rolled back: none of the batch is stored, and each caller is told so.
      for (const item of batch) item.reject(err);
    }
  }

  async claim(limit: number, now: Date, options: EventClaimOptions = {}): Promise<EventDelivery[]> {
    const nowMs = now.getTime();
    return this.#conn.run('claim', { limit }, () => {
      const rows = this.#s.claim!.all({ now: nowMs, leaseUntil: nowMs + (options.leaseMs ?? DEFAULT_EVENT_LEASE_MS), limit, owner: ownerText(options.owner) }) as unknown as (Omit<DeliveryRow, 'raw_body'> & { seq: number })[];
      rows.sort((a, b) => a.received_at - b.received_at || a.seq - b.seq);
      return rows.map((row) => toDelivery({ ...row, raw_body: (this.#s.body!.get(row.seq) as { raw_body: Uint8Array }).raw_body }));
    });
  }

  async claimOwners(): Promise<ClaimOwner[]> {
    return this.#conn.read('claimOwners', {}, () => (this.#s.owners!.all() as { claim_owner: string }[]).map((r) => ownerOf(r.claim_owner) as ClaimOwner));
  }

  async releaseClaims(ownerId: string, now: Date): Promise<number> {
    return this.#conn.run('releaseClaims', { ownerId }, () => Number(this.#s.release!.run({ now: now.getTime(), owner: ownerId }).changes));
  }

  async complete(id: string, events: readonly StoredEvent[], now: Date): Promise<StoredEvent[]> {
    const [stored] = await this.completeAll([{ id, events }], now);
    return stored as StoredEvent[];
  }

  /** One transaction for the batch: the pages its deliveries share (event rows, indexes, the queue) are written once. */
  async completeAll(items: readonly { id: string; events: readonly StoredEvent[] }[], now: Date): Promise<StoredEvent[][]> {
    if (items.length === 0) return [];
    return this.#conn.run('complete', { id: items[0]?.id, count: items.length }, () => {
      const db = this.#conn.db;
      db.exec('BEGIN IMMEDIATE');
      const out = items.map(({ id, events }) => {
        const stored = events.map((next) => this.#store(next));
        this.#s.complete!.run(now.getTime(), id);
        return stored;
      });
      db.exec('COMMIT');
      this.#empty.invalidate();
      return out;
    });
  }

  /** Inside a transaction: the event as it stands after `given` (as `settle` makes it over the stored one). */
  #store(given: StoredEvent): StoredEvent {
    const row = this.#s.getEvent!.get(given.id) as EventRow | undefined;
    const current = row === undefined ? null : toEvent(row);
    const next = settle(current, given);
    if (next === current) return current;
    const ci = next.type === 'ci' ? next.event : null;
    const keys = ci?.changeKeys ?? [];
    this.#s.upsertEvent!.run({
      id: next.id,
      type: next.type,
      source: next.source,
      deliveryId: next.deliveryId,
      receivedAt: Date.parse(next.receivedAt),
      repo: ci?.repo ?? null,
      commit: ci?.commit ?? null,
      bucket: ci === null || ci.commit === null ? null : commitBucket(ci.commit) || null,
      service: next.type === 'monitor' ? next.event.service : null,
      keys: JSON.stringify(keys),
      body: JSON.stringify(next),
    });
    // An event's keys are those of its latest version: a key the stored one named and this one does not
    // (a run's completion naming another change, a corrected payload) no longer finds it. Indexed in any case.
    const indexed = new Set(keys.map(changeKeyIndexKey));
    const before = new Set(current?.type === 'ci' ? current.event.changeKeys.map(changeKeyIndexKey) : []);
    for (const key of before) if (!indexed.has(key)) this.#s.dropKey!.run(key, next.id);
    for (const key of indexed) this.#s.addKey!.run(key, next.id);
    return next;
  }

  async fail(id: string, error: string, retryAt: Date | null, now: Date): Promise<void> {
    const nowMs = now.getTime();
    await this.#conn.run('fail', { id }, () =>
      retryAt === null ? this.#s.fail!.run('failed', error, nowMs, nowMs, id) : this.#s.fail!.run('pending', error, retryAt.getTime(), null, id),
    );
  }

  async getDelivery(id: string): Promise<EventDelivery | null> {
    return this.#conn.read('getDelivery', { id }, () => {
      const row = this.#s.getDelivery!.get(id) as DeliveryRow | undefined;
      return row === undefined ? null : toDelivery(row);
    });
  }

  async pendingCount(): Promise<number> {
    return this.#conn.read('pendingCount', {}, () => (this.#s.pending!.get() as { n: number }).n);
  }

  async getEvent(id: string): Promise<StoredEvent | null> {
    return this.#conn.read('getEvent', { id }, () => {
      const row = this.#s.getEvent!.get(id) as EventRow | undefined;
      return row === undefined ? null : toEvent(row);
    });
  }

  async findEvents(query: EventQuery): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.changeKey !== undefined) {
      where.push('e.id IN (SELECT event_id FROM event_change_keys WHERE key = ?)');
      params.push(changeKeyIndexKey(query.changeKey));
    }
    if (query.commit !== undefined) {
      // The bucket's index finds the candidates; the function keeps those on the same commit.
      where.push('e.commit_bucket = ? AND changegate_same_commit(e.commit_sha, ?)');
      params.push(commitBucket(query.commit), query.commit);
    }
    const columns: ['repo' | 'service' | 'source', string][] = [['repo', 'repo'], ['service', 'service'], ['source', 'source']];
    for (const [field, column] of columns) {
      const value = query[field];
      if (value === undefined) continue;
      where.push(`e.${column} = ?`);
      params.push(value);
    }
    if (query.services !== undefined) {
      if (query.services.length === 0) return [];
      where.push(`e.service IN (${query.services.map(() => '?').join(', ')})`);
      params.push(...query.services);
    }
    const sql = `SELECT e.body FROM events e ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY e.received_at, e.seq LIMIT ?`;
    params.push(query.limit ?? 1000);
    const key = `find\u0000${sql}\u0000${params.join('\u0000')}`;
    if (this.#empty.has(key)) return [];
    return this.#conn.read('findEvents', {}, () => {
      let stmt = this.#finds.get(sql);
      if (stmt === undefined) {
        stmt = this.#conn.db.prepare(sql);
        this.#finds.set(sql, stmt);
      }
      const rows = stmt.all(...params) as unknown as EventRow[];
      if (rows.length === 0) this.#empty.add(key);
      return rows.map(toEvent);
    });
  }

  async link(links: readonly EventLink[]): Promise<number> {
    return this.#conn.run('link', { count: links.length }, () => {
      const db = this.#conn.db;
      db.exec('BEGIN IMMEDIATE');
      let added = 0;
      for (const l of links) added += Number(this.#s.link!.run(l.eventId, l.changeId, l.rule, Date.parse(l.linkedAt)).changes);
      db.exec('COMMIT');
      this.#empty.invalidate();
      return added;
    });
  }

  async linkedEvents(change: Pick<Change, 'id' | 'key'>): Promise<LinkedEvent[]> {
    const changeId = change.id;
    const key = `linked\u0000${changeId}`;
    if (this.#empty.has(key)) return [];
    return this.#conn.read('linkedEvents', { changeId }, () => {
      const rows = this.#s.linkedEvents!.all(changeId) as unknown as (EventRow & { rule: string; linked_at: number })[];
      // Empty only when there is no link at all: one that no longer holds may hold again with the event's next version.
      if (rows.length === 0) this.#empty.add(key);
      return rows.map((r) => ({ event: toEvent(r), rule: r.rule, linkedAt: iso(r.linked_at) })).filter((l) => linkHolds(l.rule, l.event, change));
    });
  }

  async linkedChanges(eventId: string): Promise<EventLink[]> {
    return this.#conn.read('linkedChanges', { eventId }, () =>
      (this.#s.linkedChanges!.all(eventId) as unknown as { event_id: string; change_id: string; rule: string; linked_at: number }[]).map((r) => ({
        eventId: r.event_id,
        changeId: r.change_id,
        rule: r.rule,
        linkedAt: iso(r.linked_at),
      })),
    );
  }

  async heartbeat(source: string, at: string): Promise<void> {
    await this.#conn.run('heartbeat', { source }, () => this.#s.heartbeat!.run(source, Date.parse(at)));
    this.#empty.invalidate();
  }

  async heartbeats(): Promise<Record<string, string>> {
    return this.#conn.read('heartbeats', {}, () =>
      Object.fromEntries((this.#s.heartbeats!.all() as { source: string; at: number }[]).map((r) => [r.source, iso(r.at)])),
    );
  }

  async pullState(key: string): Promise<string | null> {
    return this.#conn.read('pullState', { key }, () => (this.#s.pullState!.get(key) as { state: string } | undefined)?.state ?? null);
  }

  async savePullState(key: string, state: string, at: string): Promise<void> {
    await this.#conn.run('savePullState', { key }, () => this.#s.savePullState!.run(key, state, Date.parse(at)));
  }

  async close(): Promise<void> {
    // What was recorded but not yet committed is committed (or refused to its callers) first.
    await this.#flush();
    this.#conn.close();
  }
}
