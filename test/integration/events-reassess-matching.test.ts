// A CI event or alert that names no change key still reaches the changes the
// correlator finds it for (a run on a commit a change links, a run from its
// service's repository, an alert on its service): the event processor
// re-assesses those changes as soon as the delivery is processed, so their
// stored verdict moves without waiting for the clock pass. Finished changes
// are left alone, each change is re-assessed once per delivery however many
// rules reach it, and at most MAX_REACHED changes per delivery.

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Change } from '../../src/domain/change.ts';
import { MAX_REACHED } from '../../src/events/event-processor.ts';
import type { ServicesMapping } from '../../src/events/services-mapping.ts';
import { eventWorld, runDayChange as change, type EventWorld } from '../support/event-world.ts';

const run = readFileSync(new URL('../fixtures/events/github_workflow_run_completed.json', import.meta.url));
/** The fixture's run: octo-org/octo-repo at this commit, finished 2020-10-05 16:33:49 UTC. */
const SHA = '3484a3fb816e0859fd6e1cea078d76385ff50625';
const REPO = 'octo-org/octo-repo';
const NOW = new Date('2020-10-05T17:00:00Z');
const I = 'sn-prod';

const services: ServicesMapping = {
  'Payments API': { repositories: [REPO], pipelines: [], environments: [], alertLabels: { service: 'payments' } },
};
const noLinks = { repos: [], commits: [], artifacts: [], pipelines: [] };
const payments = [{ id: 'payments-svc', name: 'Payments API' }];

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

/** The event world with no source routes: deliver() stores a delivery as a route would. `runner: false`: nothing is assessed, only what the processor asks for is counted. */
async function world(changes: readonly Change[], options: { runner?: boolean } = {}): Promise<EventWorld> {
  w = await eventWorld({ now: NOW, instance: I, sources: [], changes, services, monitors: [{ id: 'am' }], assess: options.runner !== false });
  return w;
}

async function deliver(source: string, kind: string, deliveryId: string, headers: Record<string, string>, body: Buffer): Promise<void> {
  await w.stores.events.record({ source, kind, deliveryId, receivedAt: NOW.toISOString(), headers, rawBody: body });
}

const githubRun = (deliveryId = 'run-1') => deliver('github', 'github', deliveryId, { 'x-github-event': 'workflow_run', 'x-github-delivery': deliveryId }, run);

function alert(service: string, startsAt: string) {
  const body = {
    version: '4',
    groupKey: 'g1',
    status: 'firing',
    receiver: 'changegate',
    alerts: [
      { status: 'firing', labels: { alertname: 'Watchdog', severity: 'none' }, annotations: {}, startsAt, endsAt: '0001-01-01T00:00:00Z', fingerprint: 'watchdog' },
      { status: 'firing', labels: { alertname: 'HighErrorRate', service, severity: 'critical' }, annotations: { summary: `5xx on ${service}` }, startsAt, endsAt: '0001-01-01T00:00:00Z', fingerprint: 'errors' },
    ],
  };
  return deliver('am', 'alertmanager', 'alert-1', {}, Buffer.from(JSON.stringify(body)));
}

const gate = async (changeId: string, id: string) => (await w.stores.assessments.latestAssessment(changeId))?.assessment.gates.find((g) => g.id === id)?.result;
const assessmentsOf = async (changeId: string) => (await w.stores.assessments.listAssessments(changeId)).length;

describe('EventProcessor: changes reached by the correlator rules', () => {
  it('re-assesses at once the active changes a CI run reaches by their commit or their service repository, once each, and no finished or unrelated one', async () => {
    const onCommit = change(1, { links: { ...noLinks, commits: [SHA] } });
    const onRepository = change(2, { services: payments });
    const onBoth = change(3, { services: payments, links: { ...noLinks, commits: [SHA] } });
    const closed = change(4, { state: 'closed', services: payments, links: { ...noLinks, commits: [SHA] }, closeCode: 'successful', closeNotes: 'done' });
    const unrelated = change(5, { links: { ...noLinks, commits: ['0123456789abcdef0123456789abcdef01234567'] } });
    // On the service, but created after the run: the repository rule does not give it the run.
    const later = change(6, { services: payments, createdAt: '2020-10-05T16:40:00Z' });
    const { processor, reassessed } = await world([onCommit, onRepository, onBoth, closed, unrelated, later]);
    for (const c of [onCommit, onRepository, onBoth]) expect(await gate(c.id, 'implement.ci-green')).not.toBe('pass');
    const closedBefore = await assessmentsOf(closed.id);

    await githubRun();
    expect(await processor.drain()).toBe(1);

    expect(reassessed.toSorted()).toEqual([onCommit.id, onRepository.id, onBoth.id].toSorted());
    // No clock pass ran: the run is in their stored verdicts already.
    for (const c of [onCommit, onRepository, onBoth]) expect(await gate(c.id, 'implement.ci-green')).toBe('pass');
    expect(await gate(unrelated.id, 'implement.ci-green')).not.toBe('pass');
    expect(await assessmentsOf(closed.id)).toBe(closedBefore);
    // Nothing was linked: the read side finds the run by its rules.
    expect(await w.stores.events.linkedEvents(onCommit)).toEqual([]);
  });

  it('re-assesses at once the active changes an alert on their service reaches, by the service name or the mapping\'s alert labels', async () => {
    const inReview = { state: 'review' as const, actualStart: '2020-10-05T16:00:00Z', actualEnd: '2020-10-05T16:30:00Z' };
    const byName = change(1, { ...inReview, services: [{ id: 'checkout-svc', name: 'Checkout' }] });
    const byLabel = change(2, { ...inReview, services: payments });
    const closed = change(3, { state: 'closed', services: payments, closeCode: 'successful', closeNotes: 'done' });
    const { processor, reassessed } = await world([byName, byLabel, closed]);
    expect(await gate(byLabel.id, 'closed.no-alerts')).not.toBe('fail');
    const closedBefore = await assessmentsOf(closed.id);

    await alert('payments', '2020-10-05T16:50:00Z');
    await deliver('am', 'alertmanager', 'alert-2', {}, Buffer.from(JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'Down', service: 'Checkout', severity: 'critical' }, startsAt: '2020-10-05T16:51:00Z', fingerprint: 'down' }] })));
    expect(await processor.drain()).toBe(2);

    expect(reassessed.toSorted()).toEqual([byName.id, byLabel.id].toSorted());
    expect(await gate(byLabel.id, 'closed.no-alerts')).toBe('fail');
    expect(await gate(byName.id, 'closed.no-alerts')).toBe('fail');
    expect(await assessmentsOf(closed.id)).toBe(closedBefore);
  });

  it(`re-assesses at most ${MAX_REACHED} changes per delivery`, async () => {
    const many = Array.from({ length: MAX_REACHED + 30 }, (_, i) => change(i + 1, { links: { ...noLinks, commits: [SHA] } }));
    const { processor, reassessed } = await world(many, { runner: false });
    await githubRun();
    await processor.drain();
    expect(reassessed).toHaveLength(MAX_REACHED);
    expect(new Set(reassessed).size).toBe(MAX_REACHED);
  });
});
