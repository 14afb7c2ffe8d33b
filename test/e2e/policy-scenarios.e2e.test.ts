// Release policy on real tickets, end to end over real HTTP: the ServiceNow and
// Jira simulators, the real connectors and writers, sync engine, SQLite stores,
// assessment runner, reactive enforcement and the outbox worker. Each scenario
// asserts what a change manager sees on the ticket: the verdict fields or the
// issue property the plugins read, and the work notes or comments changegate
// posts (exactly once).

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TicketVerdict } from '../../src/kit/connector.ts';
import { adfToText } from '../../connectors/jira/simulator/adf.ts';
import type { AdfDoc } from '../../connectors/jira/simulator/sim-types.ts';
import type { OutboxStore } from '../../src/store/outbox-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { changegateNotes, newSha, PEOPLE, productionEvents, readinessEvents, startScenario, workNotes, type Scenario } from './policy-scenarios-harness.ts';

let scenario: Scenario | null = null;
afterEach(async () => {
  await scenario?.close();
  scenario = null;
});

async function start(at: string): Promise<Scenario> {
  scenario = await startScenario({ start: at });
  return scenario;
}

/** A normal change as a requester files it: everything the gates read, unless left out. */
function changeFields(commit: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    short_description: 'Roll the payments API to 4.2',
    description: 'Blue/green roll of the payments API cluster from 4.1.7 to 4.2.0.',
    type: 'normal',
    requested_by: PEOPLE.requester,
    assigned_to: PEOPLE.engineer,
    assignment_group: PEOPLE.platformGroup,
    business_service: PEOPLE.payments,
    justification: 'Fixes PCI finding 2026-114 before the audit.',
    impact: '3',
    urgency: '3',
    risk: '4',
    implementation_plan: 'helm upgrade payments-api 4.2.0 on the green stack, switch traffic.',
    backout_plan: 'Switch traffic back to blue; helm rollback.',
    test_plan: 'Smoke suite in production after the switch.',
    start_date: '2026-04-09 10:00:00',
    end_date: '2026-04-09 12:00:00',
    u_commits: commit,
    ...overrides,
  };
}

/** The verdict fields as the plugin's business rule reads them. */
function fields(s: Scenario, sysId: string): { verdict: string; allowed: string[]; reasons: string } {
  const row = s.sn.getChange(sysId) ?? {};
  const allowed = String(row.u_changegate_allowed ?? '');
  return { verdict: String(row.u_changegate_verdict ?? ''), allowed: allowed === '' ? [] : allowed.split(','), reasons: String(row.u_changegate_reasons ?? '') };
}

/** First line of every work note changegate posted, oldest first. */
function titles(s: Scenario, sysId: string): string[] {
  return changegateNotes(s.sn, sysId).map((note) => note.split('\n')[0] as string);
}

function lastNote(s: Scenario, sysId: string): string {
  return changegateNotes(s.sn, sysId).at(-1) ?? '';
}

/** A person moves the change in ServiceNow (the legacy state model's business rule applies). */
function move(s: Scenario, sysId: string, state: string, user = 'carla.manager'): void {
  s.clock.advance(60_000);
  s.sn.updateChange(sysId, { state }, { user, enforceRules: true });
}

function edit(s: Scenario, sysId: string, values: Record<string, unknown>): void {
  s.clock.advance(60_000);
  s.sn.updateChange(sysId, values, { user: 'rita.requester' });
}

describe('a normal change, gate by gate', () => {
  it('is blocked at each gate until its evidence is there, and walks through every state', async () => {
    const s = await start('2026-04-06T08:00:00Z');
    const commit = newSha();
    const sysId = s.sn.createChange(changeFields(commit, { justification: '', backout_plan: '' })).sys_id as string;

    await s.settle('sn');
    expect(fields(s, sysId)).toMatchObject({ verdict: 'blocked', allowed: [] });
    expect(fields(s, sysId).reasons).toContain('-4 (Assess): The record is missing business justification');
    expect(lastNote(s, sysId)).toContain('* The record is missing business justification — blocks the move to Assess.');
    expect(lastNote(s, sysId)).toContain('assess.record-complete | Assess | FAIL');

    edit(s, sysId, { justification: 'Fixes PCI finding 2026-114 before the audit.' });
    await s.settle('sn');
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed', allowed: ['-4'] });

    move(s, sysId, '-4');
    await s.settle('sn');
    expect(fields(s, sysId).verdict).toBe('blocked');
    expect(fields(s, sysId).reasons).toMatch(/^-3 \(Authorize\): Backout plan is (missing|empty|not set)/m);

    edit(s, sysId, { backout_plan: 'Switch traffic back to blue; helm rollback.' });
    await s.settle('sn');
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed' });
    expect(fields(s, sysId).allowed).toContain('-3');

    move(s, sysId, '-3');
    await s.settle('sn');
    expect(fields(s, sysId).reasons).toContain('-2 (Scheduled): No change manager approval recorded: minor changes need an approval given for Change Management or by Carla Manager');
    const approval = s.sn.addApproval(sysId, { approver: PEOPLE.changeManager, state: 'requested' });
    await s.settle('sn');
    expect(fields(s, sysId).reasons).toContain('Waiting for change manager approval (1 approval requested) (waiting)');
    s.clock.advance(60_000);
    s.sn.updateApproval(approval.sys_id as string, { state: 'approved' }, { user: 'carla.manager' });
    await s.settle('sn');
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed' });
    expect(fields(s, sysId).allowed).toContain('-2');

    move(s, sysId, '-2');
    await s.settle('sn');
    const scheduled = fields(s, sysId);
    expect(scheduled.verdict).toBe('blocked');
    expect(scheduled.reasons).toContain('-1 (Implement): Planned start');
    expect(scheduled.reasons).toContain(`Waiting for a CI run of commit ${commit.slice(0, 7)} (waiting)`);
    expect(scheduled.reasons).toContain(`${commit.slice(0, 7)} is not yet deployed to`);

    // The window opens and the pipeline reports: build, tests, scan, SIT → UAT → Pre-Prod.
    s.clock.set('2026-04-09T10:05:00Z');
    s.events.ci.push(...readinessEvents(commit, '2026-04-09T10:00:00Z'));
    await s.reassess(`servicenow:sn:${sysId}`);
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed' });
    expect(fields(s, sysId).allowed).toContain('-1');

    move(s, sysId, '-1', 'ed.engineer');
    await s.settle('sn');
    expect(fields(s, sysId).reasons).toContain(`No production deploy of ${commit.slice(0, 7)} seen yet (waiting)`);

    s.clock.set('2026-04-09T10:45:00Z');
    s.events.ci.push(...productionEvents(commit, '2026-04-09T10:30:00Z'));
    await s.reassess(`servicenow:sn:${sysId}`);
    expect(fields(s, sysId).allowed).toContain('0');

    move(s, sysId, '0', 'ed.engineer');
    await s.settle('sn');
    const review = fields(s, sysId);
    expect(review.reasons).toContain('Hypercare');
    expect(review.reasons).toContain('Close code and close notes are not set');

    s.clock.set('2026-04-09T16:00:00Z');
    edit(s, sysId, { close_code: 'successful', close_notes: 'Rolled to 4.2.0; smoke suite green.' });
    await s.settle('sn');
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed' });
    expect(fields(s, sysId).allowed).toContain('3');

    move(s, sysId, '3');
    await s.settle('sn');
    expect(s.sn.getChange(sysId)?.state).toBe('3');
    expect(titles(s, sysId)).toEqual([
      'changegate: CHG0030001 cannot move to Assess yet',
      'changegate: CHG0030001 may move to Assess',
      'changegate: CHG0030001 cannot move to Authorize yet',
      'changegate: CHG0030001 may move to Authorize',
      'changegate: CHG0030001 cannot move to Scheduled yet',
      'changegate: CHG0030001 cannot move to Scheduled yet',
      'changegate: CHG0030001 may move to Scheduled',
      'changegate: CHG0030001 cannot move to Implement yet',
      'changegate: CHG0030001 may move to Implement',
      'changegate: CHG0030001 cannot move to Review yet',
      'changegate: CHG0030001 may move to Review',
      'changegate: CHG0030001 cannot move to Closed yet',
      'changegate: CHG0030001 may move to Closed',
      'changegate: CHG0030001 is Closed: nothing more to check',
    ]);
    // Every move was allowed when it was made: nothing to enforce.
    expect(await s.assessments.listEnforcements(`servicenow:sn:${sysId}`)).toEqual([]);
  });
});

describe('an emergency change', () => {
  it('goes through eCAB and cannot close without its post-implementation review', async () => {
    const s = await start('2026-04-06T08:00:00Z');
    const commit = newSha();
    const sysId = s.sn.createChange(
      changeFields(commit, { type: 'emergency', short_description: 'Replace the expired payments TLS certificate', start_date: '2026-04-06 09:00:00', end_date: '2026-04-06 10:00:00' }),
    ).sys_id as string;
    const id = `servicenow:sn:${sysId}`;
    await s.settle('sn');
    // Emergency changes skip Assess: the next move is Authorize.
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed', allowed: ['-3'] });

    move(s, sysId, '-3');
    await s.settle('sn');
    expect(fields(s, sysId).reasons).toContain('-2 (Scheduled): No eCAB approval recorded: emergency changes need an approval given for eCAB or by Erik Ecab');
    s.sn.addApproval(sysId, { approver: PEOPLE.ecab, state: 'approved' });
    await s.settle('sn');
    expect(fields(s, sysId).allowed).toContain('-2');

    move(s, sysId, '-2');
    s.clock.set('2026-04-06T09:05:00Z');
    s.events.ci.push(...readinessEvents(commit, '2026-04-06T09:00:00Z'));
    await s.settle('sn');
    expect(fields(s, sysId).allowed).toContain('-1');
    move(s, sysId, '-1', 'ed.engineer');
    s.events.ci.push(...productionEvents(commit, '2026-04-06T09:20:00Z'));
    s.clock.set('2026-04-06T09:40:00Z');
    await s.settle('sn');
    move(s, sysId, '0', 'ed.engineer');

    // A day of hypercare later, closed out, but no review recorded yet.
    s.clock.set('2026-04-07T12:00:00Z');
    edit(s, sysId, { close_code: 'successful', close_notes: 'Certificate replaced.' });
    await s.settle('sn');
    const blocked = fields(s, sysId);
    expect(blocked.verdict).toBe('blocked');
    expect(blocked.reasons).toBe(
      '3 (Closed): Emergency changes need a post-implementation review (seed §7.6): none recorded; add a work note starting with [PIR]',
    );
    // changegate's own note quotes "[PIR]"; it is not the review.
    expect(lastNote(s, sysId)).toContain('add a work note starting with [PIR]');

    s.clock.advance(60_000);
    s.sn.addJournal(sysId, 'work_notes', '[PIR] Root cause: the renewal job used the old CA bundle. Action: alert 30 days before expiry.', 'carla.manager');
    await s.settle('sn');
    expect(fields(s, sysId)).toMatchObject({ verdict: 'allowed' });
    expect(fields(s, sysId).allowed).toContain('3');
    move(s, sysId, '3');
    await s.settle('sn');
    expect(s.sn.getChange(sysId)?.state).toBe('3');
    expect(titles(s, sysId).at(-2)).toBe('changegate: CHG0030001 may move to Closed');
    expect(await s.assessments.listEnforcements(id)).toEqual([]);
  });
});

describe('a freeze window', () => {
  it('blocks Implement while it is in force, and the verdict says so', async () => {
    const s = await start('2026-04-13T08:00:00Z');
    const commit = newSha();
    // Approved and scheduled for a window the spring freeze (20–27 April) does not touch.
    const sysId = s.sn.createChange(changeFields(commit, { state: '-2', start_date: '2026-04-16 10:00:00', end_date: '2026-04-16 12:00:00' })).sys_id as string;
    s.sn.addApproval(sysId, { approver: PEOPLE.changeManager, state: 'approved' });
    await s.settle('sn');
    expect(fields(s, sysId).reasons).toContain('-1 (Implement): Planned start');
    expect(fields(s, sysId).reasons).not.toContain('freeze');

    // Re-planned after approval into the freeze; the day comes and the pipeline is green.
    edit(s, sysId, { start_date: '2026-04-21 10:00:00', end_date: '2026-04-21 12:00:00' });
    await s.settle('sn');
    s.clock.set('2026-04-21T10:05:00Z');
    s.events.ci.push(...readinessEvents(commit, '2026-04-21T10:00:00Z'));
    await s.reassess(`servicenow:sn:${sysId}`);

    const frozen = fields(s, sysId);
    expect(frozen.verdict).toBe('blocked');
    expect(frozen.allowed).not.toContain('-1');
    expect(frozen.reasons.split('\n')[0]).toBe(
      '-1 (Implement): Now is inside freeze "Spring release freeze" (2026-04-20 00:00 UTC – 2026-04-27 00:00 UTC)',
    );
    expect(lastNote(s, sysId)).toContain('* Now is inside freeze "Spring release freeze" (2026-04-20 00:00 UTC – 2026-04-27 00:00 UTC) — blocks the move to Implement.');
    expect(lastNote(s, sysId)).toContain('implement.freeze | Implement | FAIL');
    expect(lastNote(s, sysId)).toContain('implement.window | Implement | pass');
  });
});

describe('a transition that bypassed the plugin through the API', () => {
  it('is moved back and explained in enforce mode, and changegate does not fight its own revert', async () => {
    const s = await start('2026-04-06T08:00:00Z');
    const sysId = s.sn.createChange(changeFields(newSha(), { justification: '' })).sys_id as string;
    const id = `servicenow:sn:${sysId}`;
    await s.settle('sn');

    // Someone moves it to Assess through the Table API; ServiceNow's own model allows New → Assess.
    move(s, sysId, '-4', 'ed.engineer');
    await s.sync('sn');
    expect(s.sn.getChange(sysId)?.state).toBe('-5');
    const explained = lastNote(s, sysId);
    expect(explained.split('\n')[0]).toBe('changegate: changegate moved CHG0030001 back to New');
    expect(explained).toContain('The move New → Assess at 2026-04-06 08:01 UTC is not allowed yet.');
    expect(explained).toContain('* The record is missing business justification.');
    expect(explained.slice(0, explained.indexOf('-- Details for administrators --'))).not.toContain('assess.record-complete');

    await s.settle('sn');
    expect(s.sn.getChange(sysId)?.state).toBe('-5');
    expect(titles(s, sysId)).toEqual(['changegate: CHG0030001 cannot move to Assess yet', 'changegate: changegate moved CHG0030001 back to New']);
    const records = await s.assessments.listEnforcements(id);
    expect(records.map((r) => [r.from, r.to, r.action, r.outcome])).toEqual([
      ['new', 'assess', 'revert', 'reverted'],
      ['assess', 'new', 'own-revert', 'recognised'],
    ]);
  });

  it('is only commented in advisory mode, and the change stays where it was moved', async () => {
    const s = await start('2026-04-06T08:00:00Z');
    s.modes.set('sn', 'advisory');
    const sysId = s.sn.createChange(changeFields(newSha(), { justification: '' })).sys_id as string;
    await s.settle('sn');

    move(s, sysId, '-4', 'ed.engineer');
    await s.settle('sn');
    expect(s.sn.getChange(sysId)?.state).toBe('-4');
    const notes = changegateNotes(s.sn, sysId);
    const breach = notes.find((n) => n.startsWith('changegate: CHG0030001: New → Assess broke the release policy'));
    expect(breach).toContain('The change was left where it is (advisory mode); the breach is recorded.');
    expect(breach).toContain('* The record is missing business justification.');
    // The verdict follows the change into Assess, where it breaks a rule of that state.
    expect(titles(s, sysId).at(-1)).toBe('changegate: CHG0030001 does not meet the checks of Assess');
    expect(fields(s, sysId).reasons).toContain('Not met now: The record is missing business justification');
    const records = await s.assessments.listEnforcements(`servicenow:sn:${sysId}`);
    expect(records.map((r) => [r.from, r.to, r.mode, r.action, r.outcome])).toEqual([['new', 'assess', 'advisory', 'comment', 'commented']]);
  });

  it('is explained, and recorded as refused, when ServiceNow cannot move the change back', async () => {
    const s = await start('2026-04-09T10:05:00Z');
    const sysId = s.sn.createChange(changeFields(newSha(), { state: '-2' })).sys_id as string;
    s.sn.addApproval(sysId, { approver: PEOPLE.changeManager, state: 'approved' });
    await s.settle('sn');

    // Into Implement with no pipeline evidence at all; the legacy model has no Implement → Scheduled.
    move(s, sysId, '-1', 'ed.engineer');
    await s.settle('sn');
    expect(s.sn.getChange(sysId)?.state).toBe('-1');
    const refused = changegateNotes(s.sn, sysId).find((n) => n.startsWith('changegate: changegate could not move CHG0030001 back to Scheduled'));
    expect(refused).toContain('The move Scheduled → Implement at 2026-04-09 10:06 UTC was not allowed');
    expect(refused).toContain(
      "The ticket system said: ServiceNow refused to move the change from state -1 to -2: Operation against file 'change_request' was aborted by Business Rule 'Change Model: Check State Transition",
    );
    expect(refused).toContain('* Waiting for a CI run of commit');
    expect(refused).toContain('implement.ci-green | waiting');
    const [record] = await s.assessments.listEnforcements(`servicenow:sn:${sysId}`);
    expect(record).toMatchObject({ from: 'scheduled', to: 'implement', action: 'revert', outcome: 'refused' });
    expect(record?.detail).toContain("aborted by Business Rule 'Change Model: Check State Transition");
    // Once explained, the ticket gets the verdict for where it now is.
    expect(titles(s, sysId).at(-1)).toBe('changegate: CHG0030001 cannot move to Review yet');
  });

  it('is moved back through the Jira workflow, with the verdict in the issue property the validator reads', async () => {
    const s = await start('2026-04-09T10:05:00Z');
    const issue = s.jira.createIssue(
      { summary: 'Rotate the payments HSM keys', 'Change type': 'Normal', 'Change risk': 'Low', Impact: 'Minor / Localized', description: 'Quarterly HSM key rotation.' },
      { issueType: '[System] Change' },
    );
    const key = issue.key;
    s.jira.transitionIssue(key, 'Planning');
    s.jira.transitionIssue(key, 'Awaiting CAB approval');
    const approval = s.jira.addApproval(key, { approvers: ['dan.cab'] });
    s.jira.decideApproval(key, approval.id, 'dan.cab', 'approve');
    expect(s.jira.issue(key).state.fields.status).toBe(s.jira.workflow.status('Awaiting implementation')?.id);
    await s.settle('jsm');

    const before = s.jira.issue(key).properties.get('changegate.verdict') as Record<string, unknown>;
    expect(before).toMatchObject({ verdict: 'blocked', state: 'scheduled' });
    expect(before['allowedTransitions']).toContainEqual(expect.objectContaining({ to: 'implement', toStatus: 'Implementing', allowed: false }));

    s.clock.advance(60_000);
    s.jira.transitionIssue(key, 'Implementing', { as: 'bob.implementer' });
    await s.sync('jsm');
    expect(s.jira.workflow.status(s.jira.issue(key).state.fields.status as string)?.name).toBe('Awaiting implementation');
    await s.settle('jsm');
    expect(s.jira.workflow.status(s.jira.issue(key).state.fields.status as string)?.name).toBe('Awaiting implementation');

    const ours = s.jira.issue(key).comments.filter((c) => c.properties?.some((p) => p.key === 'changegate'));
    const texts = ours.map((c) => adfToText(c.body as AdfDoc));
    expect(texts.filter((t) => t.includes(`changegate moved ${key} back to Awaiting implementation`))).toHaveLength(1);
    const revert = texts.find((t) => t.includes('back to Awaiting implementation')) ?? '';
    expect(revert).toContain('The move Awaiting implementation → Implementing');
    expect(revert).toContain('Waiting for a CI run of a commit for this change (none is linked, and no CI event has named the change or come from its services yet) (waiting).');
    const records = await s.assessments.listEnforcements(`jira:jsm:${issue.id}`);
    expect(records.map((r) => [r.fromNative, r.toNative, r.action, r.outcome])).toEqual([
      ['Awaiting implementation', 'Implementing', 'revert', 'reverted'],
      ['Implementing', 'Awaiting implementation', 'own-revert', 'recognised'],
    ]);
    const after = s.jira.issue(key).properties.get('changegate.verdict') as TicketVerdict & Record<string, unknown>;
    expect(after).toMatchObject({ verdict: 'blocked', state: 'scheduled' });
  });
});

/** A complete change synced, with its verdict and note queued but not yet posted. */
async function queued(s: Scenario): Promise<string> {
  const sysId = s.sn.createChange(changeFields(newSha())).sys_id as string;
  // Sync without working the outbox: the assessment queues its verdict and note.
  await s.engine.sync('sn');
  expect((await s.outbox.list({ status: 'pending' })).map((i) => i.action)).toEqual(['set-verdict', 'comment']);
  return sysId;
}

describe('write-back', () => {

  it('is posted exactly once when the worker dies after the note landed but before it was marked done', async () => {
    const s = await start('2026-04-06T08:00:00Z');
    const sysId = await queued(s);
    // The first process posts the note, then dies before it can record that it did.
    const o = s.outbox;
    const note = (await o.list({ action: 'comment' }))[0];
    const dying: OutboxStore = {
      enqueue: (items, now) => o.enqueue(items, now),
      claim: (limit, now, lease, owner) => o.claim(limit, now, lease, owner),
      claimOwners: () => o.claimOwners(),
      releaseClaims: (owner, now) => o.releaseClaims(owner, now),
      complete: (id, token, result, now) => (id === note?.id ? Promise.reject(new Error('SIGKILL')) : o.complete(id, token, result, now)),
      retryLater: (id, token, at, error, now) => o.retryLater(id, token, at, error, now),
      fail: (id, token, error, now) => o.fail(id, token, error, now),
      get: (key) => o.get(key),
      list: (query) => o.list(query),
      listForHistory: (changeId, query) => o.listForHistory(changeId, query),
      countForChange: (changeId) => o.countForChange(changeId),
      counts: () => o.counts(),
      close: () => o.close(),
    };
    await s.newWorker(dying).drain().catch(() => undefined);
    expect(changegateNotes(s.sn, sysId)).toHaveLength(1);
    expect((await s.outbox.list({ action: 'comment' }))[0]?.status).toBe('claimed');

    // Restarted: another connection to the same file; the dead worker's lease runs out.
    const reopened = SqliteOutboxStore.open(s.dbFile);
    try {
      // While the lease holds, the item is left alone: its first holder might still be writing it.
      expect(await s.newWorker(reopened).drain()).toMatchObject({ claimed: 0 });
      s.clock.advance(11 * 60_000);
      const report = await s.newWorker(reopened).drain();
      expect(report).toMatchObject({ alreadyDone: 1 });
      expect(changegateNotes(s.sn, sysId)).toHaveLength(1);
      expect((await reopened.list({ action: 'comment' }))[0]).toMatchObject({ status: 'done', result: 'already-done', attempts: 2 });
    } finally {
      await reopened.close();
    }
  });

  it('is retried after a 503 and posted once', async () => {
    const s = await start('2026-04-06T08:00:00Z');
    const sysId = await queued(s);
    // The verdict PATCH goes through; the work note PATCH gets a 503.
    s.sn.faults.next({ kind: 'delay', ms: 0 }, { method: 'PATCH' }).next({ kind: 'status', status: 503 }, { method: 'PATCH' });
    const first = await s.worker.drain();
    expect(first).toMatchObject({ written: 1, retried: 1 });
    expect(changegateNotes(s.sn, sysId)).toHaveLength(0);
    const waiting = (await s.outbox.list({ action: 'comment' }))[0];
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1, lastError: { code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient' } });

    s.clock.advance(60_000);
    expect(await s.worker.drain()).toMatchObject({ written: 1 });
    expect(changegateNotes(s.sn, sysId)).toHaveLength(1);
    await s.settle('sn');
    expect(changegateNotes(s.sn, sysId)).toHaveLength(1);
  });

  it('is posted once when the request timed out after ServiceNow had applied it', async () => {
    scenario = await startScenario({ start: '2026-04-06T08:00:00Z', serviceNowTimeout: '2s' });
    const s = scenario;
    const sysId = await queued(s);
    // The note PATCH is answered only after the client gave up: the note lands, the worker does not know.
    s.sn.faults.next({ kind: 'delay', ms: 0 }, { method: 'PATCH' }).next({ kind: 'delay', ms: 2_500 }, { method: 'PATCH' });
    const first = await s.worker.drain();
    expect(first).toMatchObject({ retried: 1 });
    expect((await s.outbox.list({ action: 'comment' }))[0]?.lastError).toMatchObject({ code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient' });
    await vi.waitFor(() => expect(workNotes(s.sn, sysId)).toHaveLength(1), { timeout: 10_000, interval: 100 });

    s.clock.advance(60_000);
    expect(await s.worker.drain()).toMatchObject({ alreadyDone: 1, written: 0 });
    expect(changegateNotes(s.sn, sysId)).toHaveLength(1);
  }, 20_000);
});
