// The gates that look for a marker in the change's journal (closed.pir: a
// post-implementation review note; canceled.reason: why the change is
// canceled), as a change manager meets them: the assessment on the ticket and
// the answer of POST /v1/validate, over the real SQLite store and the default
// policy. A note counts for what it says only when it was written at the point
// of the lifecycle it speaks for (a PIR after implementation began, not a plan
// made while planning), and only when it says it ("do not cancel" does not).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { notePattern, verdictProperty } from '../../connectors/jira/jira-writer.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { verdictFields } from '../../connectors/servicenow/servicenow-writer.ts';
import type { GateResult } from '../../src/domain/assessment.ts';
import type { Change, JournalEntry } from '../../src/domain/change.ts';
import { buildJournalEntry } from '../support/change-builder.ts';
import { evaluateValidator, screenComment } from '../support/jira-validator.ts';
import { runnerWorld, type RunnerWorld, type RunnerWorldOptions } from '../support/runner-world.ts';

const day = (time: string) => `2026-03-02T${time}:00Z`;

const WORLD: RunnerWorldOptions = { now: new Date('2026-03-02T18:00:00Z'), mode: 'advisory' };
let world: RunnerWorld;
beforeEach(() => {
  world = runnerWorld(WORLD);
});
afterEach(() => world.close());

/** Mirrors one version of the change as a sync would: the record at `updatedAt`, with the journal entries written by then. */
function mirror(updatedAt: string, fields: Partial<Change>, journal: JournalEntry[] = []): Promise<Change> {
  return world.mirror({ updatedAt, ...fields }, journal);
}

async function gateOnTicket(changeId: string, gate: string): Promise<GateResult | undefined> {
  const run = await world.runner().assessChange(changeId);
  return run.assessment?.gates.find((g) => g.id === gate);
}

const planningNote = buildJournalEntry({ id: 'n-plan', text: 'PIR: to be held with the vendor after go-live.', at: day('09:15'), author: 'carla.manager' });
const reviewNote = buildJournalEntry({ id: 'n-pir', text: '[PIR] Root cause: the renewal job used the old CA bundle. Action: alert 30 days before expiry.', at: day('16:00'), author: 'carla.manager' });

/** An emergency change taken through eCAB, implemented and in Review, with the journal it had by each step. */
async function emergencyInReview(dates: { actualStart: string | null; actualEnd: string | null }, journal: JournalEntry[]): Promise<Change> {
  const fields: Partial<Change> = { type: 'emergency', plannedStart: day('10:00'), plannedEnd: day('11:00') };
  await mirror(day('09:10'), { ...fields, state: 'authorize' });
  await mirror(day('09:30'), { ...fields, state: 'scheduled' }, journal.filter((e) => e.at <= day('09:30')));
  await mirror(day('10:00'), { ...fields, state: 'implement', actualStart: dates.actualStart });
  return mirror(day('16:30'), { ...fields, state: 'review', actualStart: dates.actualStart, actualEnd: dates.actualEnd }, journal.filter((e) => e.at > day('09:30')));
}

describe('closed.pir: a post-implementation review is one written after implementation began', () => {
  it('does not take a PIR note written while planning for the review (the actual start says when implementation began)', async () => {
    const change = await emergencyInReview({ actualStart: day('10:00'), actualEnd: day('10:40') }, [planningNote]);
    const gate = await gateOnTicket(change.id, 'closed.pir');
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toBe(
      'emergency changes need a post-implementation review (seed §7.6) recorded after implementation began (2026-03-02 10:00 UTC, the actual start): ' +
        'the work note by carla.manager at 2026-03-02 09:15 UTC was written before it; add a work note starting with [PIR]',
    );
  });

  it('reads when implementation began from the move into Implement when the site records no actual dates (JSM)', async () => {
    const change = await emergencyInReview({ actualStart: null, actualEnd: null }, [planningNote]);
    const gate = await gateOnTicket(change.id, 'closed.pir');
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toMatch(/recorded after implementation began \(2026-03-02 10:00 UTC, the move into implement\): the work note by carla\.manager at 2026-03-02 09:15 UTC was written before it/);
  });

  it('takes the review written after the implementation, the planning note beside it notwithstanding', async () => {
    for (const dates of [{ actualStart: day('10:00'), actualEnd: day('10:40') }, { actualStart: null, actualEnd: null }]) {
      await world.close();
      world = runnerWorld(WORLD);
      const change = await emergencyInReview(dates, [planningNote, reviewNote]);
      const gate = await gateOnTicket(change.id, 'closed.pir');
      expect(gate?.result).toBe('pass');
      expect(gate?.reason).toBe('post-implementation review recorded in a work note by carla.manager at 2026-03-02 16:00 UTC');
    }
  });
});

const vendorNote = buildJournalEntry({ id: 'n-vendor', text: 'The vendor may cancel the 4.2 release; if they do, we rebook.', at: day('09:05'), author: 'ada.requester' });
const reasonNote = buildJournalEntry({ id: 'n-reason', text: 'Canceled: the vendor pulled 4.2; rebooked as CHG0030044.', at: day('17:00'), author: 'carla.manager' });

/** A normal change assessed, authorised and scheduled at 10:00, with the journal it had by each step. */
async function scheduledAtTen(journal: JournalEntry[]): Promise<Change> {
  await mirror(day('09:00'), { state: 'assess' }, journal.filter((e) => e.at <= day('09:00')));
  await mirror(day('09:30'), { state: 'authorize' }, journal.filter((e) => e.at > day('09:00') && e.at <= day('09:30')));
  return mirror(day('10:00'), { state: 'scheduled' }, journal.filter((e) => e.at > day('09:30')));
}

describe('canceled.reason: the reason is one given at the cancellation', () => {
  it('does not offer Canceled on the strength of a note that mentioned cancelling while the change was being planned', async () => {
    const change = await scheduledAtTen([vendorNote]);
    const run = await world.runner().assessChange(change.id);
    const gate = run.assessment?.gates.find((g) => g.id === 'canceled.reason');
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toBe(
      'no cancellation reason given since the change entered scheduled (2026-03-02 10:00 UTC): the work note by ada.requester at 2026-03-02 09:05 UTC was written before; ' +
        'add close notes or a work note saying why the change is canceled',
    );
    expect(run.assessment?.allowedTransitions).not.toContain('canceled');
  });

  it('tells the ServiceNow business rule (fields mode) that a save carrying the reason may still cancel, and with what', async () => {
    const change = await scheduledAtTen([vendorNote]);
    await world.runner().assessChange(change.id);
    const queued = (await world.outbox.list({ limit: 10 })).find((i) => i.payload.action === 'set-verdict');
    if (queued?.payload.action !== 'set-verdict') throw new Error('no verdict queued for the ticket');
    const fields = verdictFields(queued.payload.verdict, loadServiceNowMapping());
    expect(fields['u_changegate_allowed']).not.toContain('4');
    expect(fields['u_changegate_allowed_with_reason']).toBe('{"4":[["close_notes","note:cancel"]]}');
  });

  it('lets the Jira validator take a cancellation whose reason is a comment typed on the transition screen, and still refuse one without', async () => {
    // A JSM change: no close notes field, the last comment stands in for them (mappings/jira.default.yaml).
    const change = await scheduledAtTen([vendorNote]);
    await mirror(day('10:00'), { state: 'scheduled', standIns: { closeNotes: 'last-comment', assignmentGroup: 'affected-service' } });
    await world.runner().assessChange(change.id);
    const queued = (await world.outbox.list({ limit: 10 })).findLast((i) => i.payload.action === 'set-verdict');
    if (queued?.payload.action !== 'set-verdict') throw new Error('no verdict queued for the ticket');
    const property = verdictProperty(queued.payload.verdict, loadJiraMapping());
    const canceled = (property['allowedTransitions'] as Array<Record<string, unknown>>).find((t) => t['toStatus'] === 'Canceled');
    expect(canceled).toMatchObject({ allowed: false, clearedBySave: [[`note:${notePattern('cancel')}`]] });
    expect(evaluateValidator(property, 'Canceled', 0, { comments: [screenComment('Canceled: the vendor pulled 4.2; rebooked as ITSM-44.')] })).toBe(true);
    expect(evaluateValidator(property, 'Canceled', 0, {})).toMatch(/^changegate: moving to Canceled is not allowed: No cancellation reason given since the change entered/);
    expect(evaluateValidator(property, 'Canceled', 0, { comments: [screenComment('Do not cancel yet.')] })).toMatch(/is not allowed/);
  });

  it('offers Canceled once a note written in the state it is canceled from says why', async () => {
    const change = await scheduledAtTen([vendorNote, reasonNote]);
    const run = await world.runner().assessChange(change.id);
    expect(run.assessment?.gates.find((g) => g.id === 'canceled.reason')).toMatchObject({ result: 'pass', reason: 'the cancellation reason is in a work note by carla.manager' });
    expect(run.assessment?.allowedTransitions).toContain('canceled');
  });

  it('keeps a change canceled without a reason in violation until one is written; a planning note does not clear it', async () => {
    const scheduled = await scheduledAtTen([vendorNote]);
    await mirror(day('12:00'), { state: 'canceled' });
    const before = await world.runner().assessChange(scheduled.id);
    expect(before.assessment?.violations).toEqual([
      {
        gate: 'canceled.reason',
        state: 'canceled',
        reason: expect.stringMatching(/^no cancellation reason given since the change entered scheduled \(2026-03-02 10:00 UTC\): the work note by ada\.requester at 2026-03-02 09:05 UTC was written before/),
      },
    ]);
    await mirror(day('17:05'), { state: 'canceled' }, [reasonNote]);
    const after = await world.runner().assessChange(scheduled.id);
    expect(after.assessment?.violations).toEqual([]);
  });

  it('judges a cancellation replayed at its time on the notes written by then: a reason added later does not excuse the move, but clears the violation', async () => {
    const change = await scheduledAtTen([]);
    const r = world.runner();
    await r.assessChange(change.id);
    // The sync sees the move and, a revision later, the reason written half an hour after it.
    await mirror(day('12:00'), { state: 'canceled' });
    await mirror(day('12:30'), { state: 'canceled' }, [buildJournalEntry({ id: 'n-late', text: 'Canceled: the vendor pulled 4.2.', at: day('12:30') })]);
    const run = await r.assessChange(change.id);
    expect(run.enforcements).toMatchObject([{ from: 'scheduled', to: 'canceled', action: 'comment', reasons: [expect.stringMatching(/^no cancellation reason: .*\(canceled\.reason\)$/)] }]);
    expect(run.assessment?.violations).toEqual([]);
  });
});

describe('a negated mention is no evidence', () => {
  it.each(['Do not cancel: CAB wants it live before the PCI deadline.', "Please don't cancel this one, the vendor fix is in.", 'We are not going to cancel; rescheduling instead.'])(
    'does not let "%s" stand as the reason for canceling',
    async (text) => {
      await scheduledAtTen([buildJournalEntry({ id: 'n-keep', text, at: day('11:00'), author: 'dana.cab' })]);
      expect(await world.validate('scheduled', 'canceled')).toMatchObject({ allow: false, reasons: ['no cancellation reason: add close notes or a work note saying why the change is canceled (canceled.reason)'] });
    },
  );

  it.each(['Cancel: no budget left this quarter.', 'No, cancel it: the vendor pulled 4.2.', 'Not canceled by us: the vendor canceled the release.'])('takes "%s" as the reason', async (text) => {
    await scheduledAtTen([buildJournalEntry({ id: 'n-why', text, at: day('11:00'), author: 'dana.cab' })]);
    expect(await world.validate('scheduled', 'canceled')).toMatchObject({ allow: true, reasons: [] });
  });

  it('does not take a note saying no post-implementation review was held for one', async () => {
    const none = buildJournalEntry({ id: 'n-none', text: 'No post-implementation review held yet; booked for Friday.', at: day('16:00'), author: 'carla.manager' });
    const change = await emergencyInReview({ actualStart: day('10:00'), actualEnd: day('10:40') }, [none]);
    const gate = await gateOnTicket(change.id, 'closed.pir');
    expect(gate).toMatchObject({ result: 'fail', reason: 'emergency changes need a post-implementation review (seed §7.6): none recorded; add a work note starting with [PIR]' });
  });
});
