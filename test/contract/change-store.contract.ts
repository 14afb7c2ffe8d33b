// The ChangeStore contract: what every adapter (SQLite, MongoDB) must do, as a
// sync or an API user would notice it. Written against the port only;
// store-adapters.test.ts runs it against every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StreamCursor, StreamItem } from '../../src/kit/connector.ts';
import type { Approval, Change, JournalEntry } from '../../src/domain/change.ts';
import { ChangegateError } from '../../src/errors.ts';
import type { ApplyResult, ChangeQuery, ChangeStore, TouchingQuery } from '../../src/store/change-store.ts';
import { contentHash } from '../../src/store/content-hash.ts';
import { at, buildApproval, buildChange, buildChanges, buildJournalEntry, changeNumber, sysId } from '../support/change-builder.ts';

const I = 'sn-prod';
const S = 'changes';

const asChange = (change: Change): StreamItem => ({ kind: 'change', change });
const asApproval = (approval: Approval, changeNativeId = sysId(1)): StreamItem => ({ kind: 'approval', changeNativeId, approval });
const asJournal = (entry: JournalEntry, changeNativeId = sysId(1)): StreamItem => ({ kind: 'journal', changeNativeId, entry });
const asInvalid = (ref: string, message = `record ${ref} has no sys_updated_on`): StreamItem => ({
  kind: 'invalid',
  ref,
  error: new ChangegateError('CG_SN_RECORD_INVALID', message, { details: { ref } }),
});
const keys = (changes: Change[]): string[] => changes.map((c) => c.key);
const touchingKeys = (store: ChangeStore, refs: string[], extra: Partial<Omit<TouchingQuery, 'instance' | 'refs'>> = {}): Promise<string[]> =>
  store.listActiveChangesTouching({ instance: I, refs, limit: 100, ...extra }).then(keys);
const cursorOf = (c: Change): StreamCursor => ({ updatedAt: c.updatedAt, id: c.nativeId });
const counts = (partial: Partial<ApplyResult>): ApplyResult => ({
  changesWritten: 0,
  changesUnchanged: 0,
  changesStale: 0,
  approvalsWritten: 0,
  journalWritten: 0,
  invalid: 0,
  ...partial,
});

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
    });

    describe('getChange', () => {
      it('finds a change by canonical id or by key, ignoring the key case', async () => {
        const c = buildChange();
        await store.applyPage(I, S, [asChange(c)], null);
        expect((await store.getChange(c.id))?.change.key).toBe('CHG0030001');
        expect((await store.getChange('CHG0030001'))?.change.id).toBe(c.id);
        expect((await store.getChange('chg0030001'))?.change.id).toBe(c.id);
        expect(await store.getChange('CHG0030002')).toBeNull();
        expect(await store.getChange(`servicenow:${I}:unknown`)).toBeNull();
      });

      it('leaves the source payload out when asked, and only it', async () => {
        const c = buildChange();
        const approval = buildApproval();
        await store.applyPage(I, S, [asChange(c), asApproval(approval)], null);
        const slim = await store.getChange('chg0030001', { instance: I, withoutRaw: true });
        expect(slim).toEqual({ change: { ...c, raw: null }, approvals: [approval], journal: [] });
        expect((await store.getChange(c.id, { withoutRaw: true }))?.change).toEqual({ ...c, raw: null });
        const v2 = buildChange({ title: 'rescheduled', nativeRevision: 4, updatedAt: at(9) });
        await store.applyPage(I, S, [asChange(v2)], null);
        expect((await store.getChange(c.key, { withoutRaw: true }))?.change).toEqual({ ...v2, raw: null });
      });

      it('reads only the child records asked for, the others as empty lists', async () => {
        const c = buildChange();
        const approval = buildApproval();
        const late = buildJournalEntry({ id: 'j-late', at: at(30) });
        const early = buildJournalEntry({ id: 'j-early', at: at(2) });
        await store.applyPage(I, S, [asChange(c), asApproval(approval), asJournal(late), asJournal(early)], null);
        const read = (approvals: boolean, journal: boolean) => store.getChange(c.key, { instance: I, withoutRaw: true, children: { approvals, journal } });
        expect(await read(true, true)).toEqual({ change: { ...c, raw: null }, approvals: [approval], journal: [early, late] });
        expect(await read(true, false)).toEqual({ change: { ...c, raw: null }, approvals: [approval], journal: [] });
        expect(await read(false, true)).toEqual({ change: { ...c, raw: null }, approvals: [], journal: [early, late] });
        expect(await read(false, false)).toEqual({ change: { ...c, raw: null }, approvals: [], journal: [] });
      });

      it('resolves a key present on several instances to the most recently updated, or to the instance asked for', async () => {
        const older = buildChange({ instance: 'sn-prod', updatedAt: at(1) });
        const newer = buildChange({ instance: 'sn-test', updatedAt: at(2) });
        await store.applyPage('sn-prod', S, [asChange(older)], null);
        await store.applyPage('sn-test', S, [asChange(newer)], null);
        expect((await store.getChange('CHG0030001'))?.change.id).toBe(newer.id);
        expect((await store.getChange('CHG0030001', { instance: 'sn-prod' }))?.change.id).toBe(older.id);
        expect(await store.getChange(older.id, { instance: 'sn-test' })).toBeNull();
        expect(await store.getChange('CHG0030001', { instance: 'jsm-cloud' })).toBeNull();
      });
    });

    describe('listChanges', () => {
      it('pages through every change once, in (updatedAt, id) order, by opaque cursor', async () => {
        // Ties on updatedAt (ServiceNow has one-second resolution) are broken by id.
        const changes = [...buildChanges(5, 1), ...buildChanges(3, 10, { updatedAt: at(3) })];
        await store.applyPage(I, S, changes.toReversed().map(asChange), null);
        const expected = changes.toSorted((x, y) => (x.updatedAt === y.updatedAt ? (x.id < y.id ? -1 : 1) : x.updatedAt < y.updatedAt ? -1 : 1));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listChanges({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.items.map((c) => c.id));
          cursor = page.nextCursor ?? undefined;
          pages += 1;
        } while (cursor !== undefined && pages < 10);
        expect(seen).toEqual(expected.map((c) => c.id));
        expect(pages).toBe(3);
      });

      it('filters by system, instance, state and updatedSince (inclusive)', async () => {
        const sn = buildChanges(4, 1);
        const jira = buildChange({ system: 'jira', instance: 'jsm-cloud', nativeId: '10042', key: 'ITSM-42', state: 'implement', updatedAt: at(3) });
        await store.applyPage(I, S, sn.map(asChange), null);
        await store.applyPage('jsm-cloud', S, [asChange(jira)], null);
        const ids = async (q: Omit<ChangeQuery, 'limit'>) =>
          (await store.listChanges({ limit: 100, ...q })).items.map((c) => c.key);
        expect(await ids({ system: 'jira' })).toEqual(['ITSM-42']);
        expect(await ids({ instance: I })).toEqual(sn.map((c) => c.key));
        expect(await ids({ state: 'implement' })).toEqual(['ITSM-42']);
        expect(await ids({ updatedSince: at(3) })).toEqual(['ITSM-42', 'CHG0030003', 'CHG0030004']);
        expect(await ids({ updatedSince: at(3), instance: I, state: 'assess' })).toEqual(['CHG0030003', 'CHG0030004']);
      });

      it('clamps the limit to 1..1000', async () => {
        await store.applyPage(I, S, buildChanges(1001).map(asChange), null);
        const big = await store.listChanges({ limit: 5000 });
        expect(big.items).toHaveLength(1000);
        expect(big.nextCursor).not.toBeNull();
        const small = await store.listChanges({ limit: 0 });
        expect(small.items).toHaveLength(1);
      });

      it('rejects a cursor it did not issue as invalid input naming the field', async () => {
        for (const cursor of ['not a cursor', 'eyJmb28iOjF9', Buffer.from('{"v":1}').toString('base64url')]) {
          const err = await store.listChanges({ limit: 10, cursor }).catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field: 'cursor' } });
        }
      });
    });

    describe('listActiveChangesTouching', () => {
      const payments = { id: '26da329f0a0a0bb400f69d8159bc753d', name: 'Payments API' };
      const portal = { id: 'f1a2b3c4f1a2b3c4f1a2b3c4f1a2b3c4', name: 'Customer Portal' };
      const gateway = { id: 'b0c25d1bc0a800090168be1bfcdcd759', name: 'pay-gw-cluster-01' };
      it('finds the active changes on the instance naming a service or CI by id or name, in any case, newest first', async () => {
        const onService = buildChange({ nativeId: sysId(1), key: changeNumber(1), services: [payments], cis: [], updatedAt: at(1) });
        const onCi = buildChange({ nativeId: sysId(2), key: changeNumber(2), services: [portal], cis: [gateway], updatedAt: at(2) });
        const elsewhere = buildChange({ nativeId: sysId(3), key: changeNumber(3), services: [portal], cis: [], updatedAt: at(3) });
        const finished = (['closed', 'canceled', 'failed'] as const).map((state, i) =>
          buildChange({ nativeId: sysId(4 + i), key: changeNumber(4 + i), state, services: [payments], updatedAt: at(4 + i) }),
        );
        const otherInstance = buildChange({ instance: 'sn-test', nativeId: sysId(9), key: changeNumber(9), services: [payments] });
        await store.applyPage(I, S, [onService, onCi, elsewhere, ...finished].map(asChange), null);
        await store.applyPage('sn-test', S, [asChange(otherInstance)], null);

        expect(await touchingKeys(store, [payments.id, gateway.id])).toEqual([changeNumber(2), changeNumber(1)]);
        expect(await touchingKeys(store, ['  payments api ', 'PAY-GW-CLUSTER-01'])).toEqual([changeNumber(2), changeNumber(1)]);
        expect(await touchingKeys(store, [payments.id], { excludeId: onService.id })).toEqual([]);
        expect(await touchingKeys(store, [portal.name])).toEqual([changeNumber(3), changeNumber(2)]);
        expect(await touchingKeys(store, ['nothing-named-so', ''])).toEqual([]);
        expect(await touchingKeys(store, [])).toEqual([]);
        expect(await touchingKeys(store, [payments.id], { limit: 1 })).toEqual([changeNumber(1)]);
        const found = await store.listActiveChangesTouching({ instance: I, refs: [gateway.id], limit: 10 });
        // Without the source payload: the answer is for collision checks.
        expect(found).toEqual([{ ...onCi, raw: null }]);
      });

      it('follows each new revision: a change leaves when it closes or stops naming the service, and comes back', async () => {
        const v1 = buildChange({ services: [payments], cis: [] });
        await store.applyPage(I, S, [asChange(v1)], null);
        expect(await touchingKeys(store, [payments.id])).toEqual([changeNumber(1)]);

        const retitled = buildChange({ services: [payments], cis: [], title: 'Upgrade the gateway (retitled)', nativeRevision: 3, updatedAt: at(5) });
        await store.applyPage(I, S, [asChange(retitled)], null);
        const found = await store.listActiveChangesTouching({ instance: I, refs: [payments.name], limit: 10 });
        expect(found.map((c) => c.title)).toEqual(['Upgrade the gateway (retitled)']);

        const moved = buildChange({ services: [portal], cis: [], nativeRevision: 4, updatedAt: at(10) });
        await store.applyPage(I, S, [asChange(moved)], null);
        expect(await touchingKeys(store, [payments.id])).toEqual([]);
        expect(await touchingKeys(store, [portal.id])).toEqual([changeNumber(1)]);

        const closed = buildChange({ services: [portal], cis: [], state: 'closed', nativeRevision: 5, updatedAt: at(11) });
        await store.applyPage(I, S, [asChange(closed)], null);
        expect(await touchingKeys(store, [portal.id])).toEqual([]);

        // A late delivery of the older, active version does not bring it back.
        await store.applyPage(I, S, [asChange(moved)], null);
        expect(await touchingKeys(store, [portal.id])).toEqual([]);

        const reopened = buildChange({ services: [portal], cis: [], state: 'implement', nativeRevision: 6, updatedAt: at(12) });
        await store.applyPage(I, S, [asChange(reopened)], null);
        expect(await touchingKeys(store, [portal.id])).toEqual([changeNumber(1)]);
      });

      it('narrows to changes whose planned window overlaps the one given; windows that only touch do not overlap', async () => {
        const window = (n: number, start: string | null, end: string | null) =>
          buildChange({ nativeId: sysId(n), key: changeNumber(n), services: [payments], plannedStart: start, plannedEnd: end, updatedAt: at(n) });
        await store.applyPage(I, S, [
          window(1, '2026-03-10T21:00:00Z', '2026-03-10T22:30:00Z'),
          window(2, '2026-03-10T23:00:00.000Z', '2026-03-11T01:00:00Z'),
          window(3, '2026-03-10T20:00:00Z', '2026-03-10T22:00:00Z'),
          window(4, '2026-03-10T23:30:00Z', '2026-03-11T00:00:00Z'),
          window(5, null, null),
          window(6, '2026-03-10T21:00:00Z', null),
          // Five weeks long; and one from the evening before, across midnight.
          window(7, '2026-02-20T00:00:00Z', '2026-03-27T00:00:00Z'),
          window(8, '2026-03-09T23:00:00Z', '2026-03-10T22:30:00Z'),
          window(9, '2026-03-10T23:00:00Z', '2026-03-10T22:00:00Z'),
        ].map(asChange), null);
        const plannedOverlap = { start: '2026-03-10T22:00:00Z', end: '2026-03-10T23:30:00.000Z' };
        const overlapping = [8, 7, 2, 1].map(changeNumber);
        expect(await touchingKeys(store, [payments.id], { plannedOverlap })).toEqual(overlapping);
        const march = { start: '2026-03-01T00:00:00Z', end: '2026-03-31T00:00:00Z' };
        expect(await touchingKeys(store, [payments.name], { plannedOverlap: march })).toEqual([8, 7, 4, 3, 2, 1].map(changeNumber));
        expect(await touchingKeys(store, [payments.id], { plannedOverlap: { start: march.end, end: march.start } })).toEqual([]);
        expect(await touchingKeys(store, [payments.id])).toHaveLength(9);
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
