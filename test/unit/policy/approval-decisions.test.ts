// Approvals at their edges: whose approval counts (groups matched by name in any
// case, approvals without a group or without names), what a cancelled request
// means, changes with nobody named, and a verdict text that does not depend on
// the order the ITSM listed the approvals in (the note's digest is made of it).

import { describe, expect, it } from 'vitest';
import { approved, context, gate, mirrored } from './policy-fixtures.ts';

const ctx = context('2026-03-05T10:00:00Z');
const beth = { id: 'u-beth', name: 'Beth Anglin' };
const omar = { id: 'u-omar', name: 'Omar Ops' };

describe('whose approval counts', () => {
  it('matches the approving group by name whatever its case', () => {
    const found = gate('scheduled.approvals', mirrored({}, { approvals: [approved('CHANGE MANAGEMENT')] }), ctx);
    expect(found.result).toBe('pass');
  });

  it('does not count, and does not trip over, an approval without a group or a group without a name', () => {
    const noGroup = approved('x', { id: 'a1', group: null, approver: beth });
    const unnamed = approved('x', { id: 'a2', group: { id: 'grp-7', name: null }, approver: omar });
    const found = gate('scheduled.approvals', mirrored({}, { approvals: [noGroup, unnamed] }), ctx);
    expect(found.result).toBe('fail');
    expect(found.reason).toMatch(/^no change manager approval recorded/);
  });

  it('treats a cancelled request from the right group as no approval, not as one still awaited', () => {
    const cancelled = approved('Change Management', { state: 'cancelled', decidedAt: null });
    expect(gate('scheduled.approvals', mirrored({}, { approvals: [cancelled] }), ctx)).toMatchObject({ result: 'fail', reason: expect.stringMatching(/^no change manager approval recorded/) });
  });

  it('names the approvers in one order whatever order the approvals arrive in', () => {
    const a = approved('Change Management', { id: 'a-1', approver: beth });
    const b = approved('Change Management', { id: 'b-2', approver: omar });
    const c = approved('Change Management', { id: 'c-3', approver: { id: 'u-cy', name: 'Cy Cab' } });
    const one = gate('scheduled.approvals', mirrored({}, { approvals: [c, a, b] }), ctx);
    const two = gate('scheduled.approvals', mirrored({}, { approvals: [b, c, a] }), ctx);
    expect(one.reason).toMatch(/^approved by Beth Anglin, Omar Ops and Cy Cab /);
    expect(two).toEqual(one);
  });
});

describe('separation of duties when people are missing', () => {
  it('passes a change that names neither requester nor assignee', () => {
    const found = gate('scheduled.separation-of-duties', mirrored({ requester: null, assignee: null }, { approvals: [approved('CAB', { approver: beth })] }), ctx);
    expect(found.result).toBe('pass');
  });

  it('lists conflicts in one order whatever order the approvals arrive in', () => {
    const change = { requester: beth, assignee: omar };
    const x = approved('CAB', { id: 'a-1', approver: omar });
    const y = approved('CAB', { id: 'b-2', approver: beth });
    const one = gate('scheduled.separation-of-duties', mirrored(change, { approvals: [y, x] }), ctx);
    expect(one.reason).toBe('separation of duties: Omar Ops approved the change and is also its assignee who implements it; Beth Anglin approved the change and is also its requester');
    expect(gate('scheduled.separation-of-duties', mirrored(change, { approvals: [x, y] }), ctx)).toEqual(one);
  });
});
