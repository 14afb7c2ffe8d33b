// A pipeline posts a green build naming its change in lower case (`chg0030001`,
// as the sender wrote it) through a generic source before changegate has
// mirrored that change. Nothing is linked then; once the change is mirrored,
// its assessment finds the run by its key in any case, as a change is found by
// its key, and the CI gate is green: it does not wait for a run that came.

import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { GateResult } from '../../src/domain/assessment.ts';
import { eventWorld, type EventWorld } from '../support/event-world.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const SECRET = 'pipeline-secret';
const NOW = new Date('2026-03-02T12:00:00Z');
const I = 'sn-prod';

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

async function world(): Promise<EventWorld> {
  w = await eventWorld({ now: NOW, instance: I, sources: [{ id: 'pipeline', kind: 'generic', secrets: [SECRET] }] });
  return w;
}

/** A green build and test run that finished ten minutes ago, naming the change as the pipeline wrote it. */
async function postRun(changeKey: string): Promise<void> {
  const run = {
    id: 'build-481',
    kind: 'build',
    status: 'success',
    commit: '9fceb02d0ae598e95dc970b74767f19372d61af8',
    name: 'build-and-test',
    changeKeys: [changeKey],
    startedAt: '2026-03-02T11:45:00Z',
    finishedAt: '2026-03-02T11:50:00Z',
  };
  const body = JSON.stringify({ ci: [run] });
  const response = await w.app.inject({
    method: 'POST',
    url: '/v1/events/pipeline',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-changegate-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
  });
  expect(response.statusCode).toBe(202);
}

async function ciGreen(changeId: string): Promise<GateResult | undefined> {
  return (await w.stores.assessments.latestAssessment(changeId))?.assessment.gates.find((g) => g.id === 'implement.ci-green');
}

describe('a CI run naming a change key in another case, received before the change was mirrored', () => {
  it('counts for the change once it is mirrored: the CI gate is green, not waiting for a run', async () => {
    const { processor, runner } = await world();
    await postRun(changeNumber(1).toLowerCase());
    expect(await processor.drain()).toBe(1);

    // No commit linked (neither default mapping has a commit field): the run is found by the key it names, or not at all.
    const links = { repos: [], commits: [], artifacts: [], pipelines: [] };
    const change = buildChange({ nativeId: sysId(1), key: changeNumber(1), state: 'scheduled', links, createdAt: '2026-03-01T09:00:00Z', plannedStart: '2026-03-02T13:00:00Z', plannedEnd: '2026-03-02T14:00:00Z', updatedAt: '2026-03-02T11:55:00Z' });
    await w.stores.changes.applyPage(I, 'changes', [{ kind: 'change', change }], null);
    await runner.onChangesWritten(I, [change.id]);

    const gate = await ciGreen(change.id);
    expect(gate?.result).toBe('pass');
    expect(gate?.reason).toBe('latest CI run for 9fceb02 at 2026-03-02 11:50 UTC is green');
  });
});
