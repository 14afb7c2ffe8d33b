// The same CI run can be delivered again naming other change keys: a run that
// started naming one change and completed naming another, a corrected payload
// from a pipeline. The change it no longer names must stop seeing it: what
// arrives through POST /v1/events/:source re-assesses that change at once, and
// its implement gates no longer judge on the run; the change it names now does.

import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Change } from '../../src/domain/change.ts';
import { Correlator } from '../../src/events/correlate.ts';
import { eventWorld, runDayChange as change, type EventWorld } from '../support/event-world.ts';

const SECRET = 'pipe-secret';
const SHA = '3484a3fb816e0859fd6e1cea078d76385ff50625';
const NOW = new Date('2020-10-05T17:00:00Z');
const I = 'sn-prod';

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

async function world(changes: readonly Change[]): Promise<EventWorld> {
  w = await eventWorld({ now: NOW, instance: I, sources: [{ id: 'pipe', kind: 'generic', secrets: [SECRET] }], changes });
  return w;
}

/** The pipeline's report of its run `r1` on SHA, naming `changeKeys` as it gives them. */
const postRun = (status: string, changeKeys: string[]) => {
  const raw = Buffer.from(JSON.stringify({ ci: [{ id: 'r1', status, commit: SHA, changeKeys, finishedAt: '2020-10-05T16:30:00Z' }] }));
  const signature = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
  return w.app.inject({ method: 'POST', url: '/v1/events/pipe', payload: raw, headers: { 'content-type': 'application/json', 'x-changegate-signature': signature } });
};

const gate = (changeId: string, id: string) => w.gate(changeId, id);
const rules = async (correlator: Correlator, c: Change) => (await correlator.eventsFor(c, NOW)).events.map((e) => [e.event.id, e.rule]);

describe('a CI run delivered again naming another change', () => {
  it('no longer counts for the change it named before: re-assessed at once, its gates back to waiting; the change it names now is judged on it', async () => {
    const old = change(1);
    const named = change(2);
    const { processor, correlator, reassessed } = await world([old, named]);

    // The generic source passes keys as given: a lower-case key still names the change.
    expect((await postRun('success', [old.key.toLowerCase()])).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);
    expect(await gate(old.id, 'implement.ci-green')).toMatchObject({ result: 'pass' });
    expect(await rules(correlator, old)).toEqual([['pipe:r1', 'linked:change-key']]);

    // The corrected payload: the run failed, and it was for the other change.
    reassessed.length = 0;
    expect((await postRun('failure', [named.key])).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);

    expect(reassessed.toSorted()).toEqual([old.id, named.id].toSorted());
    expect(await gate(old.id, 'implement.ci-green')).toMatchObject({ result: 'pending', reason: expect.stringMatching(/^waiting for a CI run of a commit for this change/) });
    expect(await rules(correlator, old)).toEqual([]);
    expect(await gate(named.id, 'implement.ci-green')).toMatchObject({ result: 'fail', reason: expect.stringMatching(/^latest CI run for 3484a3f .* failed$/) });
    expect(await rules(correlator, named)).toEqual([['pipe:r1', 'linked:change-key']]);
  });
});
