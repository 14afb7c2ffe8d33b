// What only the embedded change store promises: a file survives reopening,
// migrations run once, and a page that fails inside the database leaves
// nothing behind. (The contract suite runs through store-adapters.test.ts.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamItem } from '../../src/kit/connector.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteEventStore } from '../../src/store/sqlite/sqlite-event-store.ts';
import { serviceKey } from '../../src/domain/service-key.ts';
import { commitRefKey, INDEX_ONLY } from '../../src/store/change-refs.ts';
import { MIGRATIONS } from '../../src/store/sqlite/sqlite-schema.ts';
import { at as timeAt, buildApproval, buildChange, buildChanges, sysId } from '../support/change-builder.ts';
import { ci } from './event-store.contract.ts';
import { approvalFirstTimes } from '../support/approval-first-times.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-store-'));
let files = 0;
const freshFile = (): string => join(dir, `nested-${++files}`, 'dir', 'changegate.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** The schema version just before the migration whose SQL holds `text` (a file an older changegate left). */
const migrationAdding = (text: string): number => {
  const at = MIGRATIONS.findIndex((sql) => sql.includes(text));
  if (at < 0) throw new Error(`no migration holds ${text}`);
  return at;
};

/** Undoes the migration that keeps each approval's first instant (its ALTER cannot run twice). */
function rollBackApprovalFirstKeys(db: DatabaseSync): void {
  db.exec('DROP INDEX approvals_history');
  db.exec('ALTER TABLE approvals DROP COLUMN first_key');
}

/** Undoes the migration that keeps each revision's instant, and those after it (their ALTERs cannot run twice). */
function rollBackRevisionInstants(db: DatabaseSync): void {
  rollBackApprovalFirstKeys(db);
  db.exec('DROP INDEX revisions_history');
  db.exec('ALTER TABLE revisions DROP COLUMN at');
}

/** Undoes the migration that keeps when each approval first happened, and those after it (their ALTERs cannot run twice). */
function rollBackApprovalsFirstAt(db: DatabaseSync): void {
  rollBackRevisionInstants(db);
  db.exec('ALTER TABLE approvals DROP COLUMN first_at');
}

/** Undoes the migration that finds events and changes by commit bucket, and those after it (their ALTERs cannot run twice). */
function rollBackCommitBuckets(db: DatabaseSync): void {
  rollBackApprovalsFirstAt(db);
  db.exec('DROP INDEX events_by_commit_bucket');
  db.exec('ALTER TABLE events DROP COLUMN commit_bucket');
  db.exec('CREATE INDEX events_by_commit ON events (commit_sha) WHERE commit_sha IS NOT NULL');
}

describe('SqliteChangeStore on a file', () => {
  it('creates parent directories, keeps data and cursors across reopening, and migrates once', async () => {
    const path = freshFile();
    const c = buildChange();
    const first = SqliteChangeStore.open(path);
    await first.applyPage('sn-prod', 'changes', [{ kind: 'change', change: c }], { updatedAt: c.updatedAt, id: c.nativeId });
    await first.close();

    const reopened = SqliteChangeStore.open(path);
    expect((await reopened.getChange(c.id))?.change).toEqual(c);
    expect(await reopened.getCursor('sn-prod', 'changes')).toEqual({ updatedAt: c.updatedAt, id: c.nativeId });
    await reopened.close();

    const db = new DatabaseSync(path);
    expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: MIGRATIONS.length }]);
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    db.close();
  });

  it('upgrades a database written by an older schema without losing what it holds', async () => {
    const path = freshFile();
    const c = buildChange();
    const v1 = SqliteChangeStore.open(path);
    await v1.applyPage('sn-prod', 'changes', [{ kind: 'change', change: c }], null);
    await v1.close();
    // Roll the file back to schema version 1, as an older changegate left it.
    const old = new DatabaseSync(path);
    old.exec('ALTER TABLE revisions DROP COLUMN snapshot');
    old.exec('DROP TABLE change_refs');
    old.exec('DROP TABLE change_cores');
    old.exec('DROP TABLE mirror_generation');
    for (const table of ['approvals', 'journal']) for (const op of ['insert', 'update', 'delete']) old.exec(`DROP TRIGGER ${table}_${op}_generation`);
    old.exec('DROP INDEX changes_owed_assessment');
    old.exec('ALTER TABLE changes DROP COLUMN assessed_seq');
    old.exec('ALTER TABLE revisions DROP COLUMN author');
    old.exec('ALTER TABLE revisions DROP COLUMN author_recorded');
    for (const table of ['event_deliveries', 'event_bodies', 'events', 'event_change_keys', 'event_links', 'event_heartbeats', 'event_pull_state']) old.exec(`DROP TABLE ${table}`);
    rollBackApprovalsFirstAt(old);
    old.exec('UPDATE schema_version SET version = 1');
    old.close();

    const upgraded = SqliteChangeStore.open(path);
    // Nothing says it was assessed before the upgrade: the first start looks at it once.
    expect(await upgraded.listOwedAssessments({ limit: 10 })).toEqual([c.id]);
    // The neighbour index is filled for changes mirrored before it existed.
    const touching = await upgraded.listActiveChangesTouching({ instance: 'sn-prod', refs: ['payments api'], limit: 10 });
    expect(touching.map((t) => t.id)).toEqual([c.id]);
    expect((await upgraded.getChange(c.id, { withoutRaw: true }))?.change).toEqual({ ...c, raw: null });
    const v2 = buildChange({ title: 'after the upgrade', nativeRevision: 4, updatedAt: '2026-03-02T10:00:00Z' });
    await upgraded.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v2, author: { id: 'beth.anglin', name: 'Beth Anglin' } }], null);
    const revisions = await upgraded.listRevisions(c.id);
    expect(revisions.map((r) => r.seq)).toEqual([1, 2]);
    // The old revision's author was never read: the history says so instead of guessing; the new one has it.
    expect(revisions.map((r) => [r.author, r.authorUnknown])).toEqual([
      [null, 'not-recorded'],
      [{ id: 'beth.anglin', name: 'Beth Anglin' }, undefined],
    ]);
    expect(revisions[0]?.diff).toContainEqual({ path: 'title', to: c.title });
    expect(revisions[1]?.diff).toContainEqual({ path: 'title', from: c.title, to: 'after the upgrade' });
    await upgraded.close();
  });

  it('keeps an event delivery leased before claim owners were recorded: it waits out its lease, then is claimed under an owner', async () => {
    const path = freshFile();
    const t0 = Date.parse('2026-03-12T10:00:00.000Z');
    const before = SqliteEventStore.open(path);
    const { id } = await before.record({ source: 'github', kind: 'github', deliveryId: 'guid-1', receivedAt: new Date(t0).toISOString(), headers: {}, rawBody: Buffer.from('{}') });
    await before.claim(1, new Date(t0), { leaseMs: 30_000 });
    await before.close();
    // Roll the file back to the schema before the event inbox's claim owners.
    const old = new DatabaseSync(path);
    old.exec('ALTER TABLE event_deliveries DROP COLUMN claim_owner');
    rollBackCommitBuckets(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('ADD COLUMN claim_owner')}`);
    old.close();

    const upgraded = SqliteEventStore.open(path);
    const owner = { id: 'after-upgrade', host: 'host-a', pid: 7, startedAt: '2026-03-12T10:00:00.000Z' };
    expect(await upgraded.claimOwners()).toEqual([]);
    expect(await upgraded.claim(1, new Date(t0 + 29_999), { owner })).toEqual([]);
    expect((await upgraded.claim(1, new Date(t0 + 30_000), { owner })).map((d) => [d.id, d.attempts])).toEqual([[id, 2]]);
    expect(await upgraded.claimOwners()).toEqual([owner]);
    await upgraded.close();
  });

  it('finds the active changes mirrored before the index keys existed under their commits and service keys after the upgrade, and no finished one', async () => {
    const path = freshFile();
    const open = buildChange({ links: { repos: [], commits: [' 9fceb02d '], artifacts: [], pipelines: [] } });
    const closed = buildChange({ nativeId: sysId(2), key: 'CHG0030002', state: 'closed' });
    const before = SqliteChangeStore.open(path);
    await before.applyPage('sn-prod', 'changes', [{ kind: 'change', change: open }, { kind: 'change', change: closed }], null);
    await before.close();
    // Roll the file back to the schema before the index keys, as an older changegate left it.
    const old = new DatabaseSync(path);
    old.exec(`DELETE FROM change_refs WHERE day = ${INDEX_ONLY}`);
    rollBackCommitBuckets(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('changegate_index_keys')}`);
    old.close();
    const upgraded = SqliteChangeStore.open(path);
    const ids = async (key: string) => (await upgraded.listActiveChangesIndexed({ instance: 'sn-prod', keys: [key], limit: 10 })).map((c) => c.id);
    for (const key of [commitRefKey('9fceb02d'), 'service:paymentsapi', 'service:paygwcluster01', `service:${serviceKey(open.cis[0]?.id ?? '')}`]) expect(await ids(key)).toEqual([open.id]);
    // The closed change names the same services and links the same commit in full: it is not indexed.
    expect(await ids(commitRefKey('9fceb02d0ae598e95dc970b74767f19372d61af8'))).toEqual([open.id]);
    // A neighbour lookup never reads an index key.
    expect(await upgraded.listActiveChangesTouching({ instance: 'sn-prod', refs: ['commit:9fceb02d'], limit: 10 })).toEqual([]);
    await upgraded.close();
  });

  it('finds the events and the active changes stored before commit buckets by the full sha or an abbreviation after the upgrade, through the index', async () => {
    const path = freshFile();
    const full = '9fceb02d0ae598e95dc970b74767f19372d61af8';
    const open = buildChange({ links: { repos: [], commits: ['9FCEB02D0A'], artifacts: [], pipelines: [] } });
    const changes = SqliteChangeStore.open(path);
    await changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: open }], null);
    await changes.close();
    const events = SqliteEventStore.open(path);
    const { id } = await events.record({ source: 'github', kind: 'github', deliveryId: 'guid-1', receivedAt: '2026-03-12T10:00:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await events.complete(id, [ci('run-full', { commit: full }), ci('run-short', { commit: '9FCEB02' }), ci('run-other', { commit: '9fceb03d0ae598e95dc970b74767f19372d61af8' })], new Date('2026-03-12T10:00:01.000Z'));
    await events.close();
    // Roll the file back to the schema before commit buckets: events by the commit as written, and the commit keys so too.
    const old = new DatabaseSync(path);
    rollBackCommitBuckets(old);
    old.exec(`UPDATE change_refs SET ref = 'commit:9FCEB02D0A' WHERE day = ${INDEX_ONLY} AND ref LIKE 'commit:%'`);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('ADD COLUMN commit_bucket')}`);
    old.close();

    const upgradedEvents = SqliteEventStore.open(path);
    const upgradedChanges = SqliteChangeStore.open(path);
    expect((await upgradedEvents.findEvents({ commit: ' 9fceb02d0a ' })).map((e) => e.id)).toEqual(['run-full', 'run-short']);
    expect((await upgradedEvents.findEvents({ commit: full.toUpperCase() })).map((e) => e.id)).toEqual(['run-full', 'run-short']);
    expect((await upgradedEvents.findEvents({ commit: '9fceb0' })).map((e) => e.id)).toEqual([]);
    expect((await upgradedChanges.listActiveChangesIndexed({ instance: 'sn-prod', keys: [commitRefKey(full)], limit: 10 })).map((c) => c.id)).toEqual([open.id]);
    await upgradedEvents.close();
    await upgradedChanges.close();
    // The bucket's index finds a commit's events, not a scan of them all.
    const db = new DatabaseSync(path);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT e.body FROM events e WHERE e.commit_bucket = ? ORDER BY e.received_at, e.seq LIMIT ?`).all() as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan).toMatch(/SEARCH e USING INDEX events_by_commit_bucket \(commit_bucket=\?\)/);
    db.close();
  });

  it('takes an approval stored before first times were kept as first known in the version it holds, and keeps that through later versions', async () => {
    const path = freshFile();
    const c = buildChange();
    const requested = buildApproval({ id: 'apr-cab', updatedAt: timeAt(5) });
    const decided = buildApproval({ id: 'apr-mgr', state: 'approved', nativeState: 'approved', decidedAt: timeAt(4), updatedAt: timeAt(6) });
    const before = SqliteChangeStore.open(path);
    await before.applyPage('sn-prod', 'changes', [{ kind: 'change', change: c }, { kind: 'approval', changeNativeId: c.nativeId, approval: requested }, { kind: 'approval', changeNativeId: c.nativeId, approval: decided }], null);
    await before.close();
    const old = new DatabaseSync(path);
    rollBackApprovalsFirstAt(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('ADD COLUMN first_at')}`);
    old.close();

    const upgraded = SqliteChangeStore.open(path);
    expect(await approvalFirstTimes(upgraded, 'sn-prod', c.nativeId)).toEqual(new Map([['apr-cab', timeAt(5)], ['apr-mgr', timeAt(4)]]));
    const approved = { ...requested, state: 'approved' as const, nativeState: 'approved', decidedAt: timeAt(9), updatedAt: timeAt(9) };
    await upgraded.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval: approved }], null);
    expect(await approvalFirstTimes(upgraded, 'sn-prod', c.nativeId)).toEqual(new Map([['apr-cab', timeAt(5)], ['apr-mgr', timeAt(4)]]));
    await upgraded.close();
  });

  it('no longer finds an event stored before by a change key its latest version dropped, and still by those it names', async () => {
    const path = freshFile();
    const events = SqliteEventStore.open(path);
    const { id } = await events.record({ source: 'github', kind: 'github', deliveryId: 'guid-1', receivedAt: '2026-03-12T10:00:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await events.complete(id, [ci('run-1', { changeKeys: ['CHG0030002'] })], new Date('2026-03-12T10:00:01.000Z'));
    await events.close();
    // What an earlier changegate left when the run's first version named CHG0030001: its key stayed.
    const old = new DatabaseSync(path);
    old.exec(`INSERT INTO event_change_keys (key, event_id) VALUES ('CHG0030001', 'run-1')`);
    rollBackRevisionInstants(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('DELETE FROM event_change_keys')}`);
    old.close();

    const upgraded = SqliteEventStore.open(path);
    expect((await upgraded.findEvents({ changeKey: 'CHG0030001' })).map((e) => e.id)).toEqual([]);
    expect((await upgraded.findEvents({ changeKey: 'CHG0030002' })).map((e) => e.id)).toEqual(['run-1']);
    await upgraded.close();
  });

  it('finds an event stored before by a change key in any case after the upgrade, through the key index', async () => {
    const path = freshFile();
    const events = SqliteEventStore.open(path);
    const { id } = await events.record({ source: 'hooks', kind: 'generic', deliveryId: 'guid-1', receivedAt: '2026-03-12T10:00:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await events.complete(id, [ci('run-1', { changeKeys: ['chg0030001', 'CHG0030001'] }), ci('run-2', { changeKeys: ['ITSM-42'] })], new Date('2026-03-12T10:00:01.000Z'));
    await events.close();
    // What an earlier changegate left: the keys as the sender wrote them.
    const old = new DatabaseSync(path);
    old.exec('DELETE FROM event_change_keys');
    old.exec(`INSERT INTO event_change_keys (key, event_id) VALUES ('chg0030001', 'run-1'), ('CHG0030001', 'run-1'), ('ITSM-42', 'run-2')`);
    rollBackRevisionInstants(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('changegate_change_key(k.value)')}`);
    old.close();

    const upgraded = SqliteEventStore.open(path);
    for (const key of ['CHG0030001', 'chg0030001']) expect((await upgraded.findEvents({ changeKey: key })).map((e) => e.id)).toEqual(['run-1']);
    expect((await upgraded.findEvents({ changeKey: 'itsm-42' })).map((e) => e.id)).toEqual(['run-2']);
    // Its latest version naming no change finds it by no case of the key it named.
    const next = await upgraded.record({ source: 'hooks', kind: 'generic', deliveryId: 'guid-2', receivedAt: '2026-03-12T10:01:00.000Z', headers: {}, rawBody: Buffer.from('{}') });
    await upgraded.complete(next.id, [ci('run-1', { changeKeys: [] })], new Date('2026-03-12T10:01:01.000Z'));
    expect((await upgraded.findEvents({ changeKey: 'CHG0030001' })).map((e) => e.id)).toEqual([]);
    await upgraded.close();
    const db = new DatabaseSync(path);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT event_id FROM event_change_keys WHERE key = ?`).all() as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan).toMatch(/SEARCH event_change_keys USING PRIMARY KEY \(key=\?\)/);
    db.close();
  });

  it('pages the revisions stored before their instants were kept in time order, whatever precision the source sent', async () => {
    const path = freshFile();
    const c = buildChange({ updatedAt: '2026-03-02T09:00:00.500Z' });
    const before = SqliteChangeStore.open(path);
    // Stored in this order; as text `…:00Z` sorts after `…:00.500Z`, as instants it comes before it.
    for (const [n, updatedAt] of [[1, '2026-03-02T09:00:00.500Z'], [2, '2026-03-02T09:00:00Z'], [3, '2026-03-02T10:00:00+02:00']] as const) {
      await before.applyPage('sn-prod', 'changes', [{ kind: 'change', change: { ...c, nativeRevision: n, title: `v${n}`, updatedAt } }], null);
    }
    await before.close();
    const old = new DatabaseSync(path);
    rollBackRevisionInstants(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('revisions_history')}`);
    old.close();

    const upgraded = SqliteChangeStore.open(path);
    const seqs = async (order: 'asc' | 'desc', after?: { at: string; seq: number }) => (await upgraded.listRevisionsForHistory(c.id, { order, limit: 10, ...(after === undefined ? {} : { after }) })).map((r) => r.seq);
    expect(await seqs('asc')).toEqual([3, 2, 1]);
    expect(await seqs('desc')).toEqual([1, 2, 3]);
    expect(await seqs('asc', { at: '2026-03-02T09:00:00.000Z', seq: 2 })).toEqual([1]);
    await upgraded.close();
  });

  it('pages the approvals stored before their first instants were kept in time order, whatever precision the source sent', async () => {
    const path = freshFile();
    const c = buildChange();
    // As text `…:00Z` sorts after `…:00.500Z`; as instants it comes before it, and `+02:00` before both.
    const approvals = ([['apr-a', '2026-03-02T09:00:00.500Z'], ['apr-b', '2026-03-02T09:00:00Z'], ['apr-c', '2026-03-02T10:00:00+02:00']] as const).map(([id, updatedAt]) => buildApproval({ id, updatedAt }));
    const before = SqliteChangeStore.open(path);
    await before.applyPage('sn-prod', 'changes', [{ kind: 'change', change: c }, ...approvals.map((approval): StreamItem => ({ kind: 'approval', changeNativeId: c.nativeId, approval }))], null);
    await before.close();
    const old = new DatabaseSync(path);
    rollBackApprovalFirstKeys(old);
    old.exec(`UPDATE schema_version SET version = ${migrationAdding('approvals_history')}`);
    old.close();

    const upgraded = SqliteChangeStore.open(path);
    const ids = async (order: 'asc' | 'desc', after?: { firstAt: string; id: string }) =>
      (await upgraded.listApprovalsForHistory('sn-prod', c.nativeId, { order, limit: 10, ...(after === undefined ? {} : { after }) })).map((a) => [a.approval.id, a.firstAt]);
    expect(await ids('asc')).toEqual([['apr-c', '2026-03-02T10:00:00+02:00'], ['apr-b', '2026-03-02T09:00:00Z'], ['apr-a', '2026-03-02T09:00:00.500Z']]);
    expect((await ids('desc')).map(([id]) => id)).toEqual(['apr-a', 'apr-b', 'apr-c']);
    expect((await ids('asc', { firstAt: '2026-03-02T09:00:00.000Z', id: 'apr-b' })).map(([id]) => id)).toEqual(['apr-a']);
    await upgraded.close();
  });

  it('refuses a database from a newer changegate as a configuration error naming the file and both schema versions, and leaves it untouched', async () => {
    const path = freshFile();
    const c = buildChange();
    const current = SqliteChangeStore.open(path);
    await current.applyPage('sn-prod', 'changes', [{ kind: 'change', change: c }], null);
    await current.close();
    const db = new DatabaseSync(path);
    db.exec(`UPDATE schema_version SET version = ${MIGRATIONS.length + 2}`);
    db.close();
    let refused: unknown;
    try {
      SqliteChangeStore.open(path);
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({
      code: 'CG_STORE_TOO_NEW',
      kind: 'config',
      message: `store.path ${path} was written by a newer changegate (schema ${MIGRATIONS.length + 2}, this build knows ${MIGRATIONS.length}); upgrade changegate or point store.path elsewhere`,
    });
    const after = new DatabaseSync(path);
    expect(after.prepare('SELECT version FROM schema_version').get()).toEqual({ version: MIGRATIONS.length + 2 });
    expect(after.prepare('SELECT COUNT(*) AS n FROM changes').get()).toEqual({ n: 1 });
    after.close();
  });

  it('rolls back the items and the cursor of a page the database refuses midway', async () => {
    const path = freshFile();
    const store = SqliteChangeStore.open(path);
    const [a, b, c] = buildChanges(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error('builder gave fewer changes');
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: a }], { updatedAt: a.updatedAt, id: a.nativeId });

    // A trigger makes the third write of the page fail inside SQLite, after two rows were written.
    const saboteur = new DatabaseSync(path);
    saboteur.exec(`CREATE TRIGGER refuse AFTER INSERT ON changes WHEN NEW.native_id = '${sysId(3)}'
      BEGIN SELECT RAISE(ABORT, 'disk says no'); END`);
    saboteur.close();

    const page: StreamItem[] = [b, c].map((change) => ({ kind: 'change', change }));
    page.splice(1, 0, { kind: 'journal', changeNativeId: b.nativeId, entry: { id: 'j1', kind: 'comment', author: 'x', at: b.updatedAt, text: 't' } });
    const err = await store.applyPage('sn-prod', 'changes', page, { updatedAt: c.updatedAt, id: c.nativeId }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CG_STORE_FAILED', details: { instance: 'sn-prod', stream: 'changes', item: 2, ref: c.id } });
    expect(await store.getChange(b.id)).toBeNull();
    expect(await store.countChanges()).toBe(1);
    expect(await store.getCursor('sn-prod', 'changes')).toEqual({ updatedAt: a.updatedAt, id: a.nativeId });
    await store.close();
  });

  it('reports an unusable path as a store failure', () => {
    const blocker = join(dir, 'a-file');
    new DatabaseSync(blocker).close();
    expect(() => SqliteChangeStore.open(join(blocker, 'sub', 'x.db'))).toThrow(expect.objectContaining({ code: 'CG_STORE_FAILED' }));
  });
});
