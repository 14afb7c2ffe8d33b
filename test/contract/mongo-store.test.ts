// What only the MongoDB adapter has to get right, on MONGODB_URI (FerretDB in
// CI; see test/support/ferretdb-global-setup.ts), each test on a database of
// its own: replicas sharing one database (no transaction holds a page
// together), and the stores an earlier version left, upgraded at start-up.
// Like every MongoDB suite, it fails without MONGODB_URI rather than pass
// untested. (The contract every adapter passes: store-adapters.test.ts.)

import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { openStores } from '../../src/store/open-stores.ts';
import { commitRefKey } from '../../src/store/change-refs.ts';
import { INDEX_KEYS_ID, type RevisionDoc } from '../../src/store/mongo/mongo-mirror-docs.ts';
import { sha256Hex, stableStringify } from '../../src/store/content-hash.ts';
import { at as timeAt, buildApproval, buildChange, buildChanges } from '../support/change-builder.ts';
import { storeBundles } from '../support/store-bundles.ts';
import { ci } from './event-store.contract.ts';
import { approvalFirstTimes } from '../support/approval-first-times.ts';

const { mongoUri, freshDatabase, opened } = storeBundles();

// No transaction holds a page together, so two replicas storing the same changes at once must
// still leave one history per change.
describe('MongoDB store: replicas writing the same changes at once', () => {
  it('keeps one gapless history per change and the newest version mirrored', async () => {
    const database = freshDatabase();
    const [a, b] = await Promise.all([openStores({ kind: 'mongodb', uri: mongoUri, database }), openStores({ kind: 'mongodb', uri: mongoUri, database })]);
    if (a === undefined || b === undefined) throw new Error('not opened');
    opened.push(a, b);
    const v1 = buildChanges(20, 1, { nativeRevision: 1 });
    await a.changes.applyPage('sn-prod', 'changes', v1.map((change) => ({ kind: 'change', change })), null);
    const v2 = v1.map((c) => ({ ...c, nativeRevision: 2, title: `${c.title} (edited on one replica)` }));
    const v3 = v1.map((c) => ({ ...c, nativeRevision: 3, title: `${c.title} (edited again)` }));
    await Promise.all([
      a.changes.applyPage('sn-prod', 'changes', v2.map((change) => ({ kind: 'change', change })), null),
      b.changes.applyPage('sn-prod', 'changes', v3.map((change) => ({ kind: 'change', change })), null),
      b.changes.applyPage('sn-prod', 'changes', v2.map((change) => ({ kind: 'change', change })), null),
    ]);
    for (const change of v3) {
      expect((await a.changes.getChange(change.id))?.change.title).toBe(change.title);
      const revisions = await b.changes.listRevisions(change.id);
      expect(revisions.map((r) => r.seq)).toEqual(revisions.map((_, i) => i + 1));
      expect(new Set(revisions.map((r) => r.hash)).size).toBe(revisions.length);
      expect(revisions.at(-1)?.nativeRevision).toBe(3);
    }
  });

  it('moves a change to the revision a writer stored before it died, when the page is stored again', async () => {
    const database = freshDatabase();
    const stores = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(stores);
    const [v1] = buildChanges(1, 1, { nativeRevision: 1 });
    if (v1 === undefined) throw new Error('no change built');
    await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v1 }], null);
    const v2 = { ...v1, nativeRevision: 2, title: `${v1.title} (edited)` };
    // What a writer that died between the two writes of a change leaves: revision 2 stored, the change still at 1.
    const client = await MongoClient.connect(mongoUri);
    try {
      await client.db(database).collection<RevisionDoc>('revisions').insertOne({
        _id: `${v1.id}\u00002`,
        changeId: v1.id,
        seq: 2,
        nativeRevision: 2,
        updatedAt: v2.updatedAt,
        observedAt: new Date(Date.now() - 60_000).toISOString(),
        hash: sha256Hex(stableStringify(v2)),
        diff: '[]',
        snapshot: null,
        author: 'null',
        writtenAt: new Date(Date.now() - 60_000),
      });
    } finally {
      await client.close();
    }
    expect(await stores.changes.lastRevisionSeq(v1.id)).toBe(1);

    const replay = await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v2 }], null);
    expect(replay.changesWritten).toBe(1);
    expect((await stores.changes.getChange(v1.id))?.change.title).toBe(v2.title);
    expect((await stores.changes.listRevisions(v1.id)).map((r) => [r.seq, r.nativeRevision])).toEqual([[1, 1], [2, 2]]);
  });
});

// FerretDB writes a whole document back on every update: an assessment mark kept on the change
// document could undo a move of that change a page made at the same moment.
describe('MongoDB store: one replica assessing while another stores new versions', () => {
  it('keeps every change at its newest version, owed until that version is noted', async () => {
    const database = freshDatabase();
    const [a, b] = await Promise.all([openStores({ kind: 'mongodb', uri: mongoUri, database }), openStores({ kind: 'mongodb', uri: mongoUri, database })]);
    if (a === undefined || b === undefined) throw new Error('not opened');
    opened.push(a, b);
    const v1 = buildChanges(10, 1, { nativeRevision: 1 });
    await a.changes.applyPage('sn-prod', 'changes', v1.map((change) => ({ kind: 'change', change })), null);
    const raced = 5;
    const pages = { storing: true };
    const noting = (async () => {
      // Notes each change at the revision it is at, as the runner does, while the pages are stored.
      while (pages.storing) for (const change of v1) await b.changes.noteAssessed(change.id, await b.changes.lastRevisionSeq(change.id));
    })();
    for (let n = 2; n <= raced; n++) {
      const page = v1.map((c) => ({ ...c, nativeRevision: n, title: `${c.title} (edit ${n})` }));
      await a.changes.applyPage('sn-prod', 'changes', page.map((change) => ({ kind: 'change', change })), null);
    }
    pages.storing = false;
    await noting;
    for (const change of v1) {
      expect((await b.changes.getChange(change.id))?.change.title).toBe(`${change.title} (edit ${raced})`);
      expect(await b.changes.lastRevisionSeq(change.id)).toBe(raced);
    }
    // A version stored after the last mark is owed until noted.
    const next = v1.map((c) => ({ ...c, nativeRevision: raced + 1, title: `${c.title} (edit ${raced + 1})` }));
    expect(await a.changes.applyPage('sn-prod', 'changes', next.map((change) => ({ kind: 'change', change })), null)).toMatchObject({ changesWritten: 10 });
    for (const change of v1.slice(0, 5)) await b.changes.noteAssessed(change.id, raced + 1);
    expect(await a.changes.listOwedAssessments({ limit: 20 })).toEqual(v1.slice(5).map((c) => c.id).toSorted());
  });

  it('still owes what an earlier version marked owed on the change document', async () => {
    const database = freshDatabase();
    const first = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(first);
    const [owed, assessed] = buildChanges(2, 1);
    if (owed === undefined || assessed === undefined) throw new Error('no change built');
    await first.changes.applyPage('sn-prod', 'changes', [owed, assessed].map((change) => ({ kind: 'change', change })), null);
    // A store an earlier version wrote: the marks are fields of the change documents, none of their own yet.
    const client = await MongoClient.connect(mongoUri);
    try {
      const db = client.db(database);
      await db.collection('owed_assessments').deleteMany({});
      await db.collection('mirror_meta').deleteMany({ _id: 'owed-assessments-moved' as never });
      await db.collection('changes').updateOne({ _id: owed.id as never }, { $set: { owed: true, assessedSeq: 0 } });
      await db.collection('changes').updateOne({ _id: assessed.id as never }, { $set: { owed: false, assessedSeq: 1 } });
    } finally {
      await client.close();
    }
    const upgraded = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(upgraded);
    expect(await upgraded.changes.listOwedAssessments({ limit: 10 })).toEqual([owed.id]);
    await upgraded.changes.noteAssessed(owed.id, 1);
    // Moved once: a later start does not owe it again.
    const restarted = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(restarted);
    expect(await restarted.changes.listOwedAssessments({ limit: 10 })).toEqual([]);
  });

  it('finds the active changes an earlier version mirrored under their index keys once started, with replicas starting together', async () => {
    const database = freshDatabase();
    const first = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(first);
    const [active, closed] = buildChanges(2, 1);
    if (active === undefined || closed === undefined) throw new Error('no change built');
    await first.changes.applyPage('sn-prod', 'changes', [active, { ...closed, state: 'closed' as const }].map((change) => ({ kind: 'change', change })), null);
    const commit = commitRefKey(active.links.commits[0] ?? '');
    // A store an earlier version wrote: no index keys among the change documents' refDays, and no mark that they were added.
    const client = await MongoClient.connect(mongoUri);
    try {
      const db = client.db(database);
      for await (const doc of db.collection<{ _id: string; refDays: string[] }>('changes').find({})) {
        await db.collection<{ _id: string; refDays: string[] }>('changes').updateOne({ _id: doc._id }, { $set: { refDays: doc.refDays.filter((k) => !k.endsWith('\u0000-3')) } });
      }
      await db.collection('mirror_meta').deleteMany({ _id: INDEX_KEYS_ID as never });
    } finally {
      await client.close();
    }
    const [a, b] = await Promise.all([openStores({ kind: 'mongodb', uri: mongoUri, database }), openStores({ kind: 'mongodb', uri: mongoUri, database })]);
    opened.push(a, b);
    for (const key of [commit, 'service:paymentsapi', 'service:paygwcluster01']) {
      expect((await a.changes.listActiveChangesIndexed({ instance: 'sn-prod', keys: [key], limit: 10 })).map((c) => c.id)).toEqual([active.id]);
    }
    // The neighbour index is as it was.
    expect((await b.changes.listActiveChangesTouching({ instance: 'sn-prod', refs: ['payments api'], limit: 10 })).map((c) => c.id)).toEqual([active.id]);
  });
});

describe('MongoDB store: events and changes an earlier version stored by the commit as written', () => {
  it('finds them by the full sha or an abbreviation once started, with replicas starting together, and drops the old index', async () => {
    const database = freshDatabase();
    const full = '9fceb02d0ae598e95dc970b74767f19372d61af8';
    const first = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(first);
    const change = buildChange({ links: { repos: [], commits: ['9FCEB02D0A'], artifacts: [], pipelines: [] } });
    await first.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
    const { id } = await first.events.record({ source: 'github', kind: 'github', deliveryId: 'guid-1', receivedAt: '2026-03-12T10:00:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await first.events.complete(id, [ci('run-full', { commit: full }), ci('run-short', { commit: '9FCEB02' }), ci('run-other', { commit: '0123456789abcdef' })], new Date('2026-03-12T10:00:01.000Z'));
    // As an earlier version left them: events without a bucket, indexed by the commit; each commit key the commit as written; no note of either upgrade.
    const client = await MongoClient.connect(mongoUri);
    try {
      const db = client.db(database);
      await db.collection('events').updateMany({}, { $unset: { commitBucket: '' } });
      await db.collection('events').dropIndex('by_commit_bucket');
      await db.collection('events').createIndex({ commit: 1 }, { name: 'by_commit' });
      await db.collection('event_meta').deleteMany({});
      const changes = db.collection<{ _id: string; refDays: string[] }>('changes');
      for await (const doc of changes.find({})) {
        await changes.updateOne({ _id: doc._id }, { $set: { refDays: doc.refDays.map((k) => (k.startsWith('commit:') ? 'commit:9FCEB02D0A\u0000-3' : k)) } });
      }
      await db.collection('mirror_meta').deleteMany({ _id: INDEX_KEYS_ID as never });
      await db.collection('mirror_meta').insertOne({ _id: 'change-index-keys' as never, n: 1 });
    } finally {
      await client.close();
    }
    const [a, b] = await Promise.all([openStores({ kind: 'mongodb', uri: mongoUri, database }), openStores({ kind: 'mongodb', uri: mongoUri, database })]);
    opened.push(a, b);
    for (const commit of [full, '9fceb02d0a']) expect((await a.events.findEvents({ commit })).map((e) => e.id)).toEqual(['run-full', 'run-short']);
    expect((await b.changes.listActiveChangesIndexed({ instance: 'sn-prod', keys: [commitRefKey(full)], limit: 10 })).map((c) => c.id)).toEqual([change.id]);
    const check = await MongoClient.connect(mongoUri);
    try {
      const names = (await check.db(database).collection('events').listIndexes().toArray()).map((index) => String(index['name']));
      expect(names).toContain('by_commit_bucket');
      expect(names).not.toContain('by_commit');
    } finally {
      await check.close();
    }
  });
});

describe('MongoDB store: events an earlier version stored by their change keys as given', () => {
  it('finds them by a change key in any case once started, with replicas starting together, and drops the old index', async () => {
    const database = freshDatabase();
    const first = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(first);
    const { id } = await first.events.record({ source: 'hooks', kind: 'generic', deliveryId: 'guid-1', receivedAt: '2026-03-12T10:00:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await first.events.complete(id, [ci('run-1', { changeKeys: ['chg0030001'] }), ci('run-2', { changeKeys: ['ITSM-42'] })], new Date('2026-03-12T10:00:01.000Z'));
    // As an earlier version left them: indexed by the keys as given, no note of the upgrade.
    const client = await MongoClient.connect(mongoUri);
    try {
      const db = client.db(database);
      await db.collection('events').updateMany({}, { $unset: { changeKeysLower: '' } });
      await db.collection('events').dropIndex('by_change_key_lower');
      await db.collection('events').createIndex({ changeKeys: 1 }, { name: 'by_change_key' });
      await db.collection('event_meta').deleteMany({});
    } finally {
      await client.close();
    }
    const [a, b] = await Promise.all([openStores({ kind: 'mongodb', uri: mongoUri, database }), openStores({ kind: 'mongodb', uri: mongoUri, database })]);
    opened.push(a, b);
    expect((await a.events.findEvents({ changeKey: 'CHG0030001' })).map((e) => e.id)).toEqual(['run-1']);
    expect((await b.events.findEvents({ changeKey: 'itsm-42' })).map((e) => e.id)).toEqual(['run-2']);
    const check = await MongoClient.connect(mongoUri);
    try {
      const names = (await check.db(database).collection('events').listIndexes().toArray()).map((index) => String(index['name']));
      expect(names).toContain('by_change_key_lower');
      expect(names).not.toContain('by_change_key');
    } finally {
      await check.close();
    }
  });
});

describe('MongoDB store: events a replica of an earlier version stores after the upgraded one started (a rolling upgrade)', () => {
  it('finds them by a change key in another case and by an abbreviation of their commit', async () => {
    const database = freshDatabase();
    const upgraded = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(upgraded);
    const full = '9fceb02d0ae598e95dc970b74767f19372d61af8';
    const { id } = await upgraded.events.record({ source: 'hooks', kind: 'generic', deliveryId: 'guid-1', receivedAt: '2026-03-12T10:00:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await upgraded.events.complete(id, [ci('run-old', { changeKeys: ['chg0030077'], commit: full }), ci('run-new', { changeKeys: ['CHG0030078'], commit: '0123456789abcdef' })], new Date('2026-03-12T10:00:01.000Z'));
    // The older replica's write: an event without the fields the upgraded one's start filled in (start-up is over).
    const client = await MongoClient.connect(mongoUri);
    try {
      await client.db(database).collection('events').updateOne({ _id: 'run-old' as never }, { $unset: { changeKeysLower: '', commitBucket: '' } });
    } finally {
      await client.close();
    }
    expect((await upgraded.events.findEvents({ changeKey: 'CHG0030077' })).map((e) => e.id)).toEqual(['run-old']);
    expect((await upgraded.events.findEvents({ commit: '9FCEB02D0A' })).map((e) => e.id)).toEqual(['run-old']);
    expect((await upgraded.events.findEvents({ changeKey: 'chg0030078' })).map((e) => e.id)).toEqual(['run-new']);
  });
});

describe('MongoDB store: approvals an earlier version stored without their first time', () => {
  it('takes the version each holds as its first, and keeps that through later versions, as the SQLite upgrade does', async () => {
    const database = freshDatabase();
    const bundle = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(bundle);
    const change = buildChange();
    const requested = buildApproval({ id: 'apr-cab', updatedAt: timeAt(5) });
    const decided = buildApproval({ id: 'apr-mgr', state: 'approved', nativeState: 'approved', decidedAt: timeAt(4), updatedAt: timeAt(6) });
    await bundle.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }, { kind: 'approval', changeNativeId: change.nativeId, approval: requested }, { kind: 'approval', changeNativeId: change.nativeId, approval: decided }], null);
    const client = await MongoClient.connect(mongoUri);
    try {
      await client.db(database).collection('approvals').updateMany({}, { $unset: { firstAt: '' } });
    } finally {
      await client.close();
    }
    expect(await approvalFirstTimes(bundle.changes, 'sn-prod', change.nativeId)).toEqual(new Map([['apr-cab', timeAt(5)], ['apr-mgr', timeAt(4)]]));
    const approved = { ...requested, state: 'approved' as const, nativeState: 'approved', decidedAt: timeAt(9), updatedAt: timeAt(9) };
    await bundle.changes.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: change.nativeId, approval: approved }], null);
    expect(await approvalFirstTimes(bundle.changes, 'sn-prod', change.nativeId)).toEqual(new Map([['apr-cab', timeAt(5)], ['apr-mgr', timeAt(4)]]));
  });
});

describe('MongoDB store: a replica killed in the middle of a claim', () => {
  it('leaves the outbox item to another replica once its turn is abandoned, never to two live ones at once', async () => {
    const database = freshDatabase();
    const bundle = await openStores({ kind: 'mongodb', uri: mongoUri, database });
    opened.push(bundle);
    const now = new Date();
    const note = { title: 'verdict', tone: 'info' as const, lines: ['verdict'] };
    await bundle.outbox.enqueue(['k1', 'k2'].map((key) => ({ instance: 'sn', changeId: `servicenow:sn:${key}`, nativeId: key, source: 'assessment' as const, idempotencyKey: key, payload: { action: 'comment' as const, note } })), now);
    const [first, second] = await bundle.outbox.list({ status: 'pending' });
    if (first === undefined || second === undefined) throw new Error('not queued');
    // One replica took the first claim of k1 and died before writing the item; another is taking k2's right now.
    const client = await MongoClient.connect(mongoUri);
    try {
      const turns = client.db(database).collection<{ _id: string; item: string; at: Date }>('claim_turns');
      await turns.insertMany([
        { _id: `outbox:${first.id}\u00001`, item: `outbox:${first.id}`, at: new Date(now.getTime() - 31_000) },
        { _id: `outbox:${second.id}\u00001`, item: `outbox:${second.id}`, at: now },
      ]);
    } finally {
      await client.close();
    }
    const claimed = await bundle.outbox.claim(10, now);
    expect(claimed.map((i) => [i.idempotencyKey, i.attempts])).toEqual([['k1', 1]]);
  });
});

describe('MongoDB store: replicas queueing their first write-back at once', () => {
  it('gives every item a number of its own while the counter is being created by several', async () => {
    const database = freshDatabase();
    const replicas = await Promise.all([1, 2, 3].map(() => openStores({ kind: 'mongodb', uri: mongoUri, database })));
    opened.push(...replicas);
    const note = { title: 'verdict', tone: 'info' as const, lines: ['verdict'] };
    const results = await Promise.all(
      replicas.map((r, i) => r.outbox.enqueue([{ instance: 'sn', changeId: `servicenow:sn:c${i}`, nativeId: `c${i}`, source: 'assessment' as const, idempotencyKey: `k${i}`, payload: { action: 'comment' as const, note } }], new Date())),
    );
    expect(results.map((r) => r.inserted)).toEqual([['k0'], ['k1'], ['k2']]);
    expect(new Set((await replicas[0]?.outbox.list({ status: 'pending' }))?.map((i) => i.id)).size).toBe(3);
  });
});
