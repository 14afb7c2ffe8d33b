// Gates into Closed and Canceled: hypercare by class with nothing critical
// firing, close fields, the emergency PIR, change tasks, a cancellation reason.

import { describe, expect, it } from 'vitest';
import type { MonitorEvent, MonitorWatch } from '../../../src/domain/events.ts';
import { buildJournalEntry } from '../../support/change-builder.ts';
import { ciEvent, context, gate, mirrored, monitorEvent } from './policy-fixtures.ts';

const ENDED = { actualStart: '2026-03-10T22:00:00Z', actualEnd: '2026-03-10T23:30:00Z', state: 'review' } as const;
const major = { ...ENDED, risk: { impact: 'high', probability: 'medium', level: 'high' } } as const;
const closedOut = { closeCode: 'successful', closeNotes: 'Gateway 4.2.0 live; canary clean.' };
const resolved = (o: Partial<MonitorEvent> = {}) => monitorEvent({ status: 'resolved', endsAt: '2026-03-11T01:20:00Z', ...o });
const prodDeploy = ciEvent({ kind: 'deploy', environment: 'production', startedAt: '2026-03-10T22:10:00Z', finishedAt: '2026-03-10T22:20:00Z' });

/** Scheduled on 5 March, canceled on 6 March. */
const canceledFromScheduled = [{ at: '2026-03-05T10:00:00Z', from: 'authorize', to: 'scheduled' }, { at: '2026-03-06T10:00:00Z', from: 'scheduled', to: 'canceled' }] as const;

const cases = [
  { gate: 'closed.hypercare', name: 'minor, 1 h 30 min in', at: '2026-03-11T01:00:00Z', mc: mirrored(ENDED), result: 'fail', reason: /^hypercare runs until 2026-03-11 03:30 UTC \(2 h 30 min left, from the actual end at 2026-03-10 23:30 UTC\); minor changes need 4 h of hypercare$/ },
  { gate: 'closed.hypercare', name: 'minor, 4 h passed', at: '2026-03-11T03:30:00Z', mc: mirrored(ENDED), result: 'pass', reason: /hypercare of 4 h for minor changes ended 2026-03-11 03:30 UTC/ },
  { gate: 'closed.hypercare', name: 'major, a day in', at: '2026-03-11T23:30:00Z', mc: mirrored(major), result: 'fail', reason: /48 h left.*major changes need 72 h of hypercare/ },
  { gate: 'closed.hypercare', name: 'emergency, 24 h passed', at: '2026-03-11T23:30:00Z', mc: mirrored({ ...ENDED, type: 'emergency' }), result: 'pass', reason: /hypercare of 24 h for emergency changes/ },
  { gate: 'closed.hypercare', name: 'no end, production deploy starts it', at: '2026-03-11T01:00:00Z', ci: [prodDeploy], mc: mirrored({ state: 'review' }), result: 'fail', reason: /from the production deploy at 2026-03-10 22:20 UTC/ },
  { gate: 'closed.hypercare', name: 'not started', at: '2026-03-11T01:00:00Z', mc: mirrored({ state: 'review' }), result: 'pending', reason: /hypercare has not started: no actual end and no production deploy recorded/ },
  { gate: 'closed.no-alerts', name: 'critical alert firing', at: '2026-03-11T01:10:00Z', monitor: [monitorEvent()], mc: mirrored(ENDED), result: 'fail', reason: /^critical alert "HighErrorRate" on Payments API is firing$/ },
  { gate: 'closed.no-alerts', name: 'alert resolved since', at: '2026-03-11T02:00:00Z', monitor: [monitorEvent(), resolved()], mc: mirrored(ENDED), result: 'pass', reason: /no critical or high alert or incident is firing on Payments API and pay-gw-cluster-01/ },
  { gate: 'closed.no-alerts', name: 'resolution reported after now', at: '2026-03-11T01:10:00Z', monitor: [monitorEvent(), resolved()], mc: mirrored(ENDED), result: 'fail', reason: /HighErrorRate/ },
  { gate: 'closed.no-alerts', name: 'medium alert', at: '2026-03-11T01:10:00Z', monitor: [monitorEvent({ severity: 'medium' })], mc: mirrored(ENDED), result: 'pass', reason: /no critical or high alert/ },
  { gate: 'closed.no-alerts', name: 'alert on another service', at: '2026-03-11T01:10:00Z', monitor: [monitorEvent({ service: 'Billing', labels: { service: 'Billing' } })], mc: mirrored(ENDED), result: 'pass', reason: /no critical or high alert/ },
  { gate: 'closed.no-alerts', name: 'incident on the CI by label', at: '2026-03-11T01:10:00Z', monitor: [monitorEvent({ kind: 'incident', severity: 'high', service: null, title: 'Gateway 502s', labels: { ci: 'pay-gw-cluster-01' } })], mc: mirrored(ENDED), result: 'fail', reason: /high incident "Gateway 502s"/ },
  { gate: 'closed.close-fields', name: 'not closed out', mc: mirrored(ENDED), result: 'fail', reason: /^close code and close notes are not set$/ },
  { gate: 'closed.close-fields', name: 'no notes', mc: mirrored({ ...ENDED, closeCode: 'successful' }), result: 'fail', reason: /^close notes is not set$/ },
  { gate: 'closed.close-fields', name: 'closed out', mc: mirrored({ ...ENDED, ...closedOut }), result: 'pass', reason: /closed as "successful"/ },
  {
    gate: 'closed.close-fields',
    name: 'JSM: the latest comment since implementation ended stands in for notes',
    mc: mirrored(
      { ...ENDED, closeCode: 'Done', standIns: { closeNotes: 'last-comment' } },
      {
        journal: [
          buildJournalEntry({ id: 'c1', text: 'Starting the rollout now.', at: '2026-03-10T22:05:00Z', author: 'bob.implementer' }),
          buildJournalEntry({ id: 'c2', kind: 'comment', text: 'Rolled out 4.2.0; smoke suite green.', at: '2026-03-11T08:00:00Z', author: 'carol.changemgr' }),
        ],
      },
    ),
    result: 'pass',
    reason: /^closed as "Done"; the comment by carol.changemgr at 2026-03-11 08:00 UTC stands in for close notes$/,
  },
  {
    gate: 'closed.close-fields',
    name: 'JSM: only comments from before implementation ended',
    mc: mirrored({ ...ENDED, closeCode: 'Done', standIns: { closeNotes: 'last-comment' } }, { journal: [buildJournalEntry({ text: 'Starting the rollout now.', at: '2026-03-10T22:05:00Z' })] }),
    result: 'fail',
    reason: /^no comment since implementation ended at 2026-03-10 23:30 UTC stands in for close notes \(this site has no close notes field\): comment on the change how it went$/,
  },
  {
    gate: 'closed.close-fields',
    name: 'a site with no notes field and no stand-in',
    mc: mirrored({ ...ENDED, closeCode: 'Done', standIns: { closeNotes: 'none' } }),
    result: 'fail',
    reason: /^close notes: this site has no close notes field and the mapping lets nothing stand in for them$/,
  },
  { gate: 'closed.pir', name: 'emergency without PIR', mc: mirrored({ ...ENDED, type: 'emergency' }), result: 'fail', reason: /emergency changes need a post-implementation review \(seed §7.6\): none recorded; add a work note starting with \[PIR\]/ },
  {
    gate: 'closed.pir',
    name: 'emergency, PIR work note',
    mc: mirrored({ ...ENDED, type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] Root cause: expired cert. Actions: alerting on expiry.', at: '2026-03-11T09:00:00Z', author: 'cab.chair' })] }),
    result: 'pass',
    reason: /recorded in a work note by cab.chair at 2026-03-11 09:00 UTC/,
  },
  { gate: 'closed.pir', name: 'emergency, PIR in close notes', mc: mirrored({ ...ENDED, type: 'emergency', closeNotes: 'Post-implementation review held 12 March.' }), result: 'pass', reason: /in the close notes/ },
  { gate: 'closed.pir', name: 'minor', mc: mirrored(ENDED), result: 'pass', reason: /minor changes need no post-implementation review/ },
  { gate: 'closed.tasks', name: 'tasks open', mc: mirrored({ ...ENDED, custom: { open_tasks: '2' } }), result: 'fail', reason: /^2 change tasks are still open$/ },
  { gate: 'closed.tasks', name: 'tasks closed', mc: mirrored({ ...ENDED, custom: { open_tasks: '0' } }), result: 'pass', reason: /all change tasks are closed/ },
  { gate: 'closed.tasks', name: 'tasks not mirrored', mc: mirrored(ENDED), result: 'pass', reason: /not mirrored \(no custom field open_tasks\)/ },
  { gate: 'canceled.reason', name: 'no reason', mc: mirrored(), result: 'fail', reason: /no cancellation reason: add close notes or a work note/ },
  { gate: 'canceled.reason', name: 'close notes', mc: mirrored({ closeNotes: 'Superseded by CHG0030007.' }), result: 'pass', reason: /close notes give the cancellation reason/ },
  { gate: 'canceled.reason', name: 'work note', mc: mirrored({}, { journal: [buildJournalEntry({ text: 'Cancelling: vendor pulled the release.' })] }), result: 'pass', reason: /in a work note by admin/ },
  // Edges found by mutation testing (docs/mutation-testing.md): each row is a verdict a one-character change flipped unnoticed.
  { gate: 'closed.tasks', name: 'one task open', mc: mirrored({ ...ENDED, custom: { open_tasks: '1' } }), result: 'fail', reason: /^1 change task is still open$/ },
  { gate: 'closed.tasks', name: 'count blank', mc: mirrored({ ...ENDED, custom: { open_tasks: ' ' } }), result: 'pass', reason: /all change tasks are closed/ },
  { gate: 'closed.tasks', name: 'count null', mc: mirrored({ ...ENDED, custom: { open_tasks: null } }), result: 'pass', reason: /all change tasks are closed/ },
  { gate: 'closed.tasks', name: 'count not a number', mc: mirrored({ ...ENDED, custom: { open_tasks: 'two' } }), result: 'pending', reason: /^open change task count "two" is not a number$/ },
  { gate: 'closed.tasks', name: 'count negative', mc: mirrored({ ...ENDED, custom: { open_tasks: '-1' } }), result: 'pending', reason: /is not a number/ },
  { gate: 'closed.tasks', name: 'count fractional', mc: mirrored({ ...ENDED, custom: { open_tasks: '1.5' } }), result: 'pending', reason: /is not a number/ },
  { gate: 'closed.pir', name: 'emergency, PIR note written after now', mc: mirrored({ ...ENDED, type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] later', at: '2026-03-12T10:00:01Z' })] }), result: 'fail', reason: /none recorded/ },
  {
    gate: 'closed.pir',
    name: 'emergency, two PIR notes, the newest cited',
    mc: mirrored({ ...ENDED, type: 'emergency' }, { journal: [buildJournalEntry({ id: 'j1', text: '[PIR] first', at: '2026-03-11T09:00:00Z', author: 'ann' }), buildJournalEntry({ id: 'j2', text: '[PIR] second', at: '2026-03-12T10:00:00Z', author: 'bob' })] }),
    result: 'pass',
    reason: /by bob at 2026-03-12 10:00 UTC$/,
  },
  // A PIR is written after implementation began: a plan to hold one, written before, is none.
  {
    gate: 'closed.pir',
    name: 'emergency, the PIR note predates the actual start',
    mc: mirrored({ ...ENDED, type: 'emergency' }, { journal: [buildJournalEntry({ text: 'PIR: to be held after go-live.', at: '2026-03-09T15:00:00Z', author: 'ann' })] }),
    result: 'fail',
    reason: /^emergency changes need a post-implementation review \(seed §7\.6\) recorded after implementation began \(2026-03-10 22:00 UTC, the actual start\): the work note by ann at 2026-03-09 15:00 UTC was written before it; add a work note starting with \[PIR\]$/,
  },
  { gate: 'closed.pir', name: 'emergency, PIR note at the actual start', mc: mirrored({ ...ENDED, type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] held', at: ENDED.actualStart })] }), result: 'pass', reason: /recorded in a work note/ },
  {
    gate: 'closed.pir',
    name: 'emergency, no actual dates: the move into implement places the note',
    moves: [{ at: '2026-03-10T21:55:00Z', from: 'scheduled', to: 'implement' }, { at: '2026-03-11T00:10:00Z', from: 'implement', to: 'review' }],
    mc: mirrored({ state: 'review', type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] planned for Thursday', at: '2026-03-10T21:00:00Z' })] }),
    result: 'fail',
    reason: /recorded after implementation began \(2026-03-10 21:55 UTC, the move into implement\): the work note by admin at 2026-03-10 21:00 UTC was written before it/,
  },
  {
    gate: 'closed.pir',
    name: 'emergency, no actual dates: a review after the move into implement',
    moves: [{ at: '2026-03-10T21:55:00Z', from: 'scheduled', to: 'implement' }],
    mc: mirrored({ state: 'review', type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] root cause found', at: '2026-03-11T09:00:00Z' })] }),
    result: 'pass',
    reason: /^post-implementation review recorded in a work note by admin at 2026-03-11 09:00 UTC$/,
  },
  {
    gate: 'closed.pir',
    name: 'emergency, a move made after now is not known yet',
    at: '2026-03-11T00:00:00Z',
    moves: [{ at: '2026-03-11T00:00:01Z', from: 'scheduled', to: 'implement' }],
    mc: mirrored({ state: 'scheduled', type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] to follow', at: '2026-03-10T21:00:00Z' })] }),
    result: 'pending',
    reason: /^emergency changes need a post-implementation review \(seed §7\.6\) recorded after implementation began, and nothing tells when it began \(no actual start or end, no move into implement seen, no production deploy\): the work note by admin at 2026-03-10 21:00 UTC cannot be placed$/,
  },
  {
    gate: 'closed.pir',
    name: 'emergency, only the production deploy tells: a note before it',
    ci: [prodDeploy],
    mc: mirrored({ state: 'review', type: 'emergency' }, { journal: [buildJournalEntry({ text: '[PIR] to follow', at: '2026-03-10T22:00:00Z' })] }),
    result: 'fail',
    reason: /\(2026-03-10 22:20 UTC, the production deploy\): the work note by admin at 2026-03-10 22:00 UTC was written before it/,
  },
  // A cancellation reason is given in the state the change is canceled from (or after the cancellation).
  {
    gate: 'canceled.reason',
    name: 'a note from before the change entered its state',
    moves: [{ at: '2026-03-05T10:00:00Z', from: 'authorize', to: 'scheduled' }],
    mc: mirrored({ state: 'scheduled' }, { journal: [buildJournalEntry({ text: 'The vendor may cancel 4.2.', at: '2026-03-04T09:00:00Z', author: 'ann' })] }),
    result: 'fail',
    reason: /^no cancellation reason given since the change entered scheduled \(2026-03-05 10:00 UTC\): the work note by ann at 2026-03-04 09:00 UTC was written before; add close notes or a work note saying why the change is canceled$/,
  },
  {
    gate: 'canceled.reason',
    name: 'a note written since the change entered its state',
    moves: [{ at: '2026-03-05T10:00:00Z', from: 'authorize', to: 'scheduled' }],
    mc: mirrored({ state: 'scheduled' }, { journal: [buildJournalEntry({ text: 'Cancel: the vendor pulled 4.2.', at: '2026-03-05T10:00:00Z' })] }),
    result: 'pass',
    reason: /^the cancellation reason is in a work note by admin$/,
  },
  {
    gate: 'canceled.reason',
    name: 'canceled: a note from before the state it was canceled from',
    moves: canceledFromScheduled,
    mc: mirrored({ state: 'canceled' }, { journal: [buildJournalEntry({ text: 'The vendor may cancel 4.2.', at: '2026-03-04T09:00:00Z' })] }),
    result: 'fail',
    reason: /^no cancellation reason given since the change entered scheduled \(2026-03-05 10:00 UTC\)/,
  },
  ...['2026-03-05T11:00:00Z', '2026-03-06T10:30:00Z'].map((written) => ({
    gate: 'canceled.reason',
    name: `canceled: a note written at ${written}, in the state it was canceled from or after`,
    moves: canceledFromScheduled,
    mc: mirrored({ state: 'canceled' }, { journal: [buildJournalEntry({ text: 'Canceled: the vendor pulled 4.2.', at: written })] }),
    result: 'pass',
    reason: /^the cancellation reason is in a work note by admin$/,
  })),
  {
    gate: 'canceled.reason',
    name: 'canceled, the move into canceled never seen: any note counts',
    moves: [{ at: '2026-03-05T10:00:00Z', from: 'authorize', to: 'scheduled' }],
    mc: mirrored({ state: 'canceled' }, { journal: [buildJournalEntry({ text: 'Canceled: the vendor pulled 4.2.', at: '2026-03-04T09:00:00Z' })] }),
    result: 'pass',
    reason: /^the cancellation reason is in a work note by admin$/,
  },
  {
    gate: 'closed.no-alerts',
    name: 'four alerts firing',
    at: '2026-03-11T01:10:00Z',
    monitor: ['a', 'b', 'c', 'd'].map((f) => monitorEvent({ id: f, fingerprint: f, title: null })),
    mc: mirrored(ENDED),
    result: 'fail',
    reason: /^critical alert "a" on Payments API, critical alert "b" on Payments API and critical alert "c" on Payments API and 1 more are firing$/,
  },
  { gate: 'closed.no-alerts', name: 'nothing watches the services', at: '2026-03-11T01:10:00Z', watch: null, mc: mirrored(ENDED), result: 'pending', reason: /^no monitoring source covers Payments API and pay-gw-cluster-01/ },
  {
    gate: 'closed.no-alerts',
    name: 'monitoring silent too long',
    at: '2026-03-11T01:10:00Z',
    watch: { covered: false, sources: ['alertmanager'], lastHeartbeat: '2026-03-10T20:00:00Z' },
    mc: mirrored(ENDED),
    result: 'pending',
    reason: /\(alertmanager\) last reported 2026-03-10 20:00 UTC; waiting for a heartbeat/,
  },
  { gate: 'closed.no-alerts', name: 'no service or CI named', at: '2026-03-11T01:10:00Z', mc: mirrored({ ...ENDED, services: [], cis: [] }), result: 'pass', reason: /^no affected service or CI is named, so no critical or high alert can be attributed$/ },
] as const;

/** Monitoring watches the services unless a case says otherwise (`watch: null`: nothing does). */
function watchOf(c: object): { watch?: MonitorWatch } {
  if (!('watch' in c)) return { watch: { covered: true, sources: ['alertmanager'], lastHeartbeat: '2026-03-11T01:00:00Z' } };
  return c.watch === null ? {} : { watch: c.watch as MonitorWatch };
}

describe('gates into closed and canceled', () => {
  it.each(cases)('$gate: $name → $result', (c) => {
    const ctx = context('at' in c ? c.at : '2026-03-12T10:00:00Z', {
      events: { ci: 'ci' in c ? [...c.ci] : [], monitor: 'monitor' in c ? [...c.monitor] : [], ...watchOf(c) },
      ...('moves' in c ? { moves: c.moves } : {}),
    });
    const result = gate(c.gate, c.mc, ctx);
    expect(result.result).toBe(c.result);
    expect(result.reason).toMatch(c.reason);
  });
});
