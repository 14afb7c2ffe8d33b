// A sender whose delivery id header is present but blank (a pipeline template
// whose `X-Changegate-Delivery: ${DELIVERY_ID}` names an unset variable, a
// proxy that empties `X-GitHub-Delivery`) names no delivery: each delivery is
// de-duplicated by a hash of its body, as from a sender that sends no id, and
// not all stored under the one empty id, where every delivery after the first
// would be answered 202 "duplicate" and never processed.

import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { eventWorld, type EventWorld } from '../support/event-world.ts';
import { fixtureBytes, fixtureJson } from '../support/source-delivery.ts';

const SECRET = 'source-secret';
const NOW = new Date('2020-10-05T17:00:00Z');
const sign = (body: Buffer): string => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

async function world(): Promise<EventWorld> {
  w = await eventWorld({
    now: NOW,
    instance: 'sn-prod',
    sources: [
      { id: 'pipeline', kind: 'generic', secrets: [SECRET] },
      { id: 'github', kind: 'github', secrets: [SECRET] },
    ],
    assess: false,
  });
  return w;
}

const postGeneric = (runId: string, deliveryHeader: string) => {
  const body = Buffer.from(JSON.stringify({ ci: [{ id: runId, status: 'success', commit: '9fceb02d0ae598e95dc970b74767f19372d61af8' }] }));
  return w.app.inject({
    method: 'POST',
    url: '/v1/events/pipeline',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-changegate-signature': sign(body), 'x-changegate-delivery': deliveryHeader },
  });
};

describe('POST /v1/events/:source with a blank delivery id header', () => {
  it('stores and processes each distinct generic delivery, de-duplicating a replay by its body', async () => {
    const { processor, stores } = await world();
    const answers = [await postGeneric('build-1', ''), await postGeneric('build-2', ''), await postGeneric('build-3', '   '), await postGeneric('build-3', '   ')];
    expect(answers.map((r) => r.statusCode)).toEqual([202, 202, 202, 202]);
    expect(answers.map((r) => r.json().duplicate)).toEqual([false, false, false, true]);
    expect(answers[0]?.json().deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await processor.drain()).toBe(3);
    const stored = await Promise.all(['build-1', 'build-2', 'build-3'].map(async (id) => (await stores.events.getEvent(`pipeline:${id}`))?.event.status));
    expect(stored).toEqual(['success', 'success', 'success']);
  });

  it('stores and processes each distinct GitHub run sent with an empty X-GitHub-Delivery', async () => {
    const { processor, stores } = await world();
    const run = fixtureJson('github_workflow_run_completed.json');
    const other = structuredClone(run) as { workflow_run: { id: number; run_attempt: number } };
    const { id, run_attempt: attempt } = other.workflow_run;
    other.workflow_run.id = id + 1;
    const bodies = [fixtureBytes('github_workflow_run_completed.json'), Buffer.from(JSON.stringify(other))];
    const answers = [];
    for (const body of bodies) {
      answers.push(
        await w.app.inject({
          method: 'POST',
          url: '/v1/events/github',
          payload: body,
          headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': '', 'x-hub-signature-256': sign(body) },
        }),
      );
    }
    expect(answers.map((r) => [r.statusCode, r.json().duplicate])).toEqual([
      [202, false],
      [202, false],
    ]);
    expect(await processor.drain()).toBe(2);
    expect((await stores.events.findEvents({ source: 'github' })).map((e) => e.id)).toEqual([`github:run:${id}:${attempt}`, `github:run:${id + 1}:${attempt}`]);
  });
});
