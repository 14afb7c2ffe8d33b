// The ChangeStore contract, reads: what every adapter (SQLite, MongoDB) must
// answer to the API and the policy (a change by id or key, pages of changes,
// the active changes touching a service or CI in a window).
// store-adapters.test.ts runs it against every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitRefKey } from '../../src/store/change-refs.ts';
import { APPROVAL_ID_FIRST, APPROVAL_ID_LAST, type ChangeQuery, type ChangeStore } from '../../src/store/change-store.ts';
import { instantKey } from '../../src/store/instant-key.ts';
import { at, buildApproval, buildChange, buildChanges, buildJournalEntry, changeNumber, sysId } from '../support/change-builder.ts';
import { asApproval, asChange, asJournal, I, indexedKeysOf, links, S, touchingKeys } from './change-store-items.ts';

/** `open` must return a new, empty store each time; the suite closes it after each test. */
export function describeChangeStoreReadsContract(name: string, open: () => Promise<ChangeStore>): void {
  describe(`ChangeStore contract, reads: ${name}`, () => {
    let store: ChangeStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
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

      it('reads a change for one use without keeping it, and answers such a read from a kept one', async () => {
        const c = buildChange();
        const approval = buildApproval();
        await store.applyPage(I, S, [asChange(c), asApproval(approval)], null);
        const once = { withoutRaw: true, keep: false } as const;
        const first = await store.getChange(c.id, once);
        const second = await store.getChange('CHG0030001', once);
        expect(first).toEqual({ change: { ...c, raw: null }, approvals: [approval], journal: [] });
        expect(second).toEqual(first);
        // Not kept: each such read parses its own copy.
        expect(second?.change).not.toBe(first?.change);
        const kept = await store.getChange(c.id, { withoutRaw: true });
        expect(kept).toEqual(first);
        // A kept entry answers a read for one use too.
        expect((await store.getChange(c.id, once))?.change).toBe(kept?.change);
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

    describe('listActiveChangesIndexed', () => {
      const payments = { id: '26da329f0a0a0bb400f69d8159bc753d', name: 'Payments API' };
      const portal = { id: 'f1a2b3c4f1a2b3c4f1a2b3c4f1a2b3c4', name: 'Customer Portal' };

      it('finds the active changes on the instance under a commit they link or a service key they name, newest first, and no finished one', async () => {
        const onCommit = buildChange({ nativeId: sysId(1), key: changeNumber(1), services: [portal], cis: [], links: links(' abc123 '), updatedAt: at(1) });
        const onService = buildChange({ nativeId: sysId(2), key: changeNumber(2), services: [payments], cis: [], links: links(), updatedAt: at(2) });
        const both = buildChange({ nativeId: sysId(3), key: changeNumber(3), services: [], cis: [payments], links: links('abc123'), updatedAt: at(3) });
        const finished = buildChange({ nativeId: sysId(4), key: changeNumber(4), state: 'closed', services: [payments], links: links('abc123'), updatedAt: at(4) });
        const otherInstance = buildChange({ instance: 'sn-test', nativeId: sysId(9), key: changeNumber(9), services: [payments], links: links('abc123') });
        await store.applyPage(I, S, [onCommit, onService, both, finished].map(asChange), null);
        await store.applyPage('sn-test', S, [asChange(otherInstance)], null);

        expect(await indexedKeysOf(store, ['commit:abc123'])).toEqual([changeNumber(3), changeNumber(1)]);
        expect(await indexedKeysOf(store, ['service:paymentsapi'])).toEqual([changeNumber(3), changeNumber(2)]);
        expect(await indexedKeysOf(store, [`service:${payments.id}`, 'commit:abc123'])).toEqual([changeNumber(3), changeNumber(2), changeNumber(1)]);
        expect(await indexedKeysOf(store, ['commit:abc123', 'service:paymentsapi'], 2)).toEqual([changeNumber(3), changeNumber(2)]);
        expect(await indexedKeysOf(store, ['service:customerportal'])).toEqual([changeNumber(1)]);
        expect(await indexedKeysOf(store, ['commit:abc', 'service:payments', ''])).toEqual([]);
        expect(await indexedKeysOf(store, [])).toEqual([]);
        // Without the source payload, as the neighbour lookup.
        expect(await store.listActiveChangesIndexed({ instance: I, keys: ['commit:abc123'], limit: 1 })).toEqual([{ ...both, raw: null }]);
        // A neighbour lookup never finds a change by an index key.
        expect(await touchingKeys(store, ['commit:abc123', 'service:paymentsapi'])).toEqual([]);
      });

      it('finds a change linking a full sha under the key of an abbreviation of it and the reverse, in any case', async () => {
        const full = '9fceb02d0ae598e95dc970b74767f19372d61af8';
        const linksFull = buildChange({ nativeId: sysId(1), key: changeNumber(1), services: [portal], cis: [], links: links(full), updatedAt: at(1) });
        const linksShort = buildChange({ nativeId: sysId(2), key: changeNumber(2), services: [portal], cis: [], links: links(' 9FCEB02D0A '), updatedAt: at(2) });
        const linksOther = buildChange({ nativeId: sysId(3), key: changeNumber(3), services: [portal], cis: [], links: links('0123456789abcdef'), updatedAt: at(3) });
        await store.applyPage(I, S, [linksFull, linksShort, linksOther].map(asChange), null);
        for (const commit of [full, full.toUpperCase(), '9fceb02d0a', '9fceb02']) expect(await indexedKeysOf(store, [commitRefKey(commit)])).toEqual([changeNumber(2), changeNumber(1)]);
        expect(await indexedKeysOf(store, [commitRefKey('9fceb0')])).toEqual([]);
      });

      it('follows each new revision: a change leaves when it unlinks the commit or closes', async () => {
        await store.applyPage(I, S, [asChange(buildChange({ services: [payments], links: links('abc123') }))], null);
        expect(await indexedKeysOf(store, ['commit:abc123'])).toEqual([changeNumber(1)]);
        await store.applyPage(I, S, [asChange(buildChange({ services: [payments], links: links('def456'), nativeRevision: 4, updatedAt: at(5) }))], null);
        expect(await indexedKeysOf(store, ['commit:abc123'])).toEqual([]);
        expect(await indexedKeysOf(store, ['commit:def456'])).toEqual([changeNumber(1)]);
        await store.applyPage(I, S, [asChange(buildChange({ services: [payments], links: links('def456'), state: 'canceled', nativeRevision: 5, updatedAt: at(6) }))], null);
        expect(await indexedKeysOf(store, ['commit:def456', 'service:paymentsapi'])).toEqual([]);
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

    describe('listRevisionsForHistory', () => {
      it("pages one change's revisions in the history's order (as instants, then seq) in either order, each once", async () => {
        const c = buildChange();
        // Sent at mixed precisions: as text `…:00Z` sorts after `…:00.500Z`, and `+02:00` anywhere.
        const times = ['2026-03-02T09:00:00.500Z', '2026-03-02T09:00:00Z', '2026-03-02T09:00:00.000Z', '2026-03-02T09:00:00Z', '2026-03-02T10:30:00+02:00', '2026-03-02T09:00:00.5Z', '2026-03-02T11:00:00Z'];
        for (const [i, updatedAt] of times.entries()) {
          await store.applyPage(I, S, [asChange({ ...c, nativeRevision: i + 1, title: `v${i + 1}`, updatedAt }), asChange(buildChange({ nativeId: sysId(2), key: changeNumber(2), nativeRevision: i + 1, title: `other v${i + 1}`, updatedAt }))], null);
        }
        const asc = [5, 2, 3, 4, 1, 6, 7];
        for (const order of ['asc', 'desc'] as const) {
          const seen: number[] = [];
          let after: { at: string; seq: number } | undefined;
          for (let pages = 0; pages < 10; pages++) {
            const page = await store.listRevisionsForHistory(c.id, { order, limit: 2, ...(after === undefined ? {} : { after }) });
            seen.push(...page.map((r) => r.seq));
            const last = page.at(-1);
            if (last === undefined) break;
            after = { at: instantKey(last.updatedAt), seq: last.seq };
          }
          expect({ order, seen }).toEqual({ order, seen: order === 'asc' ? asc : asc.toReversed() });
        }
        // The source's text comes back as it sent it, the first revision's diff with it.
        const [first] = await store.listRevisionsForHistory(c.id, { order: 'desc', limit: 1, after: { at: '2026-03-02T09:00:00.500Z', seq: 6 } });
        expect(first).toEqual((await store.listRevisions(c.id))[0]);
        expect(first?.updatedAt).toBe('2026-03-02T09:00:00.500Z');
        // At an instant, seq 0 takes every revision oldest first and none newest first; the largest the reverse.
        const atNine = async (order: 'asc' | 'desc', seq: number) => (await store.listRevisionsForHistory(c.id, { order, limit: 10, after: { at: '2026-03-02T09:00:00.000Z', seq } })).map((r) => r.seq);
        expect(await atNine('asc', 0)).toEqual([2, 3, 4, 1, 6, 7]);
        expect(await atNine('desc', 0)).toEqual([5]);
        expect(await atNine('asc', Number.MAX_SAFE_INTEGER)).toEqual([1, 6, 7]);
        expect(await atNine('desc', Number.MAX_SAFE_INTEGER)).toEqual([4, 3, 2, 5]);
        expect(await atNine('asc', 3)).toEqual([4, 1, 6, 7]);
        expect(await store.countRevisions(c.id)).toBe(7);
        expect(await store.countRevisions(`servicenow:${I}:unknown`)).toBe(0);
        expect(await store.listRevisionsForHistory(`servicenow:${I}:unknown`, { order: 'asc', limit: 10 })).toEqual([]);
      });
    });

    describe('listApprovalsForHistory', () => {
      it("pages one change's approvals in the history's order (first time as an instant, then id) in either order, each once, where a decision leaves them", async () => {
        const c = buildChange();
        const other = buildChange({ nativeId: sysId(2), key: changeNumber(2) });
        // Mixed precisions (`…:00Z` sorts after `…:00.500Z` as text); ids out of order at one instant.
        const firsts = [['apr-d', '2026-03-02T09:00:00Z'], ['apr-b', '2026-03-02T09:00:00.000Z'], ['apr-e', '2026-03-02T09:00:00.500Z'], ['apr-a', '2026-03-02T10:30:00+02:00'], ['apr-c', '2026-03-02T09:00:00Z']] as const;
        const approvals = firsts.map(([id, updatedAt]) => buildApproval({ id, updatedAt }));
        await store.applyPage(I, S, [asChange(c), asChange(other), ...approvals.map((a) => asApproval(a, c.nativeId)), asApproval(buildApproval({ id: 'apr-x', updatedAt: '2026-03-02T09:00:00Z' }), other.nativeId)], null);
        // Decided later: its own time moves, its place does not.
        await store.applyPage(I, S, [asApproval({ ...buildApproval({ id: 'apr-b' }), state: 'approved', nativeState: 'approved', decidedAt: '2026-03-03T08:00:00Z', updatedAt: '2026-03-03T08:00:00Z' }, c.nativeId)], null);
        const asc = ['apr-a', 'apr-b', 'apr-c', 'apr-d', 'apr-e'];
        for (const order of ['asc', 'desc'] as const) {
          const seen: string[] = [];
          let after: { firstAt: string; id: string } | undefined;
          for (let pages = 0; pages < 10; pages++) {
            const page = await store.listApprovalsForHistory(I, c.nativeId, { order, limit: 2, ...(after === undefined ? {} : { after }) });
            seen.push(...page.map((a) => a.approval.id));
            const last = page.at(-1);
            if (last === undefined) break;
            after = { firstAt: instantKey(last.firstAt), id: last.approval.id };
          }
          expect({ order, seen }).toEqual({ order, seen: order === 'asc' ? asc : asc.toReversed() });
        }
        const all = await store.listApprovalsForHistory(I, c.nativeId, { order: 'asc', limit: 10 });
        expect(all.find((a) => a.approval.id === 'apr-b')).toMatchObject({ firstAt: '2026-03-02T09:00:00.000Z', approval: { state: 'approved', decidedAt: '2026-03-03T08:00:00Z' } });
        expect(all.map((a) => a.firstAt)).toEqual(['2026-03-02T10:30:00+02:00', '2026-03-02T09:00:00.000Z', '2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z', '2026-03-02T09:00:00.500Z']);
        // At an instant, the first id bound takes every approval oldest first and none newest first; the last the reverse.
        const atNine = async (order: 'asc' | 'desc', id: string) => (await store.listApprovalsForHistory(I, c.nativeId, { order, limit: 10, after: { firstAt: '2026-03-02T09:00:00.000Z', id } })).map((a) => a.approval.id);
        expect(await atNine('asc', APPROVAL_ID_FIRST)).toEqual(['apr-b', 'apr-c', 'apr-d', 'apr-e']);
        expect(await atNine('desc', APPROVAL_ID_FIRST)).toEqual(['apr-a']);
        expect(await atNine('asc', APPROVAL_ID_LAST)).toEqual(['apr-e']);
        expect(await atNine('desc', APPROVAL_ID_LAST)).toEqual(['apr-d', 'apr-c', 'apr-b', 'apr-a']);
        expect(await atNine('asc', 'apr-c')).toEqual(['apr-d', 'apr-e']);
        expect(await store.countApprovals(I, c.nativeId)).toBe(5);
        expect(await store.countApprovals(I, 'unknown')).toBe(0);
        expect(await store.listApprovalsForHistory(I, 'unknown', { order: 'asc', limit: 10 })).toEqual([]);
      });
    });
  });
}
