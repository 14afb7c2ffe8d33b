// Rebuilding a change as an earlier revision from today's record and the
// stored diffs: what `check --at` judges.

import { describe, expect, it } from 'vitest';
import { changeAsOf, changeAtRevision } from '../../src/assess/change-as-of.ts';
import type { Change } from '../../src/domain/change.ts';
import { diffChanges } from '../../src/store/change-diff.ts';
import type { Revision } from '../../src/store/change-store.ts';
import { buildApproval, buildChange } from '../support/change-builder.ts';

function revisionsOf(versions: Change[]): Revision[] {
  return versions.map((v, i) => ({
    changeId: v.id,
    seq: i + 1,
    nativeRevision: v.nativeRevision,
    updatedAt: v.updatedAt,
    observedAt: v.updatedAt,
    hash: String(i),
    diff: diffChanges(i === 0 ? null : (versions[i - 1] as Change), v),
    author: null,
    authorUnknown: 'not-named',
  }));
}

const strip = (c: Change): Change => ({ ...c, raw: null });

describe('changeAtRevision', () => {
  it('puts back changed, added and removed fields, nested ones included, so each earlier version comes back whole', () => {
    const v1 = buildChange({ state: 'assess', updatedAt: '2026-03-02T09:00:00Z', nativeRevision: 3, custom: { 'u_vendor.ref': 'A-1' } });
    const v2 = buildChange({ state: 'authorize', updatedAt: '2026-03-03T09:00:00Z', nativeRevision: 4, risk: { ...v1.risk, level: 'high' }, custom: {}, plans: { ...v1.plans, backout: null } });
    const v3 = buildChange({ state: 'scheduled', updatedAt: '2026-03-04T09:00:00Z', nativeRevision: 5, risk: { ...v1.risk, level: 'high' }, custom: { extra: 'x' }, services: [] });
    const revisions = revisionsOf([v1, v2, v3]);
    expect(changeAtRevision(v3, revisions, 3)).toEqual(strip(v3));
    expect(changeAtRevision(v3, revisions, 2)).toEqual(strip(v2));
    expect(changeAtRevision(v3, revisions, 1)).toEqual(strip(v1));
  });
});

describe('changeAsOf', () => {
  it('picks the revision current at the instant, the journal written by then and approvals as decided by then', () => {
    const v1 = buildChange({ state: 'assess', updatedAt: '2026-03-02T09:00:00Z' });
    const v2 = buildChange({ state: 'authorize', updatedAt: '2026-03-04T09:00:00Z', nativeRevision: 4 });
    const late = buildApproval({ id: 'late', state: 'approved', nativeState: 'approved', decidedAt: '2026-03-05T00:00:00Z', updatedAt: '2026-03-05T00:00:00Z' });
    const early = buildApproval({ id: 'early', state: 'rejected', nativeState: 'rejected', decidedAt: '2026-03-02T10:00:00Z', updatedAt: '2026-03-02T10:00:00Z' });
    const mc = { change: v2, approvals: [early, late], journal: [] };
    const asOf = changeAsOf(mc, revisionsOf([v1, v2]), new Date('2026-03-03T00:00:00Z'));
    expect(asOf?.revision.seq).toBe(1);
    expect(asOf?.mc.change.state).toBe('assess');
    expect(asOf?.mc.approvals.map((a) => [a.id, a.state, a.decidedAt])).toEqual([
      ['early', 'rejected', '2026-03-02T10:00:00Z'],
      ['late', 'requested', null],
    ]);
    expect(asOf?.undecided).toBe(1);
    expect(changeAsOf(mc, revisionsOf([v1, v2]), new Date('2026-03-01T00:00:00Z'))).toBeNull();
  });
});
