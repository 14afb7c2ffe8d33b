// The SQLite event store keeps the look-ups that found nothing
// (sqlite-empty-answers.ts), since a sync asks several per change and most
// find none. What a reader must never notice: an event, a link or a heartbeat
// stored through the same store (seen at once) or by another process on the
// same file (seen within the recheck bound, 100 ms).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import type { StoredEvent } from '../../src/store/event-store.ts';
import { EmptyAnswers } from '../../src/store/sqlite/sqlite-empty-answers.ts';
import { SqliteEventStore } from '../../src/store/sqlite/sqlite-event-store.ts';
import { MIGRATIONS } from '../../src/store/sqlite/sqlite-schema.ts';
import { ci } from './event-store.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-empty-answers-'));
let files = 0;
const freshFile = (): string => join(dir, `store-${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-03-12T10:00:00.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();

/** Stores `event` the way the processor does: a delivery recorded, claimed, completed with it. */
async function storeEvent(store: SqliteEventStore, event: StoredEvent): Promise<void> {
  const { id } = await store.record({ source: 'github', kind: 'github', deliveryId: event.deliveryId, receivedAt: event.receivedAt, headers: {}, rawBody: Buffer.from('{}') });
  await store.claim(1, new Date(T0 + 2000));
  await store.completeAll([{ id, events: [event] }], new Date(T0 + 2000));
}

const lookups = async (store: SqliteEventStore) => ({
  byKey: (await store.findEvents({ changeKey: 'CHG0030001' })).map((e) => e.id),
  byCommit: (await store.findEvents({ commit: 'abc123' })).map((e) => e.id),
  byRepo: (await store.findEvents({ repo: 'acme/shop' })).map((e) => e.id),
  linked: (await store.linkedEvents({ id: 'servicenow:sn-prod:c1', key: 'CHG0030001' })).map((l) => l.event.id),
});
const nothing = { byKey: [], byCommit: [], byRepo: [], linked: [] };

describe('SqliteEventStore empty answers', () => {
  it('answers at once what it stored itself after finding nothing: an event, a link', async () => {
    const store = SqliteEventStore.open(freshFile(), { emptyAnswers: { now: () => 0 } });
    expect(await lookups(store)).toEqual(nothing);
    await storeEvent(store, ci('run-1'));
    expect(await lookups(store)).toEqual({ byKey: ['run-1'], byCommit: ['run-1'], byRepo: ['run-1'], linked: [] });
    await store.link([{ eventId: 'run-1', changeId: 'servicenow:sn-prod:c1', rule: 'change-key', linkedAt: iso(3000) }]);
    expect((await lookups(store)).linked).toEqual(['run-1']);
    await store.close();
  });

  it("reads another process's events and links on the same file within 100 ms of their commit", async () => {
    const path = freshFile();
    let ms = 0;
    const service = SqliteEventStore.open(path, { emptyAnswers: { now: () => ms } });
    const other = SqliteEventStore.open(path); // a replica, or `changegate sync` beside `serve`
    expect(await lookups(service)).toEqual(nothing);
    await storeEvent(other, ci('run-1'));
    await other.link([{ eventId: 'run-1', changeId: 'servicenow:sn-prod:c1', rule: 'change-key', linkedAt: iso(3000) }]);
    ms += 100;
    expect(await lookups(service)).toEqual({ byKey: ['run-1'], byCommit: ['run-1'], byRepo: ['run-1'], linked: ['run-1'] });
    await other.close();
    await service.close();
  });

  it('counts every write to events, links and heartbeats, from whichever connection, and the upgrade can run again', () => {
    const db = new DatabaseSync(':memory:');
    // The migration alone, applied twice over a schema that has the tables it watches.
    db.exec('CREATE TABLE events (id TEXT); CREATE TABLE event_links (event_id TEXT); CREATE TABLE event_heartbeats (source TEXT, at INTEGER)');
    const migration = MIGRATIONS.find((m) => m.includes('event_generation')) as string;
    db.exec(migration);
    db.exec(migration);
    const n = (): number => (db.prepare('SELECT n FROM event_generation').get() as { n: number }).n;
    expect(db.prepare('SELECT COUNT(*) AS rows FROM event_generation').get()).toEqual({ rows: 1 });
    expect(n()).toBe(0);
    db.exec("INSERT INTO events (id) VALUES ('a')");
    db.exec("UPDATE events SET id = 'b'");
    db.exec("INSERT INTO event_links (event_id) VALUES ('b')");
    db.exec("INSERT INTO event_heartbeats (source, at) VALUES ('am', 1)");
    db.exec('DELETE FROM event_links');
    expect(n()).toBe(5);
    db.close();
  });

  it('forgets what it kept when the generation moves, and reads the generation at most once per recheck', () => {
    let generation = 1;
    let reads = 0;
    let ms = 0;
    const answers = new EmptyAnswers(() => (reads++, generation), { recheckMs: 100, now: () => ms });
    expect(answers.has('k')).toBe(false);
    answers.add('k');
    expect(answers.has('k')).toBe(true);
    generation = 2;
    ms = 99;
    expect(answers.has('k')).toBe(true);
    expect(reads).toBe(1);
    ms = 100;
    expect(answers.has('k')).toBe(false);
    expect(reads).toBe(2);
    answers.add('k');
    answers.invalidate();
    expect(answers.has('k')).toBe(false);
  });

  it('answers empty every look-up of a kind the store holds nothing for, re-reading which kinds whenever the generation moves', () => {
    let generation = 1;
    let emptyKinds = new Set(['find', 'linked']);
    let ms = 0;
    const answers = new EmptyAnswers(() => generation, { recheckMs: 100, now: () => ms }, () => emptyKinds);
    expect(answers.has('find\u0000never asked before')).toBe(true);
    expect(answers.has('linked\u0000servicenow:sn-prod:c1')).toBe(true);
    // Nothing kept per key: the answer comes from the kinds alone.
    expect(answers.size).toBe(0);
    // Another process stored an event (the generation moved): seen within the recheck bound.
    emptyKinds = new Set(['linked']);
    generation = 2;
    expect(answers.has('find\u0000x')).toBe(true);
    ms = 100;
    expect(answers.has('find\u0000x')).toBe(false);
    expect(answers.has('linked\u0000c1')).toBe(true);
    // The owner's own write: nothing is taken as empty until the kinds are read again.
    emptyKinds = new Set();
    answers.invalidate();
    expect(answers.has('linked\u0000c1')).toBe(false);
  });

  it('a store holding no event answers look-ups empty, and still reads its first event at once', async () => {
    const store = SqliteEventStore.open(freshFile(), { emptyAnswers: { now: () => 0, max: 2 } });
    for (let i = 0; i < 5; i++) expect(await store.findEvents({ changeKey: `CHG00${i}` })).toEqual([]);
    await storeEvent(store, ci('run-1'));
    expect((await lookups(store)).byKey).toEqual(['run-1']);
    await store.close();
  });

  it('keeps a bounded number of answers', () => {
    const answers = new EmptyAnswers(() => 0, { max: 3 });
    expect(answers.has('a')).toBe(false);
    for (const k of ['a', 'b', 'c', 'd']) answers.add(k);
    expect(answers.size).toBeLessThanOrEqual(3);
    expect(answers.has('d')).toBe(true);
  });
});
