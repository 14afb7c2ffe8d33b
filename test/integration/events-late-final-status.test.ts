// A GitLab pipeline that failed, had its failed job retried and then succeeded
// keeps its id: the hook reports it failed (finished 15:26) and later green
// (finished 15:40). When the failed report arrives after the green one (held
// back by a changegate outage and re-sent from GitLab's "Recent events", or
// sent again under a new id), it is an older state of the run: the change's CI
// gate stays green. A final state that ended later is news and still replaces.

import { afterEach, describe, expect, it } from 'vitest';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';
import { eventWorld, type EventWorld } from '../support/event-world.ts';
import { fixtureJson } from '../support/source-delivery.ts';

const TOKEN = 'gitlab-token';
const NOW = new Date('2016-08-12T16:00:00Z');
/** The fixture pipeline's commit. */
const SHA = 'bcbb5ec396a2c0f828686f14fac9b80b780504f2';

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

const change = buildChange({
  nativeId: sysId(1),
  key: changeNumber(1),
  state: 'scheduled',
  links: { repos: [], commits: [SHA], artifacts: [], pipelines: [] },
  createdAt: '2016-08-10T09:00:00Z',
  plannedStart: '2016-08-12T16:30:00Z',
  plannedEnd: '2016-08-12T18:00:00Z',
  updatedAt: '2016-08-11T09:00:00Z',
});

/** The real pipeline hook (pipeline 31) reporting `status`, finished at `finishedAt` (GitLab's own time format). */
async function pipelineHook(status: string, finishedAt: string, idempotencyKey: string): Promise<void> {
  const body = fixtureJson('gitlab_pipeline_hook.json') as { object_attributes: Record<string, unknown> };
  body.object_attributes['status'] = status;
  body.object_attributes['finished_at'] = finishedAt;
  const answer = await w.app.inject({
    method: 'POST',
    url: '/v1/events/gitlab',
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': TOKEN, 'idempotency-key': idempotencyKey },
  });
  expect(answer.statusCode).toBe(202);
  expect(await w.processor.drain()).toBe(1);
}

const ciGreen = async () => (await w.gate(change.id, 'implement.ci-green'))?.result;

describe('a GitLab pipeline reported failed after it was reported green on a retry', () => {
  it('stays green when the failed report, which ended earlier, arrives late; a later end still replaces', async () => {
    w = await eventWorld({ now: NOW, instance: 'sn-prod', sources: [{ id: 'gitlab', kind: 'gitlab', secrets: [TOKEN] }], changes: [change] });

    await pipelineHook('failed', '2016-08-12 15:26:29 UTC', 'hook-1');
    expect(await ciGreen()).toBe('fail');
    await pipelineHook('success', '2016-08-12 15:40:00 UTC', 'hook-2');
    expect(await ciGreen()).toBe('pass');

    // The first report again, re-sent under a new id: older than what is stored.
    await pipelineHook('failed', '2016-08-12 15:26:29 UTC', 'hook-1-resent');
    expect(await ciGreen()).toBe('pass');
    expect((await w.stores.events.getEvent('gitlab:pipeline:31'))?.event).toMatchObject({ status: 'success', finishedAt: '2016-08-12T15:40:00.000Z' });

    // Retried again and failed for good, later: that is news.
    await pipelineHook('failed', '2016-08-12 15:52:00 UTC', 'hook-3');
    expect(await ciGreen()).toBe('fail');
  });
});
