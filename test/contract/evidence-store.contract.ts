// The EvidenceStore contract: what every adapter (SQLite, MongoDB) must do for
// the ledger to stay one unbroken chain per change.
// store-adapters.test.ts runs it against every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import type { EvidenceDraft } from '../../src/evidence/evidence-entry.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import type { EvidenceStore } from '../../src/store/evidence-store.ts';

const A = 'servicenow:sn-prod:aaa';
const B = 'servicenow:sn-prod:bbb';
const draft = (summary: string, at = '2026-03-10T09:00:00.000Z'): EvidenceDraft => ({ kind: 'assessment', at, actor: null, source: 'changegate', summary, payload: { summary } });

export function describeEvidenceStoreContract(name: string, open: () => Promise<EvidenceStore>): void {
  describe(`EvidenceStore contract: ${name}`, () => {
    let store: EvidenceStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('chains each change apart, in append order, into a ledger that verifies', async () => {
      await store.append(A, draft('a1'), 'k1');
      await store.append(B, draft('b1'), 'k1');
      await store.append(A, draft('a2'), 'k2');
      const a = await store.list(A);
      expect(a.map((e) => [e.seq, e.summary])).toEqual([[1, 'a1'], [2, 'a2']]);
      expect(a[1]?.prevHash).toBe(a[0]?.hash);
      expect((await store.list(B)).map((e) => e.summary)).toEqual(['b1']);
      const bundle = buildBundle({ id: A, key: 'CHG0030001', instance: 'sn-prod', title: 't' }, a, '2026-03-12T00:00:00Z');
      expect(verifyBundle(JSON.parse(JSON.stringify(bundle))).ok).toBe(true);
      expect(await store.list('servicenow:sn-prod:none')).toEqual([]);
    });

    it('appends a replayed key once and returns the entry already there', async () => {
      const first = await store.append(A, draft('verdict'), 'assessment:3:abc');
      const again = await store.append(A, draft('verdict, replayed after a crash'), 'assessment:3:abc');
      expect(first.appended).toBe(true);
      expect(again).toEqual({ entry: first.entry, appended: false });
      expect(await store.list(A)).toHaveLength(1);
    });

    it('never forks a chain when appends of one change race', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.append(A, draft(`e${i}`), `k${i}`)));
      const entries = await store.list(A);
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const bundle = buildBundle({ id: A, key: 'CHG0030001', instance: 'sn-prod', title: 't' }, entries, 'x');
      expect(verifyBundle(JSON.parse(JSON.stringify(bundle))).problems).toEqual([]);
    });

    it('lists the changes with an entry in a period, for an audit sample', async () => {
      await store.append(A, draft('march', '2026-03-10T09:00:00.000Z'), 'k1');
      await store.append(B, draft('april', '2026-04-02T09:00:00.000Z'), 'k1');
      expect(await store.changesWithEntries({ since: '2026-03-01T00:00:00.000Z', until: '2026-04-01T00:00:00.000Z' })).toEqual([A]);
      expect(await store.changesWithEntries({ since: '2026-03-01T00:00:00.000Z', until: '2026-05-01T00:00:00.000Z' })).toEqual([A, B]);
      expect(await store.changesWithEntries({ since: '2026-05-01T00:00:00.000Z', until: '2026-06-01T00:00:00.000Z' })).toEqual([]);
    });
  });
}
