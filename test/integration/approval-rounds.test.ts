// scheduled.approvals over approval rounds, as a change manager meets it: the
// assessment on the ticket, reactive enforcement of a move and the answer of
// POST /v1/validate, over the real SQLite store and the default policy. In
// ServiceNow a rejection sends the change back to New and a later pass through
// Assess/Authorize requests a new round of approvals; whether the rejected row
// stays `rejected` or turns `cancelled` is not documented, so both are mirrored
// here. A rejection counts only until a later round begins; the round judged is
// the latest, and its reason still names the earlier rejection.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GateResult } from '../../src/domain/assessment.ts';
import type { Approval, Change } from '../../src/domain/change.ts';
import { buildApproval } from '../support/change-builder.ts';
import { runnerWorld, type RunnerWorld } from '../support/runner-world.ts';

const day = (time: string) => `2026-03-02T${time}:00Z`;

let world: RunnerWorld;
beforeEach(() => {
  world = runnerWorld({ now: new Date('2026-03-02T18:00:00Z'), mode: 'advisory' });
});
afterEach(() => world.close());

/** Mirrors one version of the change as a sync would: the record at `updatedAt`, with the approval rows as they were then. */
function mirror(updatedAt: string, state: Change['state'], approvals: Approval[] = []): Promise<Change> {
  return world.mirror({ updatedAt, state }, [], approvals);
}

const sam = { id: 'a9826bf03710200044e0bfc8bcbe5d7a', name: 'Sam Skeptic' };
const beth = { id: '46d44a23a9fe19810012d100cca80666', name: 'Beth Anglin' };
const firstRow = (overrides: Partial<Approval>) => buildApproval({ id: 'r1', approver: sam, updatedAt: day('09:30'), ...overrides });
const secondRow = (overrides: Partial<Approval>) => buildApproval({ id: 'r2', approver: beth, updatedAt: day('11:30'), ...overrides });
const decided = (state: 'approved' | 'rejected', at: string): Partial<Approval> => ({ state, nativeState: state, decidedAt: at, updatedAt: at });

/** How ServiceNow leaves the first round's rejected row once a new round is requested: UNVERIFIED, so both. */
const OLD_ROW_SHAPES = {
  'kept as rejected': (): Approval => firstRow(decided('rejected', day('10:00'))),
  'turned cancelled': (): Approval => firstRow({ state: 'cancelled', nativeState: 'cancelled', updatedAt: day('11:30') }),
};

/**
 * A normal change rejected by Sam for the CAB in Authorize at 10:00 (back to New, as ServiceNow does), sent
 * through Assess and Authorize again, where Beth is asked at 11:30 and decides at 12:00.
 */
async function rejectedThenRound2(oldRow: () => Approval, second: 'approved' | 'rejected'): Promise<Change> {
  await mirror(day('09:00'), 'assess');
  await mirror(day('09:30'), 'authorize', [firstRow({})]);
  await mirror(day('10:00'), 'new', [firstRow(decided('rejected', day('10:00')))]);
  await mirror(day('11:00'), 'assess');
  await mirror(day('11:30'), 'authorize', [oldRow(), secondRow({})]);
  return mirror(day('12:00'), 'authorize', [secondRow(decided(second, day('12:00')))]);
}

async function gateOnTicket(changeId: string): Promise<GateResult | undefined> {
  const run = await world.runner().assessChange(changeId);
  return run.assessment?.gates.find((g) => g.id === 'scheduled.approvals');
}

describe('scheduled.approvals: a rejection counts only until a later round begins', () => {
  it('passes a change the CAB rejected and then approved in a new round, naming the earlier rejection (the old row kept as rejected)', async () => {
    const change = await rejectedThenRound2(OLD_ROW_SHAPES['kept as rejected'], 'approved');
    const gate = await gateOnTicket(change.id);
    expect(gate?.result).toBe('pass');
    expect(gate?.reason).toBe('approved by Beth Anglin (CAB Approval) at 2026-03-02 12:00 UTC in the current round; rejected by Sam Skeptic at 2026-03-02 10:00 UTC in an earlier round');
    expect(gate?.evidence.map((e) => e.ref)).toEqual(['r2', 'r1']);
  });

  it('passes a change the CAB rejected and then approved in a new round (the old row turned cancelled)', async () => {
    const change = await rejectedThenRound2(OLD_ROW_SHAPES['turned cancelled'], 'approved');
    expect(await gateOnTicket(change.id)).toMatchObject({ result: 'pass', reason: 'approved by Beth Anglin (CAB Approval) at 2026-03-02 12:00 UTC' });
  });

  it.each(Object.entries(OLD_ROW_SHAPES))('still fails a change the CAB rejected again in the current round (the old row %s)', async (_shape, oldRow) => {
    const change = await rejectedThenRound2(oldRow, 'rejected');
    const gate = await gateOnTicket(change.id);
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toMatch(/^rejected by Beth Anglin \(change manager\); minor changes need change manager approval/);
  });

  it('does not take an approval the CAB gave in the round it then rejected the change in', async () => {
    await mirror(day('09:00'), 'assess');
    await mirror(day('09:30'), 'authorize', [firstRow({}), secondRow({ updatedAt: day('09:30') })]);
    const change = await mirror(day('10:00'), 'authorize', [secondRow(decided('approved', day('09:45'))), firstRow(decided('rejected', day('10:00')))]);
    const gate = await gateOnTicket(change.id);
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toMatch(/^rejected by Sam Skeptic \(change manager\)/);
  });

  it('lets the move to Scheduled after the new round pass reactive enforcement', async () => {
    const change = await rejectedThenRound2(OLD_ROW_SHAPES['kept as rejected'], 'approved');
    const r = world.runner();
    await r.assessChange(change.id);
    await mirror(day('12:30'), 'scheduled');
    const run = await r.assessChange(change.id);
    expect(run.enforcements).toEqual([]);
    expect(run.assessment?.violations.map((v) => v.gate)).not.toContain('scheduled.approvals');
  });

  it('judges a move to Scheduled replayed at its time on the round as it stood then: waiting for the new round, not rejected', async () => {
    await mirror(day('09:00'), 'assess');
    await mirror(day('09:30'), 'authorize', [firstRow({})]);
    await mirror(day('10:00'), 'new', [firstRow(decided('rejected', day('10:00')))]);
    await mirror(day('11:00'), 'assess');
    const change = await mirror(day('11:30'), 'authorize', [secondRow({})]);
    const r = world.runner();
    await r.assessChange(change.id);
    // Moved at 11:45; the sync sees the move only with Beth's approval of 12:00.
    await mirror(day('11:45'), 'scheduled');
    await mirror(day('12:00'), 'scheduled', [secondRow(decided('approved', day('12:00')))]);
    const run = await r.assessChange(change.id);
    expect(run.enforcements).toMatchObject([
      { from: 'authorize', to: 'scheduled', reasons: ['waiting for change manager approval (1 approval requested); rejected by Sam Skeptic at 2026-03-02 10:00 UTC in an earlier round (scheduled.approvals, pending)'] },
    ]);
  });
});

describe('POST /v1/validate over approval rounds', () => {
  it('allows Scheduled when the new round is seen only in its approval rows (the mirror saw no move back through New)', async () => {
    await mirror(day('09:30'), 'authorize', [firstRow({})]);
    await mirror(day('10:00'), 'authorize', [firstRow(decided('rejected', day('10:00')))]);
    await mirror(day('12:00'), 'authorize', [secondRow(decided('approved', day('12:00')))]);
    expect(await world.validate('authorize', 'scheduled')).toMatchObject({ allow: true });
  });

  it('refuses Scheduled while the rejection is the latest word of the CAB', async () => {
    await mirror(day('09:30'), 'authorize', [firstRow({}), secondRow({ updatedAt: day('09:30') })]);
    await mirror(day('10:00'), 'authorize', [firstRow(decided('rejected', day('10:00')))]);
    const answer = await world.validate('authorize', 'scheduled');
    expect(answer.allow).toBe(false);
    expect(answer.reasons.join('\n')).toMatch(/rejected by Sam Skeptic/);
  });
});

describe('approvals dated by when they were requested (ServiceNow sys_created_on, JSM createdDate)', () => {
  it('keeps a rejection when the only later sign of a round is a request of the rejected one, updated after it', async () => {
    await mirror(day('09:30'), 'authorize', [firstRow({ requestedAt: day('09:30') }), secondRow({ updatedAt: day('09:30'), requestedAt: day('09:30') })]);
    // Beth's request of that round stays open and is touched again at 10:30 (a reminder): no new round was asked for.
    const change = await mirror(day('10:30'), 'authorize', [firstRow({ ...decided('rejected', day('10:00')), requestedAt: day('09:30') }), secondRow({ updatedAt: day('10:30'), requestedAt: day('09:30') })]);
    const gate = await gateOnTicket(change.id);
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toMatch(/^rejected by Sam Skeptic \(change manager\)/);
  });

  it('judges a move to Scheduled on the approvals asked for by then: one requested after it was not waited for', async () => {
    await mirror(day('09:00'), 'assess');
    const change = await mirror(day('10:00'), 'authorize');
    const r = world.runner();
    await r.assessChange(change.id);
    // Moved at 11:00 with nobody asked; the CAB is asked at 11:30 and approves at 12:00, and the sync sees it all at once.
    await mirror(day('11:00'), 'scheduled');
    await mirror(day('12:00'), 'scheduled', [secondRow({ ...decided('approved', day('12:00')), requestedAt: day('11:30') })]);
    const run = await r.assessChange(change.id);
    expect(run.enforcements).toMatchObject([{ from: 'authorize', to: 'scheduled', reasons: [expect.stringMatching(/^no change manager approval recorded: minor changes need an approval given for /)] }]);
  });
});

describe('scheduled.separation-of-duties judges the approvals of the current round', () => {
  const ada = { id: '6816f79cc0a8016401c5a33be04be441', name: 'Ada Requester' }; // the change's requester (change-builder)
  const adaRow = (overrides: Partial<Approval>) => buildApproval({ id: 'r0', approver: ada, updatedAt: day('09:30'), ...overrides });

  /** Ada, the requester, approves for the CAB at 09:45; Sam rejects at 10:00 (back to New); the new round asks Beth, who decides at 12:00. */
  async function requesterApprovedInRound1(second: () => Approval): Promise<Change> {
    await mirror(day('09:00'), 'assess');
    await mirror(day('09:30'), 'authorize', [adaRow({}), firstRow({})]);
    await mirror(day('10:00'), 'new', [adaRow(decided('approved', day('09:45'))), firstRow(decided('rejected', day('10:00')))]);
    await mirror(day('11:00'), 'assess');
    await mirror(day('11:30'), 'authorize', [secondRow({})]);
    return mirror(day('12:00'), 'authorize', [second()]);
  }

  it('allows Scheduled once the requester’s approval lies in a round the CAB rejected, and says why it is not judged', async () => {
    const change = await requesterApprovedInRound1(() => secondRow(decided('approved', day('12:00'))));
    expect(await world.validate('authorize', 'scheduled')).toMatchObject({ allow: true });
    const run = await world.runner().assessChange(change.id);
    expect(run.assessment?.gates.find((g) => g.id === 'scheduled.separation-of-duties')).toMatchObject({
      result: 'pass',
      reason: "no approver (Beth Anglin) is the requester or the assignee; not judged: Ada Requester's approval at 2026-03-02 09:45 UTC, in a round ended by the rejection at 2026-03-02 10:00 UTC",
    });
  });

  it('still refuses Scheduled when the requester approves in the current round', async () => {
    await requesterApprovedInRound1(() => secondRow(decided('approved', day('12:00'))));
    await mirror(day('12:15'), 'authorize', [adaRow({ id: 'r3', ...decided('approved', day('12:15')) })]);
    const answer = await world.validate('authorize', 'scheduled');
    expect(answer.allow).toBe(false);
    expect(answer.reasons.join('\n')).toMatch(/Ada Requester approved the change and is also its requester/);
  });
});
