// The ChangeStore contract, writes: what every adapter (SQLite, MongoDB) must do
// when a sync stores pages (changes, revisions, approvals, journal, cursors),
// and the bookkeeping of assessments owed and revision authors. The reads are in
// change-store-reads.contract.ts. store-adapters.test.ts runs both against every adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Change } from '../../src/domain/change.ts';
import { ChangegateError } from '../../src/errors.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { contentHash } from '../../src/store/content-hash.ts';
import { at, buildApproval, buildChange, buildChanges, buildJournalEntry, changeNumber, sysId } from '../support/change-builder.ts';
import { asApproval, asChange, asInvalid, asJournal, counts, cursorOf, I, S } from './change-store-items.ts';
import { approvalFirstTimes } from '../support/approval-first-times.ts';

/** `open` must return a new, empty store each time; the suite closes it after each test. */
export function describeChangeStoreContract(name: string, open: () => Promise<ChangeStore>): void {
  describe(`ChangeStore contract: ${name}`, () => {
    let store: ChangeStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('applyPage: changes and revisions', () => {
      it('mirrors a new change and records a first revision listing every field with only its new value', async () => {
        const v1 = buildChange();
        expect(await store.applyPage(I, S, [asChange(v1)], cursorOf(v1))).toEqual(counts({ changesWritten: 1 }));

        expect((await store.getChange(v1.id))?.change).toEqual(v1);
        const [rev, ...more] = await store.listRevisions(v1.id);
        expect(more).toEqual([]);
        expect(rev).toMatchObject({ changeId: v1.id, seq: 1, nativeRevision: 3, updatedAt: v1.updatedAt, hash: contentHash(v1) });
        expect(Number.isNaN(Date.parse(rev?.observedAt ?? ''))).toBe(false);
        const diff = rev?.diff ?? [];
        expect(diff.filter((d) => 'from' in d)).toEqual([]);
        expect(diff).toContainEqual({ path: 'risk.level', to: 'medium' });
        expect(diff).toContainEqual({ path: 'services', to: v1.services });
        expect(diff).toContainEqual({ path: 'raw.state.value', to: -4 });
        for (const field of Object.keys(v1)) expect(diff.some((d) => d.path === field || d.path.startsWith(`${field}.`))).toBe(true);
      });

      it('writes nothing when the same page is applied again (the overlap re-read)', async () => {
        const changes = buildChanges(3);
        const last = changes[2] as Change;
        const page = [...changes.map(asChange), asApproval(buildApproval()), asJournal(buildJournalEntry())];
        await store.applyPage(I, S, page, cursorOf(last));
        const again = await store.applyPage(I, S, page, cursorOf(last));
        expect(again).toEqual(counts({ changesUnchanged: 3 }));
        expect(await store.listRevisions((changes[0] as Change).id)).toHaveLength(1);
      });

      it('treats the same content with keys in another order as unchanged', async () => {
        const v1 = buildChange();
        await store.applyPage(I, S, [asChange(v1)], null);
        const reordered = Object.fromEntries(Object.entries(v1).toReversed()) as unknown as Change;
        reordered.risk = { level: v1.risk.level, probability: v1.risk.probability, impact: v1.risk.impact };
        expect(await store.applyPage(I, S, [asChange(reordered)], null)).toEqual(counts({ changesUnchanged: 1 }));
      });

      it('records an update as the next revision with a field-level diff against the previous one', async () => {
        const v1 = buildChange();
        const v2 = buildChange({ risk: { ...v1.risk, level: 'high' }, state: 'authorize', nativeRevision: 4, updatedAt: at(10) });
        await store.applyPage(I, S, [asChange(v1)], null);
        expect(await store.applyPage(I, S, [asChange(v2)], cursorOf(v2))).toEqual(counts({ changesWritten: 1 }));

        expect((await store.getChange(v1.id))?.change).toEqual(v2);
        const revisions = await store.listRevisions(v1.id);
        expect(revisions.map((r) => r.seq)).toEqual([1, 2]);
        const [first, second] = revisions;
        expect(second).toMatchObject({ nativeRevision: 4, updatedAt: at(10), hash: contentHash(v2) });
        const paths = second?.diff.map((d) => d.path) ?? [];
        expect(second?.diff).toContainEqual({ path: 'risk.level', from: 'medium', to: 'high' });
        expect(second?.diff).toContainEqual({ path: 'state', from: 'assess', to: 'authorize' });
        expect(second?.diff).toContainEqual({ path: 'raw.state.value', from: -4, to: -3 });
        expect(second?.diff).toContainEqual({ path: 'nativeRevision', from: 3, to: 4 });
        expect(paths).not.toContain('title');
        expect(paths).not.toContain('services');
        // Earlier revisions keep describing their own version as later ones arrive.
        const v3 = buildChange({ ...v2, title: 'Upgrade the payments API gateway to 4.2.1', nativeRevision: 5, updatedAt: at(20), raw: v2.raw });
        await store.applyPage(I, S, [asChange(v3)], cursorOf(v3));
        const [first1, second1, third] = await store.listRevisions(v1.id);
        expect(first1).toEqual(first);
        expect(second1).toEqual(second);
        expect(first?.diff).toContainEqual({ path: 'risk.level', to: 'medium' });
        expect(first?.diff).toContainEqual({ path: 'state', to: 'assess' });
        expect(first?.hash).toBe(contentHash(v1));
        expect(third?.diff).toEqual([
          { path: 'nativeRevision', from: 4, to: 5 },
          { path: 'title', from: v2.title, to: v3.title },
          { path: 'updatedAt', from: at(10), to: at(20) },
        ]);
      });

      it('lists only the revisions after a seq when asked, and gives the latest seq without the revisions', async () => {
        const v1 = buildChange();
        const v2 = buildChange({ state: 'authorize', nativeRevision: 4, updatedAt: at(10) });
        const v3 = buildChange({ ...v2, title: 'Upgrade the payments API gateway to 4.2.1', nativeRevision: 5, updatedAt: at(20) });
        expect(await store.lastRevisionSeq(v1.id)).toBe(0);
        await store.applyPage(I, S, [asChange(v1)], null);
        expect(await store.lastRevisionSeq(v1.id)).toBe(1);
        await store.applyPage(I, S, [asChange(v2), asChange(v3)], null);
        expect(await store.lastRevisionSeq(v1.id)).toBe(3);
        const all = await store.listRevisions(v1.id);
        expect(await store.listRevisions(v1.id, { after: 1 })).toEqual(all.slice(1));
        expect(await store.listRevisions(v1.id, { after: 3 })).toEqual([]);
        expect(await store.listRevisions(v1.id, { after: 0 })).toEqual(all);
      });

      it('compares arrays as whole values in a diff', async () => {
        const v1 = buildChange();
        const services = [...v1.services, { id: 'f00df00df00df00df00df00df00df00d', name: 'Card Vault' }];
        const v2 = buildChange({ services, nativeRevision: 4, updatedAt: at(1), raw: v1.raw });
        await store.applyPage(I, S, [asChange(v1), asChange(v2)], null);
        const second = (await store.listRevisions(v1.id))[1];
        expect(second?.diff.filter((d) => d.path.startsWith('services'))).toEqual([{ path: 'services', from: v1.services, to: services }]);
      });

      it('ignores an older version delivered late and never rolls a change back', async () => {
        const v5 = buildChange({ nativeRevision: 5, updatedAt: at(20), title: 'v5' });
        const v4 = buildChange({ nativeRevision: 4, updatedAt: at(10), title: 'v4' });
        const sameRevOlder = buildChange({ nativeRevision: 5, updatedAt: at(15), title: 'v5 older timestamp' });
        await store.applyPage(I, S, [asChange(v5)], null);
        expect(await store.applyPage(I, S, [asChange(v4), asChange(sameRevOlder)], null)).toEqual(counts({ changesStale: 2 }));
        expect((await store.getChange(v5.id))?.change.title).toBe('v5');
        expect(await store.listRevisions(v5.id)).toHaveLength(1);
      });

      it('orders versions by native revision before updated-at', async () => {
        const v5 = buildChange({ nativeRevision: 5, updatedAt: at(20), title: 'v5' });
        const v6 = buildChange({ nativeRevision: 6, updatedAt: at(19), title: 'v6 with a skewed clock' });
        await store.applyPage(I, S, [asChange(v5), asChange(v6)], null);
        expect((await store.getChange(v5.id))?.change.title).toBe('v6 with a skewed clock');
      });

      it('counts every outcome of a mixed page', async () => {
        const [a, b] = buildChanges(2);
        await store.applyPage(I, S, [asChange(a as Change)], null);
        const olderA = buildChange({ ...a, nativeRevision: 1, updatedAt: at(-60), raw: null });
        const page = [
          asChange(a as Change),
          asChange(b as Change),
          asChange(olderA),
          asApproval(buildApproval()),
          asJournal(buildJournalEntry()),
          asJournal(buildJournalEntry({ id: 'j2', at: at(7) })),
          asInvalid('bad1'),
        ];
        expect(await store.applyPage(I, S, page, null)).toEqual({
          changesWritten: 1,
          changesUnchanged: 1,
          changesStale: 1,
          approvalsWritten: 1,
          journalWritten: 2,
          invalid: 1,
        });
      });
    });

    describe('applyPage: approvals, journal, rejected records', () => {
      it('upserts approvals by id, skips unchanged ones and joins them to their change in updated order', async () => {
        const c = buildChange();
        const cab = buildApproval({ id: 'apr-cab', updatedAt: at(8) });
        const mgr = buildApproval({ id: 'apr-mgr', updatedAt: at(3), group: null });
        const tie = buildApproval({ id: 'apr-aaa', updatedAt: at(8) });
        await store.applyPage(I, 'approvals', [asApproval(cab), asApproval(mgr), asApproval(tie)], null);
        await store.applyPage(I, S, [asChange(c)], null);
        expect((await store.getChange(c.id))?.approvals.map((a) => a.id)).toEqual(['apr-mgr', 'apr-aaa', 'apr-cab']);

        expect(await store.applyPage(I, 'approvals', [asApproval(cab)], null)).toEqual(counts({}));
        const approved = { ...mgr, state: 'approved' as const, nativeState: 'approved', decidedAt: at(9), updatedAt: at(9) };
        expect(await store.applyPage(I, 'approvals', [asApproval(approved)], null)).toEqual(counts({ approvalsWritten: 1 }));
        const mirrored = await store.getChange(c.id);
        expect(mirrored?.approvals).toHaveLength(3);
        expect(mirrored?.approvals.at(-1)).toEqual(approved);
      });

      it('keeps when an approval was requested, and reads one stored without a request time as unknown', async () => {
        const c = buildChange();
        const asked = buildApproval({ id: 'apr-cab', requestedAt: at(2), updatedAt: at(5) });
        const unknown = buildApproval({ id: 'apr-mgr', requestedAt: null, updatedAt: at(4) });
        const older = buildApproval({ id: 'apr-old', updatedAt: at(3) });
        await store.applyPage(I, S, [asChange(c)], null);
        await store.applyPage(I, 'approvals', [asApproval(asked), asApproval(unknown), asApproval(older)], null);
        const approvals = (await store.getChange(c.id))?.approvals ?? [];
        expect(approvals.map((a) => [a.id, a.requestedAt ?? null])).toEqual([
          ['apr-old', null],
          ['apr-mgr', null],
          ['apr-cab', at(2)],
        ]);
      });

      it('never rolls an approval back: an older version delivered after a newer one is ignored', async () => {
        const c = buildChange();
        const requested = buildApproval({ id: 'apr-cab', state: 'requested', nativeState: 'requested', updatedAt: at(5) });
        const approved = { ...requested, state: 'approved' as const, nativeState: 'approved', decidedAt: at(9), updatedAt: at(9) };
        await store.applyPage(I, S, [asChange(c)], null);
        expect(await store.applyPage(I, 'approvals', [asApproval(approved)], null)).toEqual(counts({ approvalsWritten: 1 }));
        // A page re-read with the overlap, or a webhook re-fetch that raced a slower one, brings the version before the decision.
        expect(await store.applyPage(I, 'approvals', [asApproval(requested)], null)).toEqual(counts({}));
        expect((await store.getChange(c.id))?.approvals).toEqual([approved]);
        // A newer version still lands.
        const recalled = { ...approved, state: 'rejected' as const, nativeState: 'rejected', updatedAt: at(12) };
        await store.applyPage(I, 'approvals', [asApproval(recalled)], null);
        expect((await store.getChange(c.id))?.approvals).toEqual([recalled]);
      });

      it('keeps when each approval first happened (its decision, else its update) through later versions', async () => {
        const c = buildChange();
        const requested = buildApproval({ id: 'apr-cab', state: 'requested', nativeState: 'requested', updatedAt: at(5) });
        const decidedFirst = buildApproval({ id: 'apr-mgr', state: 'approved', nativeState: 'approved', decidedAt: at(4), updatedAt: at(6) });
        await store.applyPage(I, S, [asChange(c)], null);
        await store.applyPage(I, 'approvals', [asApproval(requested), asApproval(decidedFirst)], null);
        expect(await approvalFirstTimes(store, I, c.nativeId)).toEqual(new Map([['apr-cab', at(5)], ['apr-mgr', at(4)]]));
        // Commented on, then decided: the approval's own times move, its first time does not.
        const commented = { ...requested, comment: 'looking', updatedAt: at(7) };
        const approved = { ...commented, state: 'approved' as const, nativeState: 'approved', decidedAt: at(9), updatedAt: at(9) };
        await store.applyPage(I, 'approvals', [asApproval(commented)], null);
        await store.applyPage(I, 'approvals', [asApproval(approved), asApproval({ ...decidedFirst, comment: 'ok', updatedAt: at(10) })], null);
        expect((await store.getChange(c.id))?.approvals.find((a) => a.id === 'apr-cab')).toEqual(approved);
        expect(await approvalFirstTimes(store, I, c.nativeId)).toEqual(new Map([['apr-cab', at(5)], ['apr-mgr', at(4)]]));
        // Another change's approvals, and the same native change on another instance, are not this one's.
        expect(await approvalFirstTimes(store, 'sn-test', c.nativeId)).toEqual(new Map());
      });

      it('joins children by instance: the same native id on another instance is another change', async () => {
        const prod = buildChange();
        const test = buildChange({ instance: 'sn-test' });
        await store.applyPage(I, S, [asChange(prod), asApproval(buildApproval({ id: 'only-prod' }))], null);
        await store.applyPage('sn-test', S, [asChange(test), asJournal(buildJournalEntry({ id: 'only-test' }))], null);
        expect(await store.getChange(prod.id)).toMatchObject({ approvals: [{ id: 'only-prod' }], journal: [] });
        expect(await store.getChange(test.id)).toMatchObject({ approvals: [], journal: [{ id: 'only-test' }] });
      });

      it('keeps journal entries immutable and returns them in time order', async () => {
        const c = buildChange();
        const late = buildJournalEntry({ id: 'j-late', at: at(30), text: 'Switched traffic.' });
        const early = buildJournalEntry({ id: 'j-early', at: at(2), kind: 'comment', text: 'Scheduled for Tuesday.' });
        await store.applyPage(I, S, [asChange(c), asJournal(late), asJournal(early)], null);
        const edited = { ...late, text: 'edited afterwards' };
        expect(await store.applyPage(I, 'journal', [asJournal(edited)], null)).toEqual(counts({}));
        expect((await store.getChange(c.id))?.journal).toEqual([early, late]);
      });

      it('records invalid records with first and last sighting, and forgets them once the record maps', async () => {
        const first = await store.applyPage(I, S, [asInvalid(sysId(7), 'no sys_updated_on')], null);
        expect(first).toEqual(counts({ invalid: 1 }));
        const [seen] = await store.listRejected(I);
        expect(seen).toMatchObject({ instance: I, stream: S, ref: sysId(7), code: 'CG_SN_RECORD_INVALID', message: 'no sys_updated_on' });
        await store.applyPage(I, S, [asInvalid(sysId(7), 'state "9" is not mapped')], null);
        const [again, ...others] = await store.listRejected();
        expect(others).toEqual([]);
        expect(again).toMatchObject({ message: 'state "9" is not mapped', firstSeen: seen?.firstSeen });
        expect((again?.lastSeen ?? '') >= (seen?.lastSeen ?? '')).toBe(true);
        expect(await store.listRejected('sn-test')).toEqual([]);

        await store.applyPage(I, S, [asChange(buildChange({ nativeId: sysId(7), key: changeNumber(7) }))], null);
        expect(await store.listRejected(I)).toEqual([]);
      });
    });

    describe('applyPage: cursors and atomicity', () => {
      it('saves the cursor with the page, per instance and stream, and keeps it on a page without one', async () => {
        const [a, b] = buildChanges(2);
        await store.applyPage(I, S, [asChange(a as Change)], cursorOf(a as Change));
        await store.applyPage(I, S, [asChange(b as Change)], cursorOf(b as Change));
        await store.applyPage(I, S, [], null);
        expect(await store.getCursor(I, S)).toEqual(cursorOf(b as Change));
        expect(await store.getCursor(I, 'approvals')).toBeNull();
        expect(await store.getCursor('sn-test', S)).toBeNull();
      });

      it('forgets only the given instance cursors on reset and keeps the mirrored data', async () => {
        const c = buildChange();
        await store.applyPage(I, S, [asChange(c)], cursorOf(c));
        await store.applyPage(I, 'approvals', [], { updatedAt: at(1), id: 'x' });
        await store.applyPage('sn-test', S, [], { updatedAt: at(2), id: 'y' });
        await store.resetCursors(I);
        expect(await store.getCursor(I, S)).toBeNull();
        expect(await store.getCursor(I, 'approvals')).toBeNull();
        expect(await store.getCursor('sn-test', S)).toEqual({ updatedAt: at(2), id: 'y' });
        expect(await store.countChanges(I)).toBe(1);
      });

      it('stores nothing of a page, cursor included, when one item cannot be stored', async () => {
        const [a, b, c] = buildChanges(3);
        await store.applyPage(I, S, [asChange(a as Change)], cursorOf(a as Change));
        const circular: Record<string, unknown> = { sys_id: 'loop' };
        circular['self'] = circular;
        const broken = buildChange({ nativeId: sysId(9), key: changeNumber(9), raw: circular });
        const page = [asChange(b as Change), asApproval(buildApproval()), asChange(broken), asChange(c as Change)];
        const failure = await store.applyPage(I, S, page, cursorOf(c as Change)).catch((err: unknown) => err);
        expect(failure).toBeInstanceOf(ChangegateError);
        expect(failure).toMatchObject({ code: 'CG_STORE_FAILED' });
        expect(await store.getChange((b as Change).id)).toBeNull();
        expect(await store.countChanges()).toBe(1);
        expect(await store.getCursor(I, S)).toEqual(cursorOf(a as Change));

        // The store carries on after a failed page.
        expect(await store.applyPage(I, S, [asChange(b as Change)], cursorOf(b as Change))).toEqual(counts({ changesWritten: 1 }));
        expect(await store.getCursor(I, S)).toEqual(cursorOf(b as Change));
      });

      it('records when each instance last synced, never moving it back, beside its fences', async () => {
        expect(await store.lastSyncSucceeded(I)).toBeNull();
        await store.applyPage(I, S, [], { updatedAt: at(1), id: 'x' }, { fence: 4 });
        await store.noteSyncSucceeded(I, new Date(at(10)));
        await store.noteSyncSucceeded(I, new Date(at(5)));
        await store.noteSyncSucceeded('sn-test', new Date(at(7)));
        expect(await store.lastSyncSucceeded(I)).toEqual(new Date(at(10)));
        expect(await store.lastSyncSucceeded('sn-test')).toEqual(new Date(at(7)));
        // The fence is kept: an older one is still refused, a newer one taken.
        await expect(store.applyPage(I, S, [], { updatedAt: at(2), id: 'y' }, { fence: 3 })).rejects.toMatchObject({ code: 'CG_LEASE_LOST' });
        await store.applyPage('sn-test', S, [], { updatedAt: at(2), id: 'y' }, { fence: 1 });
        expect(await store.getCursor('sn-test', S)).toEqual({ updatedAt: at(2), id: 'y' });
      });

      it('refuses a page written under a lease fence older than one the instance was written under, storing none of it', async () => {
        const [a, b, c] = buildChanges(3);
        await store.applyPage(I, S, [asChange(a as Change)], cursorOf(a as Change), { fence: 1 });
        // A newer holder (fence 2) writes; the paused holder of fence 1 wakes and writes its next page.
        await store.applyPage(I, S, [asChange(b as Change)], cursorOf(b as Change), { fence: 2 });
        const refused = await store.applyPage(I, S, [asChange(c as Change)], cursorOf(c as Change), { fence: 1 }).catch((err: unknown) => err);
        expect(refused).toBeInstanceOf(ChangegateError);
        expect(refused).toMatchObject({ code: 'CG_LEASE_LOST', details: { instance: I, fence: 1 } });
        expect(await store.getChange((c as Change).id)).toBeNull();
        expect(await store.getCursor(I, S)).toEqual(cursorOf(b as Change));
        // The holder of fence 2 carries on, a later one takes over, and other instances have fences of their own.
        expect(await store.applyPage(I, S, [asChange(c as Change)], cursorOf(c as Change), { fence: 2 })).toEqual(counts({ changesWritten: 1 }));
        await store.applyPage(I, 'approvals', [], { updatedAt: at(1), id: 'x' }, { fence: 3 });
        await expect(store.applyPage(I, S, [], cursorOf(a as Change), { fence: 2 })).rejects.toMatchObject({ code: 'CG_LEASE_LOST' });
        await store.applyPage('sn-test', S, [], { updatedAt: at(2), id: 'y' }, { fence: 1 });
        expect(await store.getCursor('sn-test', S)).toEqual({ updatedAt: at(2), id: 'y' });
        expect(await store.getCursor(I, S)).toEqual(cursorOf(c as Change));
      });
    });

    describe('assessments owed', () => {
      it('owes an assessment for each change whose latest revision was not noted as assessed, by id, in batches', async () => {
        const [a, b, c] = buildChanges(3);
        if (a === undefined || b === undefined || c === undefined) throw new Error('builder gave fewer changes');
        await store.applyPage(I, S, [a, b, c].map(asChange), null);
        expect(await store.listOwedAssessments({ limit: 10 })).toEqual([a.id, b.id, c.id].toSorted());
        await store.noteAssessed(b.id, 1);
        const owed = [a.id, c.id].toSorted();
        expect(await store.listOwedAssessments({ limit: 10 })).toEqual(owed);
        expect(await store.listOwedAssessments({ limit: 1 })).toEqual(owed.slice(0, 1));
        expect(await store.listOwedAssessments({ limit: 10, after: owed[0] as string })).toEqual(owed.slice(1));

        // A new revision of an assessed change is owed again, until noted.
        await store.applyPage(I, S, [asChange({ ...b, title: 'moved on', nativeRevision: b.nativeRevision + 1, updatedAt: at(30) })], null);
        expect(await store.listOwedAssessments({ limit: 10 })).toContain(b.id);
        await store.noteAssessed(b.id, 2);
        expect(await store.listOwedAssessments({ limit: 10 })).not.toContain(b.id);
      });

      it('owes an assessment again for a change whose approval or note a page stored, not for one it stored unchanged', async () => {
        const [a, b, c] = buildChanges(3);
        if (a === undefined || b === undefined || c === undefined) throw new Error('builder gave fewer changes');
        await store.applyPage(I, S, [a, b, c].map(asChange), null);
        for (const change of [a, b, c]) await store.noteAssessed(change.id, 1);
        const approval = buildApproval({ id: 'apr-cab', updatedAt: at(8) });
        const entry = buildJournalEntry({ id: 'j-1', at: at(9) });
        // A child of a change the mirror does not hold owes nothing.
        await store.applyPage(I, 'approvals', [asApproval(approval, a.nativeId), asApproval(buildApproval({ id: 'apr-x', updatedAt: at(8) }), sysId(99))], null);
        await store.applyPage(I, 'journal', [asJournal(entry, b.nativeId)], null);
        expect(await store.listOwedAssessments({ limit: 10 })).toEqual([a.id, b.id].toSorted());
        await store.noteAssessed(a.id, 1);
        await store.noteAssessed(b.id, 1);
        // Re-read unchanged (an overlap): nothing is owed.
        await store.applyPage(I, 'approvals', [asApproval(approval, a.nativeId)], null);
        await store.applyPage(I, 'journal', [asJournal(entry, b.nativeId)], null);
        expect(await store.listOwedAssessments({ limit: 10 })).toEqual([]);
      });

      it("lists one instance's owed changes when asked", async () => {
        const ours = buildChange();
        const theirs = buildChange({ instance: 'sn-dev', nativeId: sysId(2), key: changeNumber(2) });
        await store.applyPage(I, S, [asChange(ours)], null);
        await store.applyPage('sn-dev', S, [asChange(theirs)], null);
        expect(await store.listOwedAssessments({ instance: I, limit: 10 })).toEqual([ours.id]);
        expect(await store.listOwedAssessments({ instance: 'sn-dev', limit: 10 })).toEqual([theirs.id]);
        expect(await store.listOwedAssessments({ limit: 10 })).toEqual([ours.id, theirs.id].toSorted());
      });

      it("refuses a note taken as of a version its instance's mirror has moved past: the page stored meanwhile is owed", async () => {
        const [c, other] = buildChanges(2);
        if (c === undefined || other === undefined) throw new Error('builder gave fewer changes');
        await store.applyPage(I, S, [asChange(c)], null);
        const read = await store.mirrorVersion(I);
        // While the assessment runs: a note of the change lands, and another instance's change.
        await store.applyPage(I, 'journal', [asJournal(buildJournalEntry({ id: 'j-under', at: at(9) }), c.nativeId)], null);
        await store.applyPage('sn-dev', S, [asChange({ ...other, instance: 'sn-dev', id: `servicenow:sn-dev:${other.nativeId}` })], null);
        expect(await store.mirrorVersion(I)).not.toBe(read);
        await store.noteAssessed(c.id, 1, read);
        expect(await store.listOwedAssessments({ instance: I, limit: 10 })).toEqual([c.id]);
        // Looked at again as of the version now: noted. Another instance's writes do not hold it back.
        const now = await store.mirrorVersion(I);
        await store.applyPage('sn-dev', S, [asChange({ ...other, instance: 'sn-dev', id: `servicenow:sn-dev:${other.nativeId}`, title: 'moved', nativeRevision: other.nativeRevision + 1, updatedAt: at(20) })], null);
        await store.noteAssessed(c.id, 1, now);
        expect(await store.listOwedAssessments({ instance: I, limit: 10 })).toEqual([]);
        // A new revision moves the version too.
        const before = await store.mirrorVersion(I);
        await store.applyPage(I, S, [asChange({ ...c, title: 'second', nativeRevision: c.nativeRevision + 1, updatedAt: at(30) })], null);
        await store.noteAssessed(c.id, 2, before);
        expect(await store.listOwedAssessments({ instance: I, limit: 10 })).toEqual([c.id]);
      });

      it('never moves the noted revision back, and leaves unchanged re-reads and unknown ids alone', async () => {
        const c = buildChange();
        await store.applyPage(I, S, [asChange(c)], null);
        await store.applyPage(I, S, [asChange({ ...c, title: 'second', nativeRevision: c.nativeRevision + 1, updatedAt: at(5) })], null);
        await store.noteAssessed(c.id, 2);
        await store.noteAssessed(c.id, 1);
        await store.noteAssessed('servicenow:sn-prod:nope', 3);
        await store.applyPage(I, S, [asChange({ ...c, title: 'second', nativeRevision: c.nativeRevision + 1, updatedAt: at(5) })], null);
        expect(await store.listOwedAssessments({ limit: 10 })).toEqual([]);
      });
    });

    describe('revision authors', () => {
      it('keeps who made each version, and says when the source named nobody', async () => {
        const v1 = buildChange();
        const v2 = buildChange({ title: 'second', nativeRevision: 4, updatedAt: at(1) });
        const v3 = buildChange({ title: 'third', nativeRevision: 5, updatedAt: at(2) });
        await store.applyPage(I, S, [{ kind: 'change', change: v1, author: { id: 'abel.tuter', name: 'Abel Tuter' } }], null);
        await store.applyPage(I, S, [{ kind: 'change', change: v2, author: { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Mia Krystof', email: 'mia@example.com' } }], null);
        await store.applyPage(I, S, [asChange(v3)], null);
        const revisions = await store.listRevisions(v1.id);
        expect(revisions.map((r) => ({ seq: r.seq, author: r.author, why: r.authorUnknown }))).toEqual([
          { seq: 1, author: { id: 'abel.tuter', name: 'Abel Tuter' }, why: undefined },
          { seq: 2, author: { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Mia Krystof', email: 'mia@example.com' }, why: undefined },
          { seq: 3, author: null, why: 'not-named' },
        ]);
      });

      it('does not let a stale or unchanged version rewrite the author of the one it holds', async () => {
        const v2 = buildChange({ title: 'second', nativeRevision: 4, updatedAt: at(1) });
        await store.applyPage(I, S, [{ kind: 'change', change: v2, author: { id: 'beth.anglin', name: 'Beth Anglin' } }], null);
        await store.applyPage(I, S, [{ kind: 'change', change: v2, author: { id: 'changegate.integration', name: null } }], null);
        await store.applyPage(I, S, [{ kind: 'change', change: buildChange(), author: { id: 'someone.else', name: null } }], null);
        expect((await store.listRevisions(v2.id)).map((r) => r.author)).toEqual([{ id: 'beth.anglin', name: 'Beth Anglin' }]);
      });
    });

    describe('revisions and counts', () => {
      it('lists no revisions for an unknown change and counts changes per instance', async () => {
        await store.applyPage(I, S, buildChanges(3).map(asChange), null);
        await store.applyPage('sn-test', S, [asChange(buildChange({ instance: 'sn-test' }))], null);
        expect(await store.listRevisions('servicenow:sn-prod:nope')).toEqual([]);
        expect(await store.countChanges()).toBe(4);
        expect(await store.countChanges(I)).toBe(3);
        expect(await store.countChanges('jsm-cloud')).toBe(0);
      });
    });
  });
}
