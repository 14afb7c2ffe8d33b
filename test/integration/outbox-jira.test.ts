// The outbox worker and the Jira writer against the Jira simulator (in-process
// msw): the `changegate.verdict` issue property the Forge validator reads, ADF
// comments (JSM internal notes) carrying their idempotency key as a comment property (checked
// before posting), workflow transitions found by target status, and a move the
// workflow does not offer parked with an explanation, and one refused for a
// conflicting update tried again; the newest note of a series found however
// few comments Jira answers a page, and a note's key found when Get comments
// by IDs answers a page of the ids asked, or never answers some. Some tests put a handler in front of the
// simulator for what it does not do by itself (a 409, a page cap).

import { getResponse, http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TicketNote, TicketVerdict } from '../../src/kit/connector.ts';
import { createJiraHttp } from '../../connectors/jira/jira-http.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { createJiraWriter, PROPERTY_MAX, VERDICT_PROPERTY } from '../../connectors/jira/jira-writer.ts';
import { adfToText } from '../../connectors/jira/simulator/adf.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';
import { jiraOutboxSite, OUTBOX_T0 } from '../support/jira-outbox-site.ts';

const BASE = 'https://acme.atlassian.net';
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const mapping = loadJiraMapping();
const logger = createLogger({ level: 'silent' });
// The site's clock.
const T0 = OUTBOX_T0;

const note: TicketNote = {
  title: 'ITSM-1 is blocked before Implement',
  tone: 'error',
  lines: ['State Scheduled. Allowed next: Canceled.'],
  table: { columns: ['Check', 'Before', 'Result', 'Why'], rows: [['implement.ci-green', 'Implement', 'FAIL', 'latest CI run for 9fceb02 failed']] },
  items: ['before Implement: latest CI run for 9fceb02 failed (implement.ci-green)'],
};

/** Options of a note of the verdict series saying decision `digest`. */
const verdictSeries = (digest: string) => ({ series: { name: 'verdict', digest } });

function world(flavor: 'cloud' | 'datacenter' = 'cloud', site: { commentListMaxResults?: number } = {}) {
  const { sim, instance } = jiraOutboxSite(flavor, site);
  server.resetHandlers(...sim.handlers());
  const writer = createJiraWriter({ http: createJiraHttp(instance, { logger }), flavor, mapping });
  const outbox = SqliteOutboxStore.open(':memory:');
  let now = T0;
  const worker = new OutboxWorker({ outbox, writerFor: () => writer, logger, metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date(now) });
  const issue = sim.createIssue({ summary: 'Rotate the payments HSM keys', 'Change type': 'Normal' }, { issueType: '[System] Change' });
  const later = (ms: number) => {
    now += ms;
  };
  return { sim, writer, outbox, worker, issue, later };
}

describe('Jira write-back', () => {
  it('posts an ADF comment once, keyed by a comment property it checks first', async () => {
    const w = world();
    expect(await w.writer.comment(w.issue.id, note, 'k-1')).toBe('written');
    expect(await w.writer.comment(w.issue.id, note, 'k-1')).toBe('already-done');
    w.sim.addComment(w.issue.key, 'A human comment in between.');
    expect(await w.writer.comment(w.issue.id, { ...note, title: 'ITSM-1 may move to Implement', tone: 'success' }, 'k-2')).toBe('written');

    const comments = w.sim.issue(w.issue.key).comments;
    const internal = { key: 'sd.public.comment', value: { internal: true } };
    expect(comments.map((c) => c.properties ?? [])).toEqual([[{ key: 'changegate', value: { idempotencyKey: 'k-1' } }, internal], [], [{ key: 'changegate', value: { idempotencyKey: 'k-2' } }, internal]]);
    const first = comments[0]?.body;
    expect(first?.content.map((n) => n.type)).toEqual(['heading', 'panel', 'bulletList', 'table', 'paragraph']);
    expect(first?.content[1]).toMatchObject({ attrs: { panelType: 'error' } });
    const text = adfToText(first);
    expect(text).toContain('changegate: ITSM-1 is blocked before Implement');
    expect(text).toContain('latest CI run for 9fceb02 failed');
    expect(text).toContain('[changegate:k-1]');
    // The look-up is Get comments by IDs with their properties.
    const lookups = w.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/comment/list'));
    expect(lookups).toHaveLength(2);
  });

  it('finds the newest verdict note of the series when Jira answers fewer comments a page than asked', async () => {
    const w = world();
    const { id, key } = w.issue;
    // Jira caps maxResults per operation: this site answers at most 50 comments a page.
    server.use(
      http.get(`${BASE}/rest/api/3/issue/:key/comment`, ({ request }) => {
        const url = new URL(request.url);
        url.searchParams.set('maxResults', String(Math.min(50, Number(url.searchParams.get('maxResults') ?? 50))));
        return getResponse(w.sim.handlers(), new Request(url, request));
      }),
    );
    const humans = (n: number) => {
      for (let i = 0; i < n; i++) w.sim.addComment(key, `status update ${i}`);
    };
    // Newest first, the issue ends with 130 comments: the decision B note at 50, the decision A note at 120.
    humans(9);
    expect(await w.writer.comment(id, { ...note, title: 'blocked' }, 'k-A', verdictSeries('A'))).toBe('written');
    humans(69);
    expect(await w.writer.comment(id, { ...note, title: 'allowed' }, 'k-B', verdictSeries('B'))).toBe('written');
    humans(50);
    const ours = () => w.sim.issue(key).comments.filter((c) => (c.properties ?? []).length > 0).map((c) => adfToText(c.body));
    expect(w.sim.issue(key).comments).toHaveLength(130);

    // Decision B again under a new key (a fresh store): the ticket already says it.
    expect(await w.writer.comment(id, { ...note, title: 'allowed' }, 'k-B2', verdictSeries('B'))).toBe('already-done');
    expect(ours()).toHaveLength(2);
    // Decision A comes back after B: it is said again.
    expect(await w.writer.comment(id, { ...note, title: 'blocked again' }, 'k-A2', verdictSeries('A'))).toBe('written');
    expect(ours()).toHaveLength(3);
    expect(ours()[2]).toContain('changegate: blocked again');
  });

  it('posts a note once when Jira answers Get comments by IDs a page at a time and the answer to the post was lost', async () => {
    // This site answers at most 50 comments per Get comments by IDs (isLast: false beyond), oldest first.
    const w = world('cloud', { commentListMaxResults: 50 });
    const { id, key } = w.issue;
    for (let i = 0; i < 120; i++) w.sim.addComment(key, `status update ${i}`);
    // Jira applies the first post, but its answer never arrives: the outbox must find the note before trying again.
    let lost = 1;
    server.use(
      http.post(`${BASE}/rest/api/3/issue/:key/comment`, async ({ request }) => {
        if (lost === 0) return undefined;
        lost -= 1;
        await getResponse(w.sim.handlers(), request);
        return HttpResponse.error();
      }),
    );
    await w.outbox.enqueue([{ instance: 'jsm', changeId: `jira:jsm:${id}`, nativeId: id, source: 'assessment', idempotencyKey: 'verdict-1', payload: { action: 'comment', note } }], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ retried: 1, written: 0 });
    w.later(15 * 60_000);
    expect(await w.worker.drain()).toMatchObject({ alreadyDone: 1, written: 0, failed: 0 });
    expect(await w.outbox.get('verdict-1')).toMatchObject({ status: 'done' });
    const ours = w.sim.issue(key).comments.filter((c) => (c.properties ?? []).length > 0);
    expect(ours).toHaveLength(1);
    // A look-up before each post; each asks again for the ids not yet answered, 50 a request once the site said so.
    const lookups = w.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/comment/list'));
    expect(lookups.length).toBeLessThanOrEqual(2 * (Math.ceil(121 / 50) + 1));
  });

  it('ends the look-up when comments it listed are gone by the time it asks for them', async () => {
    const w = world('cloud', { commentListMaxResults: 50 });
    const { id, key } = w.issue;
    const humans = Array.from({ length: 120 }, (_, i) => w.sim.addComment(key, `status update ${i}`));
    expect(await w.writer.comment(id, note, 'k-1')).toBe('written');
    // Between the listing and the look-up, people delete 60 of the comments (a comment the caller may not see is absent alike).
    let deleted = false;
    server.use(
      http.post(`${BASE}/rest/api/3/comment/list`, () => {
        if (!deleted) for (const c of humans.slice(30, 90)) w.sim.deleteComment(key, c.id);
        deleted = true;
        return undefined;
      }),
    );
    w.sim.resetRequests();
    expect(await w.writer.comment(id, note, 'k-1')).toBe('already-done');
    expect(await w.writer.comment(id, { ...note, title: 'another' }, 'k-2')).toBe('written');
    expect(w.sim.issue(key).comments.filter((c) => (c.properties ?? []).length > 0)).toHaveLength(2);
    expect(w.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/comment/list')).length).toBeLessThanOrEqual(8);
  });

  it('ends the look-up on a site that counts the comments it may not show against its page', async () => {
    const w = world();
    const { id, key } = w.issue;
    const humans = Array.from({ length: 120 }, (_, i) => w.sim.addComment(key, `status update ${i}`));
    expect(await w.writer.comment(id, note, 'k-1')).toBe('written');
    // Whether Jira pages the ids asked for before or after dropping those the caller may not see is not documented.
    // This site does it before: a page of 50 ids, 40 of them hidden, answers 10 comments and isLast: false.
    const hidden = new Set(humans.slice(0, 100).map((c) => c.id));
    server.use(
      http.post(`${BASE}/rest/api/3/comment/list`, async ({ request }) => {
        const { ids } = (await request.clone().json()) as { ids: number[] };
        const page = ids.toSorted((a, b) => a - b).slice(0, 50);
        const answer = (await (await getResponse(w.sim.handlers(), new Request(request.url, { method: 'POST', headers: request.headers, body: JSON.stringify({ ids: page }) })))?.json()) as { values: { id: string }[] };
        const values = answer.values.filter((c) => !hidden.has(c.id));
        return HttpResponse.json({ maxResults: 50, startAt: 0, total: values.length, isLast: ids.length <= 50, values });
      }),
    );
    w.sim.resetRequests();
    expect(await w.writer.comment(id, note, 'k-1')).toBe('already-done');
    expect(await w.writer.comment(id, { ...note, title: 'another' }, 'k-2')).toBe('written');
    expect(w.sim.issue(key).comments.filter((c) => (c.properties ?? []).length > 0)).toHaveLength(2);
  });

  it('keeps the verdict in the issue property, naming each workflow status a move may reach, within 32 KB', async () => {
    const w = world();
    const verdict: TicketVerdict = {
      verdict: 'blocked',
      state: 'scheduled',
      transitions: [
        { to: 'implement', toName: 'Implementing', gates: ['implement.tests'], allowed: false, reasons: Array.from({ length: 200 }, (_, i) => `reason ${i}: ${'x'.repeat(400)}`) },
        { to: 'canceled', toName: 'Canceled', gates: [], allowed: true, reasons: [] },
      ],
      reasons: ['before Implement: many things'],
      breaches: [],
      policyVersion: '2026.1+3f9a2c1b',
      assessedAt: '2026-04-09T10:00:00.000Z',
    };
    await w.outbox.enqueue(
      [{ instance: 'jsm', changeId: `jira:jsm:${w.issue.id}`, nativeId: w.issue.id, source: 'assessment', idempotencyKey: 'v', payload: { action: 'set-verdict', verdict } }],
      new Date(T0),
    );
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    const stored = w.sim.issue(w.issue.key).properties.get(VERDICT_PROPERTY) as Record<string, unknown> & { allowedTransitions: { to: string; toStatus: string; allowed: boolean; reasons: string[] }[] };
    expect(JSON.stringify(stored).length).toBeLessThanOrEqual(PROPERTY_MAX);
    expect(stored).toMatchObject({ verdict: 'blocked', state: 'scheduled', policyVersion: '2026.1+3f9a2c1b', assessedAt: '2026-04-09T10:00:00.000Z' });
    expect(stored.allowedTransitions.map((t) => [t.to, t.toStatus, t.allowed])).toEqual([
      ['implement', 'Implementing', false],
      ['canceled', 'Canceled', true],
    ]);
    // Shortened to fit, never dropped while shortening is enough.
    expect(stored.allowedTransitions[0]?.reasons).toHaveLength(200);
    expect(stored.allowedTransitions[0]?.reasons[0]).toMatch(/^reason 0: x+…$/);
  });

  it('shortens the reasons of a verdict too large for the property without cutting a character outside the BMP in half', async () => {
    const w = world();
    // Each reason's last kept place (500 characters) falls between the two UTF-16 halves of the rocket.
    const reason = `${'x'.repeat(499)}🚀 ${'y'.repeat(300)}`;
    const verdict: TicketVerdict = {
      verdict: 'blocked',
      state: 'scheduled',
      transitions: [{ to: 'implement', toName: 'Implementing', gates: ['implement.tests'], allowed: false, reasons: Array.from({ length: 50 }, () => reason) }],
      reasons: [],
      breaches: [],
      policyVersion: '2026.1+3f9a2c1b',
      assessedAt: '2026-04-09T10:00:00.000Z',
    };
    await w.outbox.enqueue(
      [{ instance: 'jsm', changeId: `jira:jsm:${w.issue.id}`, nativeId: w.issue.id, source: 'assessment', idempotencyKey: 'v', payload: { action: 'set-verdict', verdict } }],
      new Date(T0),
    );
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    const stored = w.sim.issue(w.issue.key).properties.get(VERDICT_PROPERTY) as { allowedTransitions: { reasons: string[] }[] };
    const kept = stored.allowedTransitions[0]?.reasons ?? [];
    expect(kept).toHaveLength(50);
    expect(kept.filter((r) => !r.isWellFormed())).toEqual([]);
    expect(kept[0]).toBe(`${'x'.repeat(499)}…`);
  });

  it('moves an issue back through the transition that leads to the status, or parks the move when the workflow has none', async () => {
    const w = world();
    const { key, id } = w.issue;
    w.sim.transitionIssue(key, 'Planning');
    const item = (toNativeState: string, expectedNativeState: string, k: string) => ({
      instance: 'jsm',
      changeId: `jira:jsm:${id}`,
      nativeId: id,
      source: 'enforcement' as const,
      idempotencyKey: k,
      payload: { action: 'transition' as const, toNativeState, expectedNativeState, noteAfter: { ...note, title: 'moved back' }, noteIfRefused: { ...note, title: 'could not move back' } },
    });
    // Planning → Open: the default change workflow has no such transition.
    await w.outbox.enqueue([item('Open', 'Planning', 'back-to-open')], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ failed: 1, written: 1 });
    expect(await w.outbox.get('back-to-open')).toMatchObject({ status: 'failed', lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    const refusal = adfToText(w.sim.issue(key).comments.at(-1)?.body);
    expect(refusal).toContain('could not move back');
    expect(refusal).toContain('The ticket system said: the workflow of');
    expect(refusal).toContain('offers no transition from "Planning" to "Open"');

    w.sim.transitionIssue(key, 'Awaiting CAB approval');
    await w.outbox.enqueue([item('Planning', 'Awaiting CAB approval', 'back-to-planning')], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ written: 2 });
    expect(w.sim.workflow.status(w.sim.issue(key).state.fields.status as string)?.name).toBe('Planning');
    const posted = w.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/transitions'));
    expect(posted).toHaveLength(1);
  });

  it('tries a move back again when Jira refuses it for a conflicting update, and posts no refusal', async () => {
    const w = world();
    const { key, id } = w.issue;
    for (const status of ['Planning', 'Awaiting CAB approval']) w.sim.transitionIssue(key, status);
    // Someone edits the issue while changegate moves it: Jira answers the first POST with 409, the next reaches the simulator.
    let conflicts = 1;
    server.use(
      http.post(`${BASE}/rest/api/3/issue/:key/transitions`, () => {
        if (conflicts === 0) return undefined;
        conflicts -= 1;
        return HttpResponse.json({ errorMessages: ['The issue was updated by another user. Try again.'], errors: {} }, { status: 409 });
      }),
    );
    await w.outbox.enqueue(
      [
        {
          instance: 'jsm',
          changeId: `jira:jsm:${id}`,
          nativeId: id,
          source: 'enforcement',
          idempotencyKey: 'move-back',
          payload: { action: 'transition', toNativeState: 'Planning', expectedNativeState: 'Awaiting CAB approval', noteAfter: { ...note, title: 'moved back' }, noteIfRefused: { ...note, title: 'could not move back' } },
        },
      ],
      new Date(T0),
    );
    expect(await w.worker.drain()).toMatchObject({ retried: 1, failed: 0 });
    expect(await w.outbox.get('move-back')).toMatchObject({ status: 'pending', lastError: { code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient' } });
    expect(w.sim.issue(key).comments).toHaveLength(0);

    w.later(15 * 60_000);
    expect(await w.worker.drain()).toMatchObject({ written: 2, retried: 0, failed: 0 });
    expect(await w.outbox.get('move-back')).toMatchObject({ status: 'done' });
    expect(w.sim.workflow.status(w.sim.issue(key).state.fields.status as string)?.name).toBe('Planning');
    const said = w.sim.issue(key).comments.map((c) => adfToText(c.body));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('moved back');
    expect(said[0]).not.toContain('could not move back');
  });

  it.each(['cloud', 'datacenter'] as const)('keeps its notes off the customer portal on JSM (%s): each is an internal note', async (flavor) => {
    const w = world(flavor);
    await w.outbox.enqueue([{ instance: 'jsm', changeId: `jira:jsm:${w.issue.id}`, nativeId: w.issue.id, source: 'assessment', idempotencyKey: 'internal-1', payload: { action: 'comment', note } }], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ written: 1 });
    // What the requester sees: the JSM request's public comments.
    const authorization = flavor === 'cloud' ? `Basic ${Buffer.from('ops@acme.example:t-ops').toString('base64')}` : 'Bearer pat-ops';
    const seen = async (query: string) => ((await (await fetch(`${BASE}/rest/servicedeskapi/request/${w.issue.key}/comment?${query}`, { headers: { authorization } })).json()) as { values: { body: string }[] }).values;
    expect(await seen('internal=false')).toEqual([]);
    const agents = await seen('public=false');
    expect(agents).toHaveLength(1);
    expect(agents[0]?.body).toContain('[changegate:internal-1]');
  });

  it('writes to Data Center through REST v2, the note as text', async () => {
    const w = world('datacenter');
    expect(await w.writer.comment(w.issue.id, note, 'dc-1')).toBe('written');
    expect(await w.writer.comment(w.issue.id, note, 'dc-1')).toBe('already-done');
    const text = adfToText(w.sim.issue(w.issue.key).comments[0]?.body);
    expect(text).toContain('changegate: ITSM-1 is blocked before Implement');
    expect(text).toContain('[changegate:dc-1]');
    expect(w.sim.requests.filter((r) => r.method === 'POST').every((r) => r.path.startsWith('/rest/api/2/'))).toBe(true);
  });
});
