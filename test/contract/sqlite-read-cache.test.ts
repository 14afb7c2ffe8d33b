// The SQLite store keeps parsed changes between reads (mirror-read-cache.ts).
// What a reader must never notice: a write from another process, a write
// through the same store, an entry evicted from a small cache, or a caller that
// tries to modify a shared record. Each of these reads back what SQLite holds.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamItem } from '../../src/kit/connector.ts';
import type { Change, NeighbourChange } from '../../src/domain/change.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { at, buildApproval, buildChange, buildChanges, buildJournalEntry, changeNumber, sysId } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-read-cache-'));
let files = 0;
const freshFile = (): string => join(dir, `store-${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const asItems = (...changes: Change[]): StreamItem[] => changes.map((change) => ({ kind: 'change', change }));
const core = (c: Change): Change => ({ ...c, raw: null });
const ids = (changes: readonly Change[]): string[] => changes.map((c) => c.id);
const touchingPayments = { instance: 'sn-prod', refs: ['payments api'], limit: 10 };
/** The overlap gate's question: neighbours of the builder's window (2026-03-10 22:00–23:30) on the payments API. */
const overlappingPayments = { ...touchingPayments, plannedOverlap: { start: '2026-03-10T22:00:00Z', end: '2026-03-10T23:30:00Z' } };
const gateView = ({ id, instance, key, state, plannedStart, plannedEnd, services, cis }: NeighbourChange): NeighbourChange => ({ id, instance, key, state, plannedStart, plannedEnd, services, cis });

describe('SqliteChangeStore read cache', () => {
  it('reads what another process wrote to the same file within 100 ms: the change, its approvals and journal, its neighbours', async () => {
    const path = freshFile();
    let ms = 0;
    const service = SqliteChangeStore.open(path, { cache: { clock: () => ms } });
    const syncer = SqliteChangeStore.open(path); // a one-shot `changegate sync` beside `serve`: its own connection
    const [c, neighbour] = buildChanges(2);
    if (c === undefined || neighbour === undefined) throw new Error('builder gave fewer changes');
    await service.applyPage('sn-prod', 'changes', asItems(c, neighbour), null);

    const before = await service.getChange(c.key, { instance: 'sn-prod', withoutRaw: true });
    expect(before).toEqual({ change: core(c), approvals: [], journal: [] });
    expect(ids(await service.listActiveChangesTouching({ ...touchingPayments, excludeId: c.id }))).toEqual([neighbour.id]);

    const c2 = buildChange({ title: 'Upgrade the payments API gateway to 4.3', nativeRevision: 4, updatedAt: at(30) });
    const closed = buildChange({ ...neighbour, raw: undefined, state: 'closed', nativeRevision: 9, updatedAt: at(31) });
    const approval = buildApproval({ state: 'approved', decidedAt: at(32), updatedAt: at(32) });
    const note = buildJournalEntry({ at: at(33) });
    await syncer.applyPage('sn-prod', 'changes', asItems(c2, closed), null);
    await syncer.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval }], null);
    await syncer.applyPage('sn-prod', 'journal', [{ kind: 'journal', changeNativeId: c.nativeId, entry: note }], null);
    ms += 100;

    expect(await service.getChange(c.key, { instance: 'sn-prod', withoutRaw: true })).toEqual({ change: core(c2), approvals: [approval], journal: [note] });
    expect(await service.getChange(c.id, { withoutRaw: true, children: { approvals: true, journal: false } })).toEqual({ change: core(c2), approvals: [approval], journal: [] });
    // The closed neighbour no longer collides with anything.
    expect(await service.listActiveChangesTouching({ ...touchingPayments, excludeId: c.id })).toEqual([]);
    await syncer.close();
    await service.close();
  });

  it('reads a change written through the same store right after it was cached', async () => {
    const store = SqliteChangeStore.open(freshFile());
    const c = buildChange();
    await store.applyPage('sn-prod', 'changes', asItems(c), null);
    expect((await store.getChange(c.key, { withoutRaw: true }))?.change.state).toBe('assess');
    const authorized = buildChange({ state: 'authorize', nativeRevision: 4, updatedAt: at(10) });
    await store.applyPage('sn-prod', 'changes', asItems(authorized), null);
    expect((await store.getChange(c.key, { withoutRaw: true }))?.change).toEqual(core(authorized));
    expect(ids(await store.listActiveChangesTouching(touchingPayments))).toEqual([c.id]);
    expect((await store.listActiveChangesTouching(touchingPayments))[0]?.state).toBe('authorize');
    await store.close();
  });

  it('refuses a caller that modifies a record it was given, and the next reader still sees the stored one', async () => {
    const store = SqliteChangeStore.open(':memory:');
    const c = buildChange();
    await store.applyPage('sn-prod', 'changes', asItems(c), null);
    await store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval: buildApproval() }], null);
    const first = await store.getChange(c.id, { withoutRaw: true });
    if (first === null) throw new Error('change not found');
    expect(() => {
      first.change.title = 'changed by a careless caller';
    }).toThrow(TypeError);
    expect(() => first.change.services.push({ id: 'x', name: 'Ledger' })).toThrow(TypeError);
    expect(() => first.approvals.pop()).toThrow(TypeError);
    const second = await store.getChange(c.id, { withoutRaw: true });
    expect(second?.change).toEqual(core(c));
    expect(second?.approvals).toHaveLength(1);
    await store.close();
  });

  it('answers the same with a cache far smaller than the changes read', async () => {
    const store = SqliteChangeStore.open(':memory:', { cache: { capacity: 2 } });
    const changes = buildChanges(7);
    await store.applyPage('sn-prod', 'changes', asItems(...changes), null);
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of changes.entries()) {
        const byKey = await store.getChange(changeNumber(i + 1), { instance: 'sn-prod', withoutRaw: true });
        const byId = await store.getChange(c.id, { withoutRaw: true });
        expect(byKey?.change).toEqual(core(c));
        expect(byId?.change).toEqual(core(c));
      }
      expect(new Set(ids(await store.listActiveChangesTouching({ ...touchingPayments, excludeId: changes[0]?.id ?? '' })))).toEqual(new Set(ids(changes.slice(1))));
    }
    await store.close();
  });

  it('keeps a key on one instance apart from the same key on another', async () => {
    const store = SqliteChangeStore.open(':memory:');
    const a = buildChange({ system: 'jira', instance: 'jsm-a', nativeId: '10001', key: 'ITSM-42', title: 'On site A' });
    const b = buildChange({ system: 'jira', instance: 'jsm-b', nativeId: '10001', key: 'ITSM-42', title: 'On site B', updatedAt: at(50) });
    await store.applyPage('jsm-a', 'changes', asItems(a), null);
    await store.applyPage('jsm-b', 'changes', asItems(b), null);
    for (let round = 0; round < 2; round++) {
      expect((await store.getChange('ITSM-42', { instance: 'jsm-a', withoutRaw: true }))?.change.title).toBe('On site A');
      expect((await store.getChange('ITSM-42', { instance: 'jsm-b', withoutRaw: true }))?.change.title).toBe('On site B');
      // Without an instance, the most recently updated wins.
      expect((await store.getChange('ITSM-42', { withoutRaw: true }))?.change.title).toBe('On site B');
      // An id names its instance: the same id asked on another instance is not there.
      expect(await store.getChange(b.id, { instance: 'jsm-a', withoutRaw: true })).toBeNull();
      expect((await store.getChange(b.id, { instance: 'jsm-b', withoutRaw: true }))?.change.title).toBe('On site B');
    }
    expect(await store.getChange(sysId(99), { withoutRaw: true })).toBeNull();
    await store.close();
  });

  it('answers neighbour views as the whole changes read, after another process moves one, with views kept or not', async () => {
    const path = freshFile();
    let ms = 0;
    // A view budget smaller than one view keeps none: every answer is read again from SQLite.
    const stores = [SqliteChangeStore.open(path, { cache: { clock: () => ms } }), SqliteChangeStore.open(path, { cache: { clock: () => ms, maxViewBytes: 1 } })];
    const syncer = SqliteChangeStore.open(path);
    const [c, near, far] = buildChanges(3);
    if (c === undefined || near === undefined || far === undefined) throw new Error('builder gave fewer changes');
    await syncer.applyPage('sn-prod', 'changes', asItems(c, near, far), null);
    const ask = { ...overlappingPayments, excludeId: c.id };
    for (const store of stores) {
      const views = await store.listNeighbours(ask);
      expect(views.map(gateView)).toEqual([far, near].map(gateView));
      expect(() => views[0]?.services.push({ id: 'x', name: 'Ledger' })).toThrow(TypeError);
      expect((await store.listNeighbours(ask)).map(gateView)).toEqual([far, near].map(gateView));
    }
    // `far` moves to the next day and `near` is authorized: one no longer overlaps, the other's state is new.
    const moved = buildChange({ ...far, raw: undefined, plannedStart: '2026-03-11T22:00:00Z', plannedEnd: '2026-03-11T23:00:00Z', nativeRevision: 9, updatedAt: at(40) });
    const authorized = buildChange({ ...near, raw: undefined, state: 'authorize', nativeRevision: 9, updatedAt: at(41) });
    await syncer.applyPage('sn-prod', 'changes', asItems(moved, authorized), null);
    ms += 100;
    for (const store of stores) {
      expect((await store.listNeighbours(ask)).map(gateView)).toEqual([gateView(authorized)]);
      expect(ids(await store.listActiveChangesTouching(ask))).toEqual([authorized.id]);
      await store.close();
    }
    await syncer.close();
  });
});
