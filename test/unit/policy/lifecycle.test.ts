// The canonical lifecycle as a transition table, per change type.

import { describe, expect, it } from 'vitest';
import { CANONICAL_STATES, CHANGE_TYPES } from '../../../src/domain/change.ts';
import { gatedStates, isEdge, isTerminal, nextStates, reachableStates } from '../../../src/policy/lifecycle.ts';

describe('lifecycle', () => {
  it('walks a normal change through every stage', () => {
    const path = ['new', 'assess', 'authorize', 'scheduled', 'implement', 'review', 'closed'] as const;
    for (let i = 1; i < path.length; i++) expect(isEdge('normal', path[i - 1]!, path[i]!)).toBe(true);
    expect(isEdge('normal', 'assess', 'scheduled')).toBe(false); // no skipping authorisation
  });

  it('lets standard changes skip assess and authorize, and emergency changes skip only assess', () => {
    expect(nextStates('standard', 'new')).toEqual(['scheduled', 'canceled']);
    expect(nextStates('emergency', 'new')).toEqual(['authorize', 'canceled']);
    expect(isEdge('emergency', 'new', 'scheduled')).toBe(false);
    expect(reachableStates('standard')).not.toContain('assess');
    expect(reachableStates('standard')).not.toContain('authorize');
    expect(reachableStates('emergency')).not.toContain('assess');
  });

  it('gives a change standing in a state its type skips a way on, back and out (a JSM site has one workflow for every type)', () => {
    expect(nextStates('standard', 'authorize')).toEqual(['new', 'scheduled', 'canceled']);
    expect(nextStates('standard', 'assess')).toEqual(['new', 'scheduled', 'canceled']);
    expect(nextStates('emergency', 'assess')).toEqual(['new', 'authorize', 'canceled']);
    // Still no way into them.
    expect(isEdge('standard', 'new', 'authorize')).toBe(false);
    expect(isEdge('emergency', 'new', 'assess')).toBe(false);
  });

  it('allows the ServiceNow back-edges to new', () => {
    expect(isEdge('normal', 'assess', 'new')).toBe(true);
    expect(isEdge('normal', 'authorize', 'new')).toBe(true);
    expect(isEdge('emergency', 'authorize', 'new')).toBe(true);
    expect(isEdge('normal', 'scheduled', 'new')).toBe(false);
  });

  it.each(CHANGE_TYPES)('never cancels a %s change from review or closed, and lets implement and review fail', (type) => {
    expect(isEdge(type, 'review', 'canceled')).toBe(false);
    expect(isEdge(type, 'closed', 'canceled')).toBe(false);
    expect(isEdge(type, 'implement', 'failed')).toBe(true);
    expect(isEdge(type, 'review', 'failed')).toBe(true);
    expect(isEdge(type, 'scheduled', 'failed')).toBe(false);
  });

  it('has no way out of closed, canceled or failed', () => {
    expect(CANONICAL_STATES.filter(isTerminal)).toEqual(['closed', 'canceled', 'failed']);
    for (const type of CHANGE_TYPES) {
      for (const state of ['closed', 'canceled', 'failed'] as const) expect(nextStates(type, state)).toEqual([]);
    }
  });

  it('guards an edge that skips states with the skipped states’ gates too', () => {
    expect(gatedStates('new', 'scheduled')).toEqual(['assess', 'authorize', 'scheduled']);
    expect(gatedStates('new', 'authorize')).toEqual(['assess', 'authorize']);
    expect(gatedStates('authorize', 'new')).toEqual(['new']);
    expect(gatedStates('implement', 'failed')).toEqual(['failed']);
  });
});
