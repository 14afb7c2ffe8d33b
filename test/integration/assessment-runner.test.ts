// The assessment runner over the real SQLite stores: it assesses every new
// revision, stores the Assessment and queues write-back only when the outcome
// changed; changegate's own writes (bookkeeping-only revisions, its notes)
// change nothing; reactive enforcement judges each observed transition once,
// never enforces history before the first assessment, and does not fight a
// ticket that has moved on.

import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { StreamItem } from '../../src/kit/connector.ts';
import { AssessmentRunner, type RunResult } from '../../src/assess/assessment-runner.ts';
import type { Change, JournalEntry } from '../../src/domain/change.ts';
import type { CiEvent, MonitorEvent } from '../../src/domain/events.ts';
import { createLogger } from '../../src/log.ts';
import { loadPolicy, parsePolicy } from '../../src/policy/policy-config.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import type { EnforcementMode } from '../../src/store/assessment-store.ts';
import type { ChangeStore } from '../../src/store/change-store.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteEvidenceStore } from '../../src/store/sqlite/sqlite-evidence-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { at, buildApproval, buildChange, buildJournalEntry, sysId } from '../support/change-builder.ts';

const policy = loadPolicy();
const NOW = new Date('2026-03-02T12:00:00Z');

let store: SqliteChangeStore;
let assessments: SqliteAssessmentStore;
let outbox: SqliteOutboxStore;
let metrics: Metrics;
let mode: EnforcementMode;

let writeBack = true;

function runner(changes: ChangeStore = store): AssessmentRunner {
  return new AssessmentRunner({
    store: changes,
    assessments,
    outbox,
    policy,
    modeOf: () => mode,
    writesBack: () => writeBack,
    logger: createLogger({ level: 'silent' }),
    metrics,
    clock: () => NOW,
  });
}

beforeEach(() => {
  store = SqliteChangeStore.open(':memory:');
  assessments = SqliteAssessmentStore.open(':memory:');
  outbox = SqliteOutboxStore.open(':memory:');
  metrics = createMetrics({ defaultMetrics: false });
  mode = 'enforce';
  writeBack = true;
});
afterEach(async () => {
  await store.close();
  await assessments.close();
  await outbox.close();
});

let revision = 3;
/** Mirrors a new version of the change, as a sync would. */
async function mirror(overrides: Partial<Change>, journal: JournalEntry[] = []): Promise<Change> {
  revision += 1;
  const change = buildChange({ nativeRevision: revision, updatedAt: new Date(Date.parse('2026-03-02T09:00:00Z') + revision * 60_000).toISOString(), ...overrides });
  const items: StreamItem[] = [{ kind: 'change', change }, ...journal.map((entry): StreamItem => ({ kind: 'journal', changeNativeId: change.nativeId, entry }))];
  await store.applyPage('sn-prod', 'changes', items, null);
  return change;
}

/** What an assessment said of the approvals gate into scheduled. */
function approvalsGate(run: Pick<RunResult, 'assessment'>): string | undefined {
  return run.assessment?.gates.find((g) => g.id === 'scheduled.approvals')?.result;
}

/** A build run of the linked commit, as the GitHub source stores it (one event per run attempt, updated in place). */
function buildRun(id: string, status: 'success' | 'failure', startedAt: string, finishedAt: string): CiEvent {
  return {
    id,
    source: 'github',
    kind: 'build',
    repo: 'acme/payments-gateway',
    commit: '9fceb02d0ae598e95dc970b74767f19372d61af8',
    branch: 'release/4.2',
    runId: id,
    name: 'build-and-test',
    status,
    environment: null,
    startedAt,
    finishedAt,
    url: null,
    changeKeys: ['CHG0030001'],
    tests: null,
    findings: null,
    verified: null,
  };
}

async function queuedActions(): Promise<string[]> {
  return (await outbox.list({ limit: 1000 })).map((i) => `${i.action}:${i.status}`);
}

describe('assessment runner', () => {
  it('writes back a first assessment, and nothing for the same revision again or a revision that only our own write touched', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    const first = await r.assessChange(c.id);
    expect(first).toMatchObject({ status: 'assessed', outcomeChanged: true });
    expect(first.enqueued).toHaveLength(2);
    expect(await queuedActions()).toEqual(['set-verdict:pending', 'comment:pending']);

    expect(await r.assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
    // The verdict PATCH and the note come back as a revision that changes only bookkeeping fields and raw, plus our note in the journal.
    const ours = buildJournalEntry({ id: 'note-1', text: 'changegate: CHG0030001 …\n\n[changegate:servicenow:sn-prod:x@1:abc:comment]' });
    await mirror({ state: 'assess', raw: { u_changegate_verdict: 'allowed' } }, [ours]);
    expect(await r.assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
    expect(await assessments.listAssessments(c.id)).toHaveLength(1);
  });

  it('stores a new revision whose outcome is the same without writing to the ticket', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await mirror({ state: 'assess', description: 'Roll the gateway to 4.2.0 behind the blue/green switch (reworded).' });
    const second = await r.assessChange(c.id);
    expect(second).toMatchObject({ status: 'assessed', outcomeChanged: false, enqueued: [] });
    expect((await assessments.listAssessments(c.id)).map((a) => a.revision)).toEqual([1, 2]);
    expect(await queuedActions()).toEqual(['set-verdict:pending', 'comment:pending']);
  });

  it('follows the outcome back and forth, superseding write-back that was not posted yet', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await mirror({ state: 'assess', plans: { implementation: 'Deploy.', backout: null, test: 'Smoke.' } });
    const blocked = await r.assessChange(c.id);
    expect(blocked.assessment?.gates.find((g) => g.id === 'authorize.plans')?.result).toBe('fail');
    await mirror({ state: 'assess' });
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
    const keys = (await outbox.list({ action: 'set-verdict' })).map((i) => i.idempotencyKey);
    expect(new Set(keys).size).toBe(3);
  });

  it('follows an outcome back to one it had earlier at the same revision: stored, queued for the ticket and in the ledger again', async () => {
    // Inputs beside the change's own fields move the verdict without a new revision: here the CAB's approval
    // is given and then reset (as a neighbour booked into the same window and moved out again would).
    const evidence = SqliteEvidenceStore.open(':memory:');
    onTestFinished(() => evidence.close());
    const withLedger = new AssessmentRunner({ store, assessments, outbox, evidence, policy, modeOf: () => mode, writesBack: () => true, logger: createLogger({ level: 'silent' }), metrics, clock: () => NOW });
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize' });
    const approval = (state: 'requested' | 'approved', minute: number) =>
      store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval: buildApproval({ state, nativeState: state, decidedAt: state === 'approved' ? at(minute) : null, updatedAt: at(minute) }) }], null);

    await approval('requested', 10);
    const waiting = await withLedger.assessChange(c.id);
    expect(approvalsGate(waiting)).toBe('pending');
    await approval('approved', 20);
    const approved = await withLedger.assessChange(c.id);
    expect(approved).toMatchObject({ status: 'assessed', outcomeChanged: true });
    expect(approvalsGate(approved)).toBe('pass');
    await approval('requested', 30);
    const reset = await withLedger.assessChange(c.id);
    expect(reset).toMatchObject({ status: 'assessed', outcomeChanged: true });
    expect(approvalsGate(reset)).toBe('pending');
    expect(reset.enqueued).toHaveLength(2);

    // The latest stored assessment is the one the ticket is about to show, and it settles there.
    const latest = await assessments.latestAssessment(c.id);
    expect(latest === null ? undefined : approvalsGate(latest)).toBe('pending');
    expect((await assessments.listAssessments(c.id)).map((a) => a.revision)).toEqual([1, 1, 1]);
    expect(await queuedActions()).toEqual(['set-verdict:superseded', 'comment:superseded', 'set-verdict:superseded', 'comment:superseded', 'set-verdict:pending', 'comment:pending']);
    expect(await withLedger.assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
    // The ledger has the three decisions in their order.
    const decisions = (await evidence.list(c.id)).filter((e) => e.kind === 'assessment');
    expect(decisions.map((e) => e.summary.match(/(\d) pending/)?.[1])).toEqual(['1', '0', '1']);
  });

  it('assesses but writes nothing while write-back is off, and puts the current verdict on the ticket once it is turned on', async () => {
    writeBack = false;
    const c = await mirror({ state: 'assess' });
    expect(await runner().assessChange(c.id)).toMatchObject({ status: 'assessed', enqueued: [] });
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    // Not even a denied transition is acted on.
    expect(await runner().assessChange(c.id)).toMatchObject({ status: 'assessed', enqueued: [], enforcements: [] });
    expect(await outbox.list({})).toEqual([]);

    writeBack = true;
    const on = await runner().assessChange(c.id);
    expect(on).toMatchObject({ status: 'assessed', outcomeChanged: false });
    expect(on.enqueued).toHaveLength(2);
    expect(await runner().assessChange(c.id)).toMatchObject({ status: 'unchanged', enqueued: [] });
  });

  it('mid-sync, judges a change at once unless its verdict reads other changes, which stays owed for the end of the run', async () => {
    const r = runner();
    // In Assess with a window and a CI: the overlap gate of Authorize reads the changes beside it, maybe on a later page.
    const reader = await mirror({ nativeId: 'n-reader', key: 'CHG0090001', id: 'servicenow:sn-prod:n-reader', state: 'assess' });
    // In Implement, nothing ahead of it reads neighbours; in Assess without a planned window, there is nothing to overlap.
    const implementing = await mirror({ nativeId: 'n-impl', key: 'CHG0090002', id: 'servicenow:sn-prod:n-impl', state: 'implement' });
    const unplanned = await mirror({ nativeId: 'n-unplanned', key: 'CHG0090003', id: 'servicenow:sn-prod:n-unplanned', state: 'assess', plannedStart: null, plannedEnd: null });

    const mid = await r.assessAll('sn-prod', [reader.id, implementing.id, unplanned.id], { midRun: true });

    expect(mid).toEqual({ assessed: 2, failed: 0 });
    expect(await assessments.latestAssessment(reader.id)).toBeNull();
    expect(await store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([reader.id]);
    // A change on the same CI, overlapping its window, arrives on a later page; the end-of-run pass sees it.
    const later = await mirror({ nativeId: 'n-later', key: 'CHG0090004', id: 'servicenow:sn-prod:n-later', state: 'scheduled' });
    await r.onChangesWritten('sn-prod', await store.listOwedAssessments({ instance: 'sn-prod', limit: 10 }));
    const judged = (await assessments.latestAssessment(reader.id))?.assessment;
    expect(judged?.gates.find((g) => g.id === 'authorize.no-overlap')?.reason).toContain(later.key);
    expect(await store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([]);
  });

  it('leaves a change owed when a page stores its note while it is being assessed, and the pass over the owed then sees the note', async () => {
    const c = await mirror({ state: 'assess' });
    let underway = true;
    // A page of the journal stream lands between the assessment's read of the change and its writes (another sync, a webhook).
    const racing = new Proxy(store, {
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
    const r = runner(racing);
    const first = await r.assessChange(c.id);
    expect(first.status).toBe('assessed');
    // Marked as looked at, it would wait for the clock pass with the note unseen.
    expect(await store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([c.id]);
    // The pass over the owed (the end of the run) judges it again, now with the note: not skipped as already seen.
    expect(await r.assessAll('sn-prod', await store.listOwedAssessments({ instance: 'sn-prod', limit: 10 }))).toEqual({ assessed: 1, failed: 0 });
    expect(await store.listOwedAssessments({ instance: 'sn-prod', limit: 10 })).toEqual([]);
  });

  it('writes nothing for a change first seen already closed', async () => {
    const c = await mirror({ state: 'closed', nativeState: '3', nativeStateLabel: 'Closed', closeCode: 'successful', closeNotes: 'Done.' });
    expect(await runner().assessChange(c.id)).toMatchObject({ status: 'assessed', enqueued: [] });
    expect(await assessments.listAssessments(c.id)).toHaveLength(1);
  });

  it('queues the same write-back again after a crash between queuing and storing the assessment: the keys hold, nothing is queued twice', async () => {
    // No planned window: no reason's wording moves with the clock, so the decision a later run reaches is the same.
    const c = await mirror({ state: 'assess', plannedStart: null, plannedEnd: null });
    // The first process queues the verdict and the note, then dies before the assessment is stored.
    const dying = new AssessmentRunner({
      store,
      assessments: {
        saveAssessment: () => Promise.reject(new Error('SIGKILL')),
        latestAssessment: (id) => assessments.latestAssessment(id),
        latestWrittenBack: (id) => assessments.latestWrittenBack(id),
        listAssessments: (id) => assessments.listAssessments(id),
        listAssessmentsForHistory: (id, query) => assessments.listAssessmentsForHistory(id, query),
        countAssessments: (id) => assessments.countAssessments(id),
        recordEnforcement: (r) => assessments.recordEnforcement(r),
        settleEnforcement: (key, outcome, detail) => assessments.settleEnforcement(key, outcome, detail),
        listEnforcements: (id) => assessments.listEnforcements(id),
        close: () => assessments.close(),
      },
      outbox,
      policy,
      modeOf: () => mode,
      writesBack: () => true,
      logger: createLogger({ level: 'silent' }),
      metrics,
      clock: () => NOW,
    });
    await expect(dying.assessChange(c.id)).rejects.toThrow('SIGKILL');
    const queued = await outbox.list({ limit: 100 });
    expect(queued.map((i) => i.action)).toEqual(['set-verdict', 'comment']);
    expect(await assessments.latestAssessment(c.id)).toBeNull();

    // The restarted process assesses the change again, a few minutes later, and owes the ticket the same writes.
    const restarted = new AssessmentRunner({
      store,
      assessments,
      outbox,
      policy,
      modeOf: () => mode,
      writesBack: () => true,
      logger: createLogger({ level: 'silent' }),
      metrics,
      clock: () => new Date(NOW.getTime() + 7 * 60_000),
    });
    const again = await restarted.assessChange(c.id);
    expect(again).toMatchObject({ status: 'assessed', enqueued: [] });
    expect((await outbox.list({ limit: 100 })).map((i) => [i.idempotencyKey, i.status])).toEqual(queued.map((i) => [i.idempotencyKey, 'pending']));
    expect(await assessments.latestAssessment(c.id)).toMatchObject({ wroteBack: true });
  });

  it('finishes two passes over the same changes given in opposite orders (a sync and the clock pass at once)', async () => {
    const first = await mirror({ nativeId: sysId(71), key: 'CHG0030071', state: 'assess' });
    const second = await mirror({ nativeId: sysId(72), key: 'CHG0030072', state: 'assess' });
    const r = runner();
    // Each batch holds the changes it assessed until it is stored: in opposite orders, each would wait for the other for ever.
    const [sync, clock] = await Promise.all([r.assessAll('sn-prod', [first.id, second.id]), r.assessAll('sn-prod', [second.id, first.id], { clockTick: true })]);
    expect([sync.failed, clock.failed]).toEqual([0, 0]);
    expect(await assessments.listAssessments(first.id)).toHaveLength(1);
    expect(await assessments.listAssessments(second.id)).toHaveLength(1);
  }, 10_000);

  it('keeps going when one change of a sync cannot be assessed, and counts the failure', async () => {
    const good = await mirror({ state: 'assess' });
    const failing: ChangeStore = Object.assign(Object.create(null) as ChangeStore, {
      getChange: (id: string, options?: Parameters<ChangeStore['getChange']>[1]) => (id === 'servicenow:sn-prod:broken' ? Promise.reject(new Error('disk I/O error')) : store.getChange(id, options)),
      listRevisions: (id: string, options?: { after?: number }) => store.listRevisions(id, options),
      lastRevisionSeq: (id: string) => store.lastRevisionSeq(id),
      noteAssessed: (id: string, seq: number, asOf?: number) => store.noteAssessed(id, seq, asOf),
      mirrorVersion: (instance: string) => store.mirrorVersion(instance),
      listActiveChangesTouching: (q: Parameters<ChangeStore['listActiveChangesTouching']>[0]) => store.listActiveChangesTouching(q),
      listNeighbours: (q: Parameters<ChangeStore['listNeighbours']>[0]) => store.listNeighbours(q),
    });
    await runner(failing).onChangesWritten('sn-prod', ['servicenow:sn-prod:broken', good.id]);
    expect(await assessments.listAssessments(good.id)).toHaveLength(1);
    const counted = (await metrics.assessments.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(counted).toContainEqual(['error', 1]);
  });
});

describe('reactive enforcement', () => {
  it('does not enforce transitions from before the first assessment', async () => {
    await mirror({ state: 'new', nativeState: '-5', nativeStateLabel: 'New', justification: null });
    const c = await mirror({ state: 'assess', justification: null });
    const first = await runner().assessChange(c.id);
    expect(first.enforcements).toEqual([]);
    expect(await assessments.listEnforcements(c.id)).toEqual([]);
  });

  it('moves back a denied transition and holds the verdict until the revert is settled', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    const result = await r.assessChange(c.id);
    expect(result.status).toBe('reverting');
    expect(result.enforcements.map((e) => [e.from, e.to, e.action, e.outcome])).toEqual([['assess', 'authorize', 'revert', 'pending']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('(authorize.plans)');
    const [revert] = await outbox.list({ action: 'transition' });
    expect(revert?.payload).toMatchObject({ action: 'transition', toNativeState: '-4', expectedNativeState: '-3' });
    // No verdict for a state the ticket is about to leave, however often it is synced meanwhile.
    expect(await r.assessChange(c.id)).toMatchObject({ status: 'reverting', enqueued: [] });
    expect(await outbox.list({ action: 'set-verdict' })).toHaveLength(1);
  });

  it('settles a revert from what the outbox recorded, then recognises the move back as its own, from its own record', async () => {
    const r = runner();
    const plans = { implementation: 'Deploy.', backout: '', test: 'Smoke.' };
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans });
    const [revert] = (await r.assessChange(c.id)).enforcements;
    // The worker writes everything queued; it tells the runner nothing.
    for (const item of await outbox.claim(100, NOW)) await outbox.complete(item.id, item.claimToken ?? '', 'written', NOW);

    await mirror({ state: 'assess', nativeState: '-4', nativeStateLabel: 'Assess', plans });
    const after = await r.assessChange(c.id);
    expect(after.status).toBe('assessed');
    expect(after.enforcements.map((e) => [e.from, e.to, e.action, e.outcome, e.idempotencyKey])).toEqual([['authorize', 'assess', 'own-revert', 'recognised', revert?.idempotencyKey]]);
    expect((await assessments.listEnforcements(c.id)).map((e) => [e.action, e.outcome])).toEqual([
      ['revert', 'reverted'],
      ['own-revert', 'recognised'],
    ]);
    // The verdict now follows the change where it was moved back to.
    expect((await outbox.list({ action: 'set-verdict', status: 'pending' })).map((i) => i.payload.action === 'set-verdict' && i.payload.verdict.state)).toEqual(['assess']);
    await r.assessChange(c.id, { force: true });
    const counted = (await metrics.enforcements.get()).values.map((v) => [v.labels.action, v.value]);
    expect(counted).toEqual(expect.arrayContaining([['revert', 1], ['revert-reverted', 1], ['own-revert', 1]]));
    expect(counted.filter(([action]) => action === 'revert-reverted')).toEqual([['revert-reverted', 1]]);
  });

  it('records a revert the ticket system refused, with what it said, and then writes the verdict for where the ticket is', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    await r.assessChange(c.id);
    for (const item of await outbox.claim(100, NOW)) {
      if (item.action === 'transition') await outbox.fail(item.id, item.claimToken ?? '', { code: 'CG_WRITE_REFUSED', kind: 'config', message: 'Business Rule said no' }, NOW);
      else await outbox.complete(item.id, item.claimToken ?? '', 'written', NOW);
    }

    const next = await r.assessChange(c.id);
    expect(next.status).toBe('assessed');
    expect((await assessments.listEnforcements(c.id)).map((e) => [e.action, e.outcome, e.detail])).toEqual([['revert', 'refused', 'Business Rule said no']]);
    expect((await outbox.list({ action: 'set-verdict', status: 'pending' })).map((i) => i.payload.action === 'set-verdict' && i.payload.verdict.state)).toEqual(['authorize']);
  });

  it('judges a move into Scheduled on the approvals as they stood then: a CAB approval given after the move does not excuse it', async () => {
    const r = runner();
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', updatedAt: at(10) });
    const approval = (state: 'requested' | 'approved', minute: number) =>
      store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval: buildApproval({ state, nativeState: state, decidedAt: state === 'approved' ? at(minute) : null, updatedAt: at(minute) }) }], null);
    await approval('requested', 11);
    await r.assessChange(c.id);
    // Moved to Scheduled at 09:20 while the CAB was still deciding; the CAB approved at 09:30; one sync sees both.
    await mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(20) });
    await approval('approved', 30);
    const result = await r.assessChange(c.id);
    expect(result.enforcements.map((e) => [e.from, e.to, e.action])).toEqual([['authorize', 'scheduled', 'revert']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('(scheduled.approvals, pending)');
  });

  it('lets a move into Scheduled stand when the CAB approved before it', async () => {
    const r = runner();
    const c = await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', updatedAt: at(10) });
    await r.assessChange(c.id);
    await store.applyPage('sn-prod', 'approvals', [{ kind: 'approval', changeNativeId: c.nativeId, approval: buildApproval({ state: 'approved', nativeState: 'approved', decidedAt: at(15), updatedAt: at(15) }) }], null);
    await mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(20) });
    expect((await r.assessChange(c.id)).enforcements).toEqual([]);
  });

  it('judges a move on the record as it was moved, not as a later edit left it', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    // Sent to Authorize with no backout plan; the plan was written in a minute later; one sync sees both.
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: 'Switch traffic back.', test: 'Smoke.' } });
    const result = await r.assessChange(c.id);
    expect(result.enforcements.map((e) => [e.from, e.to, e.action])).toEqual([['assess', 'authorize', 'revert']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('backout plan is empty (authorize.plans)');
  });

  it('judges a move to Closed on the alerts firing then, though they were resolved before the sync saw the move', async () => {
    // A critical alert fired on Payments API from 09:00 to 09:40; the change was closed at 09:20.
    const alert: MonitorEvent = {
      id: 'alertmanager:fp-9:2026-03-02T09:00:00Z',
      source: 'alertmanager',
      kind: 'alert',
      status: 'resolved',
      severity: 'critical',
      service: 'Payments API',
      labels: { alertname: 'HighErrorRate', service: 'Payments API' },
      title: 'HighErrorRate',
      startsAt: at(0),
      endsAt: at(40),
      fingerprint: 'fp-9',
      url: null,
    };
    const watched = new AssessmentRunner({
      store,
      assessments,
      outbox,
      policy,
      events: async () => ({ ci: [], monitor: [alert], watch: { covered: true, sources: ['alertmanager'], lastHeartbeat: at(45) } }),
      modeOf: () => mode,
      logger: createLogger({ level: 'silent' }),
      metrics,
      clock: () => NOW,
    });
    const closing = { actualStart: '2026-03-01T22:00:00Z', actualEnd: '2026-03-01T23:00:00Z', closeCode: 'successful', closeNotes: 'Rolled out; canary clean.' };
    const c = await mirror({ state: 'review', nativeState: '0', nativeStateLabel: 'Review', updatedAt: at(-10), ...closing });
    await watched.assessChange(c.id);
    await mirror({ state: 'closed', nativeState: '3', nativeStateLabel: 'Closed', updatedAt: at(20), ...closing });
    const result = await watched.assessChange(c.id);
    expect(result.enforcements.map((e) => [e.from, e.to, e.action])).toEqual([['review', 'closed', 'revert']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('critical alert "HighErrorRate" on Payments API is firing (closed.no-alerts)');
  });

  it('judges a move into Implement on the CI run as it stood then: a re-run still going does not count as the green it became', async () => {
    // The build failed at 08:10; its re-run started at 09:15 and went green at 09:30; the change was moved to Implement at 09:20.
    const ci = [buildRun('github:run:1:1', 'failure', at(-60), at(-50)), buildRun('github:run:1:2', 'success', at(15), at(30))];
    const readinessOnlyCi = parsePolicy(
      ['version: t', 'rules:', '  implement.tests: { enabled: false }', '  implement.scan: { enabled: false }', '  implement.lower-environments: { enabled: false }'].join('\n'),
      'policy.yaml',
    );
    const r = new AssessmentRunner({ store, assessments, outbox, policy: readinessOnlyCi, events: async () => ({ ci, monitor: [] }), modeOf: () => mode, logger: createLogger({ level: 'silent' }), metrics, clock: () => NOW });
    const window = { plannedStart: at(0), plannedEnd: at(120) };
    const c = await mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(5), ...window });
    await r.assessChange(c.id);
    await mirror({ state: 'implement', nativeState: '-1', nativeStateLabel: 'Implement', updatedAt: at(20), ...window });
    const result = await r.assessChange(c.id);
    expect(result.enforcements.map((e) => [e.from, e.to, e.action])).toEqual([['scheduled', 'implement', 'revert']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('latest CI run for 9fceb02 is still running (implement.ci-green, pending)');
  });

  it('judges a move into Implement on the commit its CI ran then, not on one pushed after the move', async () => {
    // The change links no commit (neither default mapping has a commit field): its CI events name the commit.
    const green = { ...buildRun('github:run:7:1', 'success', at(0), at(10)), commit: 'aaaaaaa1111111111111111111111111111111aa' };
    const later = { ...buildRun('github:run:8:1', 'success', at(25), at(35)), commit: 'bbbbbbb2222222222222222222222222222222bb' };
    const ciOnly = parsePolicy(
      ['version: t', 'rules:', '  implement.tests: { enabled: false }', '  implement.scan: { enabled: false }', '  implement.lower-environments: { enabled: false }'].join('\n'),
      'policy.yaml',
    );
    const r = new AssessmentRunner({ store, assessments, outbox, policy: ciOnly, events: async () => ({ ci: [green, later], monitor: [] }), modeOf: () => mode, logger: createLogger({ level: 'silent' }), metrics, clock: () => NOW });
    const fields = { plannedStart: at(0), plannedEnd: at(120), links: { repos: [], commits: [], artifacts: [], pipelines: [] } };
    const c = await mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(5), ...fields });
    await r.assessChange(c.id);
    // Moved to Implement at 09:20 on a green build of aaaaaaa; a new commit was built from 09:25.
    await mirror({ state: 'implement', nativeState: '-1', nativeStateLabel: 'Implement', updatedAt: at(20), ...fields });
    const result = await r.assessChange(c.id);
    expect(result.enforcements).toEqual([]);
  });

  it('only explains a denied transition when the ticket has moved on since, even in enforce mode', async () => {
    const r = runner();
    const c = await mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    await mirror({ state: 'new', nativeState: '-5', nativeStateLabel: 'New', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    const result = await r.assessChange(c.id);
    expect(result.status).toBe('assessed');
    expect(result.enforcements.map((e) => [e.from, e.to, e.action, e.outcome, e.detail])).toEqual([['assess', 'authorize', 'comment', 'commented', 'the ticket is in New now']]);
    const explained = await outbox.get(result.enforcements[0]?.idempotencyKey ?? '');
    expect(explained?.payload).toMatchObject({ note: { title: expect.stringContaining('Assess → Authorize'), footer: [expect.stringContaining('has moved on since')] } });
    // Judged once: later runs leave the revision alone.
    expect((await r.assessChange(c.id, { force: true })).enforcements).toEqual([]);
  });
});
