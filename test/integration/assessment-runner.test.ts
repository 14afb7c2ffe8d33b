// The assessment runner over the real SQLite stores: it assesses every new
// revision, stores the Assessment and queues write-back only when the outcome
// changed; changegate's own writes (bookkeeping-only revisions, its notes)
// change nothing. (Reactive enforcement: reactive-enforcement.test.ts.)

import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { RunResult } from '../../src/assess/assessment-runner.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';
import { buildJournalEntry, sysId } from '../support/change-builder.ts';
import { NOW, runnerWorld, type RunnerWorld } from '../support/runner-world.ts';

let world: RunnerWorld;
beforeEach(() => {
  world = runnerWorld();
});
afterEach(() => world.close());

/** What an assessment said of the approvals gate into scheduled. */
function approvalsGate(run: Pick<RunResult, 'assessment'>): string | undefined {
  return run.assessment?.gates.find((g) => g.id === 'scheduled.approvals')?.result;
}

async function queuedActions(): Promise<string[]> {
  return (await world.outbox.list({ limit: 1000 })).map((i) => `${i.action}:${i.status}`);
}

describe('assessment runner', () => {
  it('writes back a first assessment, and nothing for the same revision again or a revision that only our own write touched', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    const first = await r.assessChange(c.id);
    expect(first).toMatchObject({ status: 'assessed', outcomeChanged: true });
    expect(first.enqueued).toHaveLength(2);
    expect(await queuedActions()).toEqual(['set-verdict:pending', 'comment:pending']);

    expect(await r.assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
    // The verdict PATCH and the note come back as a revision that changes only bookkeeping fields and raw, plus our note in the journal.
    const ours = buildJournalEntry({ id: 'note-1', text: 'changegate: CHG0030001 …\n\n[changegate:servicenow:sn-prod:x@1:abc:comment]' });
    await world.mirror({ state: 'assess', raw: { u_changegate_verdict: 'allowed' } }, [ours]);
    expect(await r.assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
    expect(await world.assessments.listAssessments(c.id)).toHaveLength(1);
  });

  it('stores a new revision whose outcome is the same without writing to the ticket', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await world.mirror({ state: 'assess', description: 'Roll the gateway to 4.2.0 behind the blue/green switch (reworded).' });
    const second = await r.assessChange(c.id);
    expect(second).toMatchObject({ status: 'assessed', outcomeChanged: false, enqueued: [] });
    expect((await world.assessments.listAssessments(c.id)).map((a) => a.revision)).toEqual([1, 2]);
    expect(await queuedActions()).toEqual(['set-verdict:pending', 'comment:pending']);
  });

  it('follows the outcome back and forth, superseding write-back that was not posted yet', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await world.mirror({ state: 'assess', plans: { implementation: 'Deploy.', backout: null, test: 'Smoke.' } });
    const blocked = await r.assessChange(c.id);
    expect(blocked.assessment?.gates.find((g) => g.id === 'authorize.plans')?.result).toBe('fail');
    await world.mirror({ state: 'assess' });
    const back = await r.assessChange(c.id);
    expect(back).toMatchObject({ status: 'assessed', outcomeChanged: true });
    // Three outcomes, three sets of keys; only the latest is still to be posted.
    expect(await queuedActions()).toEqual([
      'set-verdict:superseded',
      'comment:superseded',
      'set-verdict:superseded',
      'comment:superseded',
      'set-verdict:pending',
      'comment:pending',
    ]);
    const keys = (await world.outbox.list({ action: 'set-verdict' })).map((i) => i.idempotencyKey);
    expect(new Set(keys).size).toBe(3);
  });

  it('follows an outcome back to one it had earlier at the same revision: stored, queued for the ticket and in the ledger again', async () => {
    // Inputs beside the change's own fields move the verdict without a new revision: here the CAB's approval
    // is given and then reset (as a neighbour booked into the same window and moved out again would).
    const evidence = SqliteEvidenceStore.open(':memory:');
    onTestFinished(() => evidence.close());
    const withLedger = world.runner({ evidence, writesBack: () => true });
    const c = await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });

    await world.approval(c, 'requested', 10);
    const waiting = await withLedger.assessChange(c.id);
    expect(approvalsGate(waiting)).toBe('pending');
    await world.approval(c, 'approved', 20);
    const approved = await withLedger.assessChange(c.id);
    expect(approved).toMatchObject({ status: 'assessed', outcomeChanged: true });
    expect(approvalsGate(approved)).toBe('pass');
    await world.approval(c, 'requested', 30);
    const reset = await withLedger.assessChange(c.id);
    expect(reset).toMatchObject({ status: 'assessed', outcomeChanged: true });
    expect(approvalsGate(reset)).toBe('pending');
    expect(reset.enqueued).toHaveLength(2);

    // The latest stored assessment is the one the ticket is about to show, and it settles there.
    const latest = await world.assessments.latestAssessment(c.id);
    expect(latest === null ? undefined : approvalsGate(latest)).toBe('pending');
    expect((await world.assessments.listAssessments(c.id)).map((a) => a.revision)).toEqual([1, 1, 1]);
    expect(await queuedActions()).toEqual(['set-verdict:superseded', 'comment:superseded', 'set-verdict:superseded', 'comment:superseded', 'set-verdict:pending', 'comment:pending']);
    expect(await withLedger.assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
    // The ledger has the three decisions in their order.
    const decisions = (await evidence.list(c.id)).filter((e) => e.kind === 'assessment');
    expect(decisions.map((e) => e.summary.match(/(\d) pending/)?.[1])).toEqual(['1', '0', '1']);
  });

  it('assesses but writes nothing while write-back is off, and puts the current verdict on the ticket once it is turned on', async () => {
    world.setWriteBack(false);
    const c = await world.mirror({ state: 'assess' });
    expect(await world.runner().assessChange(c.id)).toMatchObject({ status: 'assessed', enqueued: [] });
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    // Not even a denied transition is acted on.
    expect(await world.runner().assessChange(c.id)).toMatchObject({ status: 'assessed', enqueued: [], enforcements: [] });
    expect(await world.outbox.list({})).toEqual([]);

    world.setWriteBack(true);
    const on = await world.runner().assessChange(c.id);
    expect(on).toMatchObject({ status: 'assessed', outcomeChanged: false });
    expect(on.enqueued).toHaveLength(2);
    expect(await world.runner().assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
  });

  it('mid-sync, judges a change at once unless its verdict reads other changes, which stays owed for the end of the run', async () => {
    const r = world.runner();
    // In Assess with a window and a CI: the overlap gate of Authorize reads the changes beside it, maybe on a later page.
    const reader = await world.mirror({ nativeId: 'n-reader', key: 'CHG0090001', id: 'servicenow:sn-prod:n-reader', state: 'assess' });
    // In Implement, nothing ahead of it reads neighbours; in Assess without a planned window, there is nothing to overlap.
    const implementing = await world.mirror({ nativeId: 'n-impl', key: 'CHG0090002', id: 'servicenow:sn-prod:n-impl', state: 'implement' });
    const unplanned = await world.mirror({ nativeId: 'n-unplanned', key: 'CHG0090003', id: 'servicenow:sn-prod:n-unplanned', state: 'assess', plannedStart: null, plannedEnd: null });

    const mid = await r.assessAll('sn-prod', [reader.id, implementing.id, unplanned.id], { midRun: true });

    expect(mid).toEqual({ assessed: 2, failed: 0 });
    expect(await world.assessments.latestAssessment(reader.id)).toBeNull();
    expect(await world.store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([reader.id]);
    // A change on the same CI, overlapping its window, arrives on a later page; the end-of-run pass sees it.
    const later = await world.mirror({ nativeId: 'n-later', key: 'CHG0090004', id: 'servicenow:sn-prod:n-later', state: 'scheduled' });
    await r.onChangesWritten('sn-prod', await world.store.listOwedAssessments({ instance: 'sn-prod', limit: 10 }));
    const judged = (await world.assessments.latestAssessment(reader.id))?.assessment;
    expect(judged?.gates.find((g) => g.id === 'authorize.no-overlap')?.reason).toContain(later.key);
    expect(await world.store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([]);
  });

  it('leaves a change owed when a page stores its note while it is being assessed, and the pass over the owed then sees the note', async () => {
    const c = await world.mirror({ state: 'assess' });
    let underway = true;
    // A page of the journal stream lands between the assessment's read of the change and its writes (another sync, a webhook).
    const racing = new Proxy(world.store, {
      get(target, prop, receiver) {
        if (prop !== 'getChange') {
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        return async (...args: Parameters<ChangeStore['getChange']>) => {
          const read = await target.getChange(...args);
          if (underway) {
            underway = false;
            await target.applyPage('sn-prod', 'journal', [{ kind: 'journal', changeNativeId: c.nativeId, entry: buildJournalEntry({ id: 'landed-under', text: 'Rollback rehearsed on staging.' }) }], null);
          }
          return read;
        };
      },
    });
    const r = world.runner({ store: racing });
    const first = await r.assessChange(c.id);
    expect(first.status).toBe('assessed');
    // Marked as looked at, it would wait for the clock pass with the note unseen.
    expect(await world.store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([c.id]);
    // The pass over the owed (the end of the run) judges it again, now with the note: not skipped as already seen.
    expect(await r.assessAll('sn-prod', await world.store.listOwedAssessments({ instance: 'sn-prod', limit: 10 }))).toEqual({ assessed: 1, failed: 0 });
    expect(await world.store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([]);
  });

  it('writes nothing for a change first seen already closed', async () => {
    const c = await world.mirror({ state: 'closed', nativeState: '3', nativeStateLabel: 'Closed', closeCode: 'successful', closeNotes: 'Done.' });
    expect(await world.runner().assessChange(c.id)).toMatchObject({ status: 'assessed', enqueued: [] });
    expect(await world.assessments.listAssessments(c.id)).toHaveLength(1);
  });

  it('queues the same write-back again after a crash between queuing and storing the assessment: the keys hold, nothing is queued twice', async () => {
    // No planned window: no reason's wording moves with the clock, so the decision a later run reaches is the same.
    const c = await world.mirror({ state: 'assess', plannedStart: null, plannedEnd: null });
    // The first process queues the verdict and the note, then dies before the assessment is stored.
    const dying = world.runner({
      assessments: {
        saveAssessment: () => Promise.reject(new Error('SIGKILL')),
        latestAssessment: (id) => world.assessments.latestAssessment(id),
        latestWrittenBack: (id) => world.assessments.latestWrittenBack(id),
        listAssessments: (id) => world.assessments.listAssessments(id),
        listAssessmentsForHistory: (id, query) => world.assessments.listAssessmentsForHistory(id, query),
        countAssessments: (id) => world.assessments.countAssessments(id),
        recordEnforcement: (r) => world.assessments.recordEnforcement(r),
        settleEnforcement: (key, outcome, detail) => world.assessments.settleEnforcement(key, outcome, detail),
        listEnforcements: (id) => world.assessments.listEnforcements(id),
        listEnforcementsForHistory: (id, query) => world.assessments.listEnforcementsForHistory(id, query),
        enforcementsOf: (id, revisions) => world.assessments.enforcementsOf(id, revisions),
        countEnforcements: (id) => world.assessments.countEnforcements(id),
        close: () => world.assessments.close(),
      },
      writesBack: () => true,
    });
    await expect(dying.assessChange(c.id)).rejects.toThrow('SIGKILL');
    const queued = await world.outbox.list({ limit: 100 });
    expect(queued.map((i) => i.action)).toEqual(['set-verdict', 'comment']);
    expect(await world.assessments.latestAssessment(c.id)).toBeNull();

    // The restarted process assesses the change again, a few minutes later, and owes the ticket the same writes.
    const restarted = world.runner({ writesBack: () => true, clock: () => new Date(NOW.getTime() + 7 * 60_000) });
    const again = await restarted.assessChange(c.id);
    expect(again).toMatchObject({ status: 'assessed', enqueued: [] });
    expect((await world.outbox.list({ limit: 100 })).map((i) => [i.idempotencyKey, i.status])).toEqual(queued.map((i) => [i.idempotencyKey, 'pending']));
    expect(await world.assessments.latestAssessment(c.id)).toMatchObject({ wroteBack: true });
  });

  it('finishes two passes over the same changes given in opposite orders (a sync and the clock pass at once)', async () => {
    const first = await world.mirror({ nativeId: sysId(71), key: 'CHG0030071', state: 'assess' });
    const second = await world.mirror({ nativeId: sysId(72), key: 'CHG0030072', state: 'assess' });
    const r = world.runner();
    // Each batch holds the changes it assessed until it is stored: in opposite orders, each would wait for the other for ever.
    const [sync, clock] = await Promise.all([r.assessAll('sn-prod', [first.id, second.id]), r.assessAll('sn-prod', [second.id, first.id], { clockTick: true })]);
    expect([sync.failed, clock.failed]).toEqual([0, 0]);
    expect(await world.assessments.listAssessments(first.id)).toHaveLength(1);
    expect(await world.assessments.listAssessments(second.id)).toHaveLength(1);
  }, 10_000);

  it('keeps going when one change of a sync cannot be assessed, and counts the failure', async () => {
    const good = await world.mirror({ state: 'assess' });
    const failing: ChangeStore = Object.assign(Object.create(null) as ChangeStore, {
      getChange: (id: string, options?: Parameters<ChangeStore['getChange']>[1]) => (id === 'servicenow:sn-prod:broken' ? Promise.reject(new Error('disk I/O error')) : world.store.getChange(id, options)),
      listRevisions: (id: string, options?: { after?: number }) => world.store.listRevisions(id, options),
      lastRevisionSeq: (id: string) => world.store.lastRevisionSeq(id),
      noteAssessed: (id: string, seq: number, asOf?: number) => world.store.noteAssessed(id, seq, asOf),
      mirrorVersion: (instance: string) => world.store.mirrorVersion(instance),
      listActiveChangesTouching: (q: Parameters<ChangeStore['listActiveChangesTouching']>[0]) => world.store.listActiveChangesTouching(q),
      listNeighbours: (q: Parameters<ChangeStore['listNeighbours']>[0]) => world.store.listNeighbours(q),
    });
    await world.runner({ store: failing }).onChangesWritten('sn-prod', ['servicenow:sn-prod:broken', good.id]);
    expect(await world.assessments.listAssessments(good.id)).toHaveLength(1);
    const counted = (await world.metrics.assessments.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(counted).toContainEqual(['error', 1]);
  });
});
