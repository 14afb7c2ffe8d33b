// Reactive enforcement through the assessment runner over the real SQLite
// stores: it judges each observed transition once, on the inputs as they stood
// when the ticket moved, never enforces history before the first assessment,
// and does not fight a ticket that has moved on.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CiEvent, MonitorEvent } from '../../src/domain/events.ts';
import { parsePolicy } from '../../src/policy/policy-config.ts';
import { at } from '../support/change-builder.ts';
import { NOW, runnerWorld, type RunnerWorld } from '../support/runner-world.ts';

let world: RunnerWorld;
beforeEach(() => {
  world = runnerWorld();
});
afterEach(() => world.close());

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

describe('reactive enforcement', () => {
  it('does not enforce transitions from before the first assessment', async () => {
    await world.mirror({ state: 'new', nativeState: '-5', nativeStateLabel: 'New', justification: null });
    const c = await world.mirror({ state: 'assess', justification: null });
    const first = await world.runner().assessChange(c.id);
    expect(first.enforcements).toEqual([]);
    expect(await world.assessments.listEnforcements(c.id)).toEqual([]);
  });

  it('moves back a denied transition and holds the verdict until the revert is settled', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    const result = await r.assessChange(c.id);
    expect(result.status).toBe('reverting');
    expect(result.enforcements.map((e) => [e.from, e.to, e.action, e.outcome])).toEqual([['assess', 'authorize', 'revert', 'pending']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('(authorize.plans)');
    const [revert] = await world.outbox.list({ action: 'transition' });
    expect(revert?.payload).toMatchObject({ action: 'transition', toNativeState: '-4', expectedNativeState: '-3' });
    // No verdict for a state the ticket is about to leave, however often it is synced meanwhile.
    expect(await r.assessChange(c.id)).toMatchObject({ status: 'reverting', enqueued: [] });
    expect(await world.outbox.list({ action: 'set-verdict' })).toHaveLength(1);
  });

  it('settles a revert from what the outbox recorded, then recognises the move back as its own, from its own record', async () => {
    const r = world.runner();
    const plans = { implementation: 'Deploy.', backout: '', test: 'Smoke.' };
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans });
    const [revert] = (await r.assessChange(c.id)).enforcements;
    // The worker writes everything queued; it tells the runner nothing.
    for (const item of await world.outbox.claim(100, NOW)) await world.outbox.complete(item.id, item.claimToken ?? '', 'written', NOW);

    await world.mirror({ state: 'assess', nativeState: '-4', nativeStateLabel: 'Assess', plans });
    const after = await r.assessChange(c.id);
    expect(after.status).toBe('assessed');
    expect(after.enforcements.map((e) => [e.from, e.to, e.action, e.outcome, e.idempotencyKey])).toEqual([['authorize', 'assess', 'own-revert', 'recognised', revert?.idempotencyKey]]);
    expect((await world.assessments.listEnforcements(c.id)).map((e) => [e.action, e.outcome])).toEqual([
      ['revert', 'reverted'],
      ['own-revert', 'recognised'],
    ]);
    // The verdict now follows the change where it was moved back to.
    expect((await world.outbox.list({ action: 'set-verdict', status: 'pending' })).map((i) => i.payload.action === 'set-verdict' && i.payload.verdict.state)).toEqual(['assess']);
    await r.assessChange(c.id, { force: true });
    const counted = (await world.metrics.enforcements.get()).values.map((v) => [v.labels.action, v.value]);
    expect(counted).toEqual(expect.arrayContaining([['revert', 1], ['revert-reverted', 1], ['own-revert', 1]]));
    expect(counted.filter(([action]) => action === 'revert-reverted')).toEqual([['revert-reverted', 1]]);
  });

  it('records a revert the ticket system refused, with what it said, and then writes the verdict for where the ticket is', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    await r.assessChange(c.id);
    for (const item of await world.outbox.claim(100, NOW)) {
      if (item.action === 'transition') await world.outbox.fail(item.id, item.claimToken ?? '', { code: 'CG_WRITE_REFUSED', kind: 'config', message: 'Business Rule said no' }, NOW);
      else await world.outbox.complete(item.id, item.claimToken ?? '', 'written', NOW);
    }

    const next = await r.assessChange(c.id);
    expect(next.status).toBe('assessed');
    expect((await world.assessments.listEnforcements(c.id)).map((e) => [e.action, e.outcome, e.detail])).toEqual([['revert', 'refused', 'Business Rule said no']]);
    expect((await world.outbox.list({ action: 'set-verdict', status: 'pending' })).map((i) => i.payload.action === 'set-verdict' && i.payload.verdict.state)).toEqual(['authorize']);
  });

  it('judges a move into Scheduled on the approvals as they stood then: a CAB approval given after the move does not excuse it', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', updatedAt: at(10) });
    await world.approval(c, 'requested', 11);
    await r.assessChange(c.id);
    // Moved to Scheduled at 09:20 while the CAB was still deciding; the CAB approved at 09:30; one sync sees both.
    await world.mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(20) });
    await world.approval(c, 'approved', 30);
    const result = await r.assessChange(c.id);
    expect(result.enforcements.map((e) => [e.from, e.to, e.action])).toEqual([['authorize', 'scheduled', 'revert']]);
    expect(result.enforcements[0]?.reasons.join('\n')).toContain('(scheduled.approvals, pending)');
  });

  it('lets a move into Scheduled stand when the CAB approved before it', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', updatedAt: at(10) });
    await r.assessChange(c.id);
    await world.approval(c, 'approved', 15);
    await world.mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(20) });
    expect((await r.assessChange(c.id)).enforcements).toEqual([]);
  });

  it('judges a move on the record as it was moved, not as a later edit left it', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    // Sent to Authorize with no backout plan; the plan was written in a minute later; one sync sees both.
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: 'Switch traffic back.', test: 'Smoke.' } });
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
    const watched = world.runner({
      events: async () => ({ ci: [], monitor: [alert], watch: { covered: true, sources: ['alertmanager'], lastHeartbeat: at(45) } }),
    });
    const closing = { actualStart: '2026-03-01T22:00:00Z', actualEnd: '2026-03-01T23:00:00Z', closeCode: 'successful', closeNotes: 'Rolled out; canary clean.' };
    const c = await world.mirror({ state: 'review', nativeState: '0', nativeStateLabel: 'Review', updatedAt: at(-10), ...closing });
    await watched.assessChange(c.id);
    await world.mirror({ state: 'closed', nativeState: '3', nativeStateLabel: 'Closed', updatedAt: at(20), ...closing });
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
    const r = world.runner({ policy: readinessOnlyCi, events: async () => ({ ci, monitor: [] }) });
    const window = { plannedStart: at(0), plannedEnd: at(120) };
    const c = await world.mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(5), ...window });
    await r.assessChange(c.id);
    await world.mirror({ state: 'implement', nativeState: '-1', nativeStateLabel: 'Implement', updatedAt: at(20), ...window });
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
    const r = world.runner({ policy: ciOnly, events: async () => ({ ci: [green, later], monitor: [] }) });
    const fields = { plannedStart: at(0), plannedEnd: at(120), links: { repos: [], commits: [], artifacts: [], pipelines: [] } };
    const c = await world.mirror({ state: 'scheduled', nativeState: '-2', nativeStateLabel: 'Scheduled', updatedAt: at(5), ...fields });
    await r.assessChange(c.id);
    // Moved to Implement at 09:20 on a green build of aaaaaaa; a new commit was built from 09:25.
    await world.mirror({ state: 'implement', nativeState: '-1', nativeStateLabel: 'Implement', updatedAt: at(20), ...fields });
    const result = await r.assessChange(c.id);
    expect(result.enforcements).toEqual([]);
  });

  it('only explains a denied transition when the ticket has moved on since, even in enforce mode', async () => {
    const r = world.runner();
    const c = await world.mirror({ state: 'assess' });
    await r.assessChange(c.id);
    await world.mirror({ state: 'authorize', nativeState: '-3', nativeStateLabel: 'Authorize', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    await world.mirror({ state: 'new', nativeState: '-5', nativeStateLabel: 'New', plans: { implementation: 'Deploy.', backout: '', test: 'Smoke.' } });
    const result = await r.assessChange(c.id);
    expect(result.status).toBe('assessed');
    expect(result.enforcements.map((e) => [e.from, e.to, e.action, e.outcome, e.detail])).toEqual([['assess', 'authorize', 'comment', 'commented', 'the ticket is in New now']]);
    const explained = await world.outbox.get(result.enforcements[0]?.idempotencyKey ?? '');
    expect(explained?.payload).toMatchObject({ note: { title: expect.stringContaining('Assess → Authorize'), footer: [expect.stringContaining('has moved on since')] } });
    // Judged once: later runs leave the revision alone.
    expect((await r.assessChange(c.id, { force: true })).enforcements).toEqual([]);
  });
});
