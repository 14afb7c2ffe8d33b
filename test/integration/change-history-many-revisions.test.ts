// A change that moved on thousands of syncs (a revision each): GET
// /v1/changes/:key/history pages through every revision to the end, in either
// order, each exactly once and in the history's order, including hundreds at
// one instant sent at different precisions (`…:00Z`, `…:00.000Z`, `+02:00`)
// that a page boundary cuts through; changegate's own reverts are told apart
// on every page; and a page reads about its limit of revisions, not all of
// them. On SQLite: the MongoDB store's part (its history pages) is held by the
// change store contract.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { compareEntries } from '../../src/assess/change-history.ts';
import type { Change } from '../../src/domain/change.ts';
import type { EnforcementRecord } from '../../src/store/assessment-store.ts';
import { openStores } from '../../src/store/open-stores.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChange } from '../support/change-builder.ts';
import { countingReads, historyServer, pageHistory, PAGINGS } from '../support/history-paging.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-history-revised-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const change = buildChange({ updatedAt: '2026-03-02T09:00:00Z' });
const other = buildChange({ nativeId: 'b'.repeat(32), key: 'CHG0030002', updatedAt: '2026-03-02T09:00:00Z' });
const REVISIONS = 3000;

/** The source's text for version `seq` (2 and up): 600 at one instant, then one a second in scrambled order; three precisions. */
function updatedAtOf(seq: number): string {
  const ms = seq <= 601 ? Date.parse('2026-03-02T10:00:00Z') : Date.parse('2026-03-02T11:00:00Z') + ((seq * 7919) % 2400) * 1000;
  const iso = new Date(ms).toISOString();
  if (seq % 3 === 0) return `${iso.slice(0, 19)}Z`;
  if (seq % 3 === 1) return iso;
  return `${new Date(ms + 2 * 3_600_000).toISOString().slice(0, 19)}+02:00`;
}

/** Enforcement of the move revision `seq` showed; `own-revert`: changegate's own move back showing up. */
function enforced(seq: number, action: EnforcementRecord['action']): EnforcementRecord {
  const own = action === 'own-revert';
  return {
    changeId: change.id,
    revision: seq,
    from: own ? 'implement' : 'scheduled',
    to: own ? 'scheduled' : 'implement',
    fromNative: own ? '-1' : '-2',
    toNative: own ? '-2' : '-1',
    mode: 'enforce',
    action,
    outcome: own ? 'recognised' : 'pending',
    reasons: own ? [] : ['latest CI run failed (implement.ci-green)'],
    policyVersion: '2026.1+abcd',
    idempotencyKey: `${change.id}@${seq}:enforce:transition`,
    observedAt: updatedAtOf(seq),
    recordedAt: new Date(Date.parse(updatedAtOf(seq)) + 5000).toISOString(),
    detail: null,
  };
}

describe('history of a change with thousands of revisions', () => {
  let stores: StoreBundle;
  let server: FastifyInstance;

  afterEach(async () => {
    await server.close();
    await stores.close();
  });

  it('pages to the end in either order, lists every revision exactly once in order, and reads about a page of them per page', async () => {
    stores = await openStores({ kind: 'sqlite', path: join(dir, 'changegate.db') });
    await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }, { kind: 'change', change: other }], null);
    const versions: Change[] = [];
    for (let seq = 2; seq <= REVISIONS; seq++) versions.push({ ...change, nativeRevision: change.nativeRevision + seq, title: `${change.title} (${seq})`, updatedAt: updatedAtOf(seq) });
    for (let i = 0; i < versions.length; i += 500) await stores.changes.applyPage('sn-prod', 'changes', versions.slice(i, i + 500).map((v) => ({ kind: 'change', change: v })), null);
    await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: { ...other, nativeRevision: other.nativeRevision + 1, title: 'other, edited', updatedAt: '2026-03-02T10:00:00Z' } }], null);
    // changegate's own reverts showing up (one at the crowded instant), and a revert it made of someone's move.
    const ownReverts = [2, 300, 700, 1500, REVISIONS];
    for (const seq of ownReverts) await stores.assessments.recordEnforcement(enforced(seq, 'own-revert'));
    await stores.assessments.recordEnforcement(enforced(699, 'revert'));

    // The order the history promises, from every revision and enforcement read whole.
    const whole = [
      ...(await stores.changes.listRevisions(change.id)).map((r) => ({ id: `revision:${String(r.seq).padStart(8, '0')}`, firstAt: r.updatedAt })),
      ...(await stores.assessments.listEnforcements(change.id)).map((e) => ({ id: `enforcement:${String(e.revision).padStart(8, '0')}`, firstAt: e.recordedAt })),
    ];
    expect(whole).toHaveLength(REVISIONS + 6);
    const changes = countingReads(stores.changes);
    server = historyServer(stores, { changes: changes.store });

    for (const [order, limit] of PAGINGS) {
      // Each page reads the page and one more to tell whether another follows: not the 3,000 the change has.
      const items = await pageHistory(server, change.key, order, limit, changes.read);
      // Every revision and enforcement once, in the history's order; none of the other change's.
      const expected = whole.toSorted((a, b) => (order === 'asc' ? compareEntries(a, b) : compareEntries(b, a))).map((e) => e.id);
      expect({ order, limit, ids: items.map((e) => e.id) }).toEqual({ order, limit, ids: expected });
      // changegate's own reverts are told apart on whichever page they fall, and only they.
      const byChangegate = items.filter((e) => e.kind === 'revision' && e.by === 'changegate').map((e) => e.seq);
      expect({ order, limit, byChangegate: byChangegate.toSorted((a, b) => (a ?? 0) - (b ?? 0)) }).toEqual({ order, limit, byChangegate: ownReverts });
    }
  }, 60_000);
});
