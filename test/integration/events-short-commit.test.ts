// A CI names a commit by its full sha or an abbreviation of it (a results
// upload with `--commit $(git rev-parse --short HEAD)`, GitLab's deployment
// hook, a change whose implementer pasted `9fceb02d0a` into the commit field).
// The gates accept either form for the same commit; the correlation must too:
// what arrives through POST /v1/events/:source(/results) reaches the change that
// links the other form, is re-assessed at once and judged on the ticket, in
// any case, but never through an abbreviation under 7 characters.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Change } from '../../src/domain/change.ts';
import { eventWorld, runDayChange, type EventWorld } from '../support/event-world.ts';

const SECRET = 'gh-secret';
const run = readFileSync(new URL('../fixtures/events/github_workflow_run_completed.json', import.meta.url));
/** The fixture's run: at this commit, finished 2020-10-05 16:33:49 UTC. */
const SHA = '3484a3fb816e0859fd6e1cea078d76385ff50625';
const NOW = new Date('2020-10-05T17:00:00Z');
const I = 'sn-prod';
const sign = (body: Buffer): string => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
const failing = Buffer.from('<testsuite name="unit"><testcase classname="Pay" name="charges"><failure message="boom"/></testcase><testcase classname="Pay" name="refunds"/></testsuite>');

/** Change `n` of the run's day, linking `commits`. */
const change = (n: number, commits: string[]): Change => runDayChange(n, { links: { repos: [], commits, artifacts: [], pipelines: [] } });

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

async function world(changes: readonly Change[]): Promise<EventWorld> {
  w = await eventWorld({ now: NOW, instance: I, sources: [{ id: 'github', kind: 'github', secrets: [SECRET] }], changes });
  return w;
}

const postRun = (body: Buffer) =>
  w.app.inject({ method: 'POST', url: '/v1/events/github', payload: body, headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': 'run-1', 'x-hub-signature-256': sign(body) } });
const postResults = (commit: string) =>
  w.app.inject({ method: 'POST', url: `/v1/events/github/results?commit=${commit}&name=unit%20tests`, payload: failing, headers: { 'content-type': 'application/xml', 'x-hub-signature-256': sign(failing) } });

const gate = (changeId: string, id: string) => w.gate(changeId, id);

describe('a commit named in full by one side and abbreviated by the other', () => {
  it('a results upload for an abbreviated commit reaches the change linking the full sha: re-assessed at once, its tests judged', async () => {
    const full = change(1, [SHA]);
    const other = change(2, ['0123456789abcdef0123456789abcdef01234567']);
    const { processor, correlator, reassessed } = await world([full, other]);
    expect((await gate(full.id, 'implement.tests'))?.result).toBe('pending');

    expect((await postResults(SHA.slice(0, 10).toUpperCase())).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);

    expect(reassessed).toEqual([full.id]);
    expect(await gate(full.id, 'implement.tests')).toMatchObject({ result: 'fail', reason: expect.stringMatching(/^1 test failed in the latest run for 3484a3f /) });
    expect((await correlator.eventsFor(full, NOW)).events.map((e) => [e.event.type === 'ci' && e.event.event.kind, e.rule])).toEqual([['test', 'commit']]);
    expect((await correlator.eventsFor(other, NOW)).events).toEqual([]);
  });

  it('a run on the full sha reaches the change that links an abbreviation of it in another case, and not one linking 6 characters', async () => {
    const short = change(1, ['3484A3FB81']);
    const tooShort = change(2, ['3484a3']);
    const { processor, correlator, reassessed } = await world([short, tooShort]);
    expect((await gate(short.id, 'implement.ci-green'))?.result).not.toBe('pass');

    expect((await postRun(run)).statusCode).toBe(202);
    expect(await processor.drain()).toBe(1);

    expect(reassessed).toEqual([short.id]);
    expect((await gate(short.id, 'implement.ci-green'))?.result).toBe('pass');
    expect((await correlator.eventsFor(short, NOW)).events.map((e) => [e.event.id, e.rule])).toEqual([['github:run:289782451:1', 'commit']]);
    expect((await correlator.eventsFor(tooShort, NOW)).events).toEqual([]);
  });
});
