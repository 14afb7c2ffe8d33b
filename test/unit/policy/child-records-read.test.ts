// The validate endpoint reads from the store only the child records (approvals,
// journal) the gates of the transition declare. A gate that read one without
// declaring it would judge an empty list there: these tests catch that by
// judging every state both ways.

import { describe, expect, it } from 'vitest';
import { CANONICAL_STATES, type MirroredChange } from '../../../src/domain/change.ts';
import { childRecordsRead, evaluateState, readsStateMoves } from '../../../src/policy/assess.ts';
import { BUILT_IN_GATES, gateInto } from '../../../src/policy/gates/gate-registry.ts';
import { loadPolicy } from '../../../src/policy/policy-config.ts';
import type { StateMove } from '../../../src/policy/state-moves.ts';
import { buildJournalEntry } from '../../support/change-builder.ts';
import { approved, context, DEFAULT_POLICY, mirrored } from './policy-fixtures.ts';

const ENDED = { actualStart: '2026-03-10T22:00:00Z', actualEnd: '2026-03-10T23:30:00Z' } as const;
const pirNote = buildJournalEntry({ text: '[PIR] Root cause: expired cert. Cancelled the retry storm.', at: '2026-03-11T09:00:00Z', author: 'cab.chair' });
const cancelNote = buildJournalEntry({ id: 'j-cancel', text: 'Canceled: vendor postponed the release.', at: '2026-03-11T09:30:00Z' });

/** Changes whose approvals or journal decide some gate: dropping them unread would change a result. */
const CHANGES: MirroredChange[] = [
  mirrored({ ...ENDED, type: 'emergency' }, { journal: [pirNote, cancelNote] }),
  mirrored({ risk: { impact: 'high', probability: 'medium', level: 'high' } }, { approvals: [approved('CAB')] }),
  mirrored({}, { approvals: [approved('Change Management', { approver: { id: 'u-req', name: 'Requester' } })], journal: [pirNote] }),
];

/** What the store returns when asked for only the children the states' gates read. */
function asRead(mc: MirroredChange, states: Parameters<typeof childRecordsRead>[1], policy = DEFAULT_POLICY): MirroredChange {
  const read = childRecordsRead(policy, states);
  return { change: mc.change, approvals: read.has('approvals') ? mc.approvals : [], journal: read.has('journal') ? mc.journal : [] };
}

describe('child records a transition reads', () => {
  it('asks for approvals into scheduled, the journal into closed and canceled, and nothing elsewhere', () => {
    expect([...childRecordsRead(DEFAULT_POLICY, ['scheduled'])]).toEqual(['approvals']);
    expect([...childRecordsRead(DEFAULT_POLICY, ['closed'])]).toEqual(['journal']);
    expect([...childRecordsRead(DEFAULT_POLICY, ['canceled'])]).toEqual(['journal']);
    expect([...childRecordsRead(DEFAULT_POLICY, ['assess', 'authorize'])]).toEqual([]);
    expect([...childRecordsRead(DEFAULT_POLICY, ['implement', 'review'])]).toEqual([]);
  });

  it('judges every state alike with only the declared children as with all of them', () => {
    const ctx = context('2026-03-12T10:00:00Z');
    for (const mc of CHANGES) {
      for (const state of CANONICAL_STATES) {
        expect(evaluateState(asRead(mc, [state]), state, ctx), `${mc.change.type} into ${state}`).toEqual(evaluateState(mc, state, ctx));
      }
    }
  });

  it('gives each gate the same result when it sees only the children it declares', () => {
    const ctx = context('2026-03-12T10:00:00Z');
    for (const mc of CHANGES) {
      for (const { id, reads = [] } of BUILT_IN_GATES) {
        const state = gateInto(id);
        const own: MirroredChange = { change: mc.change, approvals: reads.includes('approvals') ? mc.approvals : [], journal: reads.includes('journal') ? mc.journal : [] };
        const result = (m: MirroredChange) => evaluateState(m, state, ctx).find((g) => g.id === id);
        expect(result(own), `${id} on a ${mc.change.type} change`).toEqual(result(mc));
      }
    }
  });

  it('reads both for a state a custom rule guards, since CEL sees the whole change', () => {
    const custom = loadPolicy('test/fixtures/policy/custom-and-overrides.yaml');
    const guarded = [...new Set(custom.custom.map((r) => r.into))];
    expect(guarded.length).toBeGreaterThan(0);
    for (const state of guarded) expect([...childRecordsRead(custom, [state])].toSorted()).toEqual(['approvals', 'journal']);
  });
});

/** JSM-like: no actual dates, so only the revision history says when implementation began. */
const MOVES: StateMove[] = [
  { at: '2026-03-10T21:55:00Z', from: 'scheduled', to: 'implement' },
  { at: '2026-03-11T00:10:00Z', from: 'implement', to: 'review' },
];
const undated = (journal = [pirNote]) => mirrored({ type: 'emergency', state: 'review' }, { journal });

describe('state moves a change\'s gates read', () => {
  it('asks for them only where they can decide: a marked note to place and nothing on the record to place it by', () => {
    expect(readsStateMoves(undated(), DEFAULT_POLICY, ['closed'])).toBe(true);
    expect(readsStateMoves(undated([]), DEFAULT_POLICY, ['closed']), 'no note to place').toBe(false);
    expect(readsStateMoves(mirrored({ ...ENDED, type: 'emergency' }, { journal: [pirNote] }), DEFAULT_POLICY, ['closed']), 'the actual start places it').toBe(false);
    expect(readsStateMoves(mirrored({ state: 'review' }, { journal: [pirNote] }), DEFAULT_POLICY, ['closed']), 'a minor change needs no PIR').toBe(false);
    expect(readsStateMoves(undated(), DEFAULT_POLICY, ['implement', 'review']), 'no gate of these states reads them').toBe(false);
    expect(readsStateMoves(mirrored({ state: 'scheduled' }, { journal: [cancelNote] }), DEFAULT_POLICY, ['canceled'])).toBe(true);
    expect(readsStateMoves(mirrored({ state: 'scheduled', closeNotes: 'Superseded by CHG0030007.' }, { journal: [cancelNote] }), DEFAULT_POLICY, ['canceled']), 'close notes give the reason').toBe(false);
  });

  it('judges alike with and without them wherever it does not ask for them', () => {
    const changes = [...CHANGES, undated(), undated([buildJournalEntry({ text: '[PIR] to follow', at: '2026-03-10T21:00:00Z' })])];
    const bare = context('2026-03-12T10:00:00Z');
    const withMoves = context('2026-03-12T10:00:00Z', { moves: MOVES });
    for (const mc of changes) {
      for (const state of CANONICAL_STATES) {
        if (readsStateMoves(mc, DEFAULT_POLICY, [state])) continue;
        expect(evaluateState(mc, state, bare), `${mc.change.type} into ${state}`).toEqual(evaluateState(mc, state, withMoves));
      }
    }
    expect(evaluateState(undated(), 'closed', bare)).not.toEqual(evaluateState(undated(), 'closed', withMoves));
  });
});
