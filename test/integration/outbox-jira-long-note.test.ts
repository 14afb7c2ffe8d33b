// A verdict note longer than a Jira comment can hold, through the outbox worker
// and the Jira writer against the Jira simulator (which refuses a comment body
// over 32,767 characters, counting the serialised ADF, with Jira's 400): the
// note is posted shortened, saying so and where the whole of it is, with the
// verdict and what each reason holds up kept, and still posted once when the
// answer to the post was lost and the outbox tries again.

import { readFileSync } from 'node:fs';
import { getResponse, http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraHttp } from '../../connectors/jira/jira-http.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { COMMENT_PROPERTY, createJiraWriter } from '../../connectors/jira/jira-writer.ts';
import { adfToText } from '../../connectors/jira/simulator/adf.ts';
import { assessmentNote, namerFor, ticketVerdict } from '../../src/assess/verdict-text.ts';
import type { Assessment } from '../../src/domain/assessment.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';
import { jiraOutboxSite, OUTBOX_T0 } from '../support/jira-outbox-site.ts';

const BASE = 'https://acme.atlassian.net';
const COMMENT_MAX = 32_767;
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

// The site's clock.
const T0 = OUTBOX_T0;
const logger = createLogger({ level: 'silent' });

function world(flavor: 'cloud' | 'datacenter') {
  const { sim, instance } = jiraOutboxSite(flavor);
  server.resetHandlers(...sim.handlers());
  const writer = createJiraWriter({ http: createJiraHttp(instance, { logger }), flavor, mapping: loadJiraMapping() });
  const outbox = SqliteOutboxStore.open(':memory:');
  let now = T0;
  const worker = new OutboxWorker({ outbox, writerFor: () => writer, logger, metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date(now) });
  const issue = sim.createIssue({ summary: 'Rotate the payments HSM keys', 'Change type': 'Standard' }, { issueType: '[System] Change' });
  const later = (ms: number) => {
    now += ms;
  };
  return { sim, outbox, worker, issue, later };
}

/** A standard change in Implementing (a demo capture) failing `count` checks of it, each with a long reason of its own and advice for administrators. */
function longVerdict(key: string, count: number, reasonChars: number) {
  const input = JSON.parse(readFileSync(new URL('../golden/notes/blocked-across-gates.input.json', import.meta.url), 'utf8')) as { assessment: Assessment };
  const violations = Array.from({ length: count }, (_, i) => ({
    gate: `implement.check-${i}`,
    state: 'implement' as const,
    reason: `evidence ${i} is missing: ${`the deployment record of service ${i} names no artefact `.repeat(reasonChars / 50)}`.slice(0, reasonChars),
    hint: `rule implement.check-${i} reads the field deployment.record-${i}; ${'switch it off in the policy for a service that deploys nothing '.repeat(4)}`,
  }));
  const assessment: Assessment = { ...input.assessment, key, violations: [...input.assessment.violations, ...violations] };
  const names = namerFor({ state: 'implement', nativeStateLabel: 'Implementing' });
  const verdict = ticketVerdict(assessment, 'standard', names);
  return { verdict, note: assessmentNote(assessment, verdict, 'standard', names) };
}

describe('Jira write-back of a note longer than a comment can hold', () => {
  it('refuses a comment body over 32,767 characters with the 400 Jira answers (the simulator)', async () => {
    const w = world('cloud');
    const body = { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x'.repeat(COMMENT_MAX) }] }] };
    const res = await fetch(`${BASE}/rest/api/3/issue/${w.issue.key}/comment`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('ops@acme.example:t-ops').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ body }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errorMessages: [], errors: { comment: 'The entered text is too long. It exceeds the allowed limit of 32,767 characters.' } });
    expect(w.sim.issue(w.issue.key).comments).toHaveLength(0);
  });

  it.each(['cloud', 'datacenter'] as const)('posts a verdict with many long reasons shortened to fit, once, also when the answer to the post was lost (%s)', async (flavor) => {
    const w = world(flavor);
    const { id, key } = w.issue;
    const { note } = longVerdict(key, 40, 1500);
    const first = note.items?.find((item) => item.startsWith('Evidence 0 ')) ?? '';
    expect(first.length).toBeGreaterThan(1500);
    // Jira applies the first post, but its answer never arrives: the outbox must find the note before trying again.
    let lost = 1;
    const sent: number[] = [];
    server.use(
      http.post(`${BASE}/rest/api/:v/issue/:key/comment`, async ({ request }) => {
        // What Jira measures: the ADF as JSON on Cloud, the text on Data Center.
        const { body } = (await request.clone().json()) as { body: unknown };
        sent.push(typeof body === 'string' ? body.length : JSON.stringify(body).length);
        if (lost === 0) return undefined;
        lost -= 1;
        await getResponse(w.sim.handlers(), request);
        return HttpResponse.error();
      }),
    );
    const series = { name: 'verdict', digest: '0123456789abcdef' };
    await w.outbox.enqueue([{ instance: 'jsm', changeId: `jira:jsm:${id}`, nativeId: id, source: 'assessment', idempotencyKey: 'verdict-long', payload: { action: 'comment', note, series } }], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ retried: 1, failed: 0 });
    w.later(15 * 60_000);
    expect(await w.worker.drain()).toMatchObject({ alreadyDone: 1, written: 0, failed: 0 });
    expect(await w.outbox.get('verdict-long')).toMatchObject({ status: 'done' });

    const comments = w.sim.issue(key).comments;
    expect(comments).toHaveLength(1);
    const posted = comments[0];
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeLessThanOrEqual(COMMENT_MAX);
    expect(posted?.properties?.find((p) => p.key === COMMENT_PROPERTY)?.value).toEqual({ idempotencyKey: 'verdict-long', series });
    const text = adfToText(posted?.body);
    // The verdict and every blocker, each still saying what it holds up, its reason cut short.
    expect(text).toContain(`changegate: ${note.title}`);
    expect(text).toContain(`To resolve (${(note.items ?? []).length}):`);
    expect(text).toContain('Evidence 0 is missing: the deployment record of service 0');
    expect(text).toContain('Evidence 39 is missing');
    expect(text).toContain('… — required while in Implementing, and not met now.');
    expect(text).not.toContain(first);
    // Said to be shortened, and where the whole note is.
    // The command in code on Cloud; Data Center shows the backticks.
    const command = flavor === 'cloud' ? `changegate check ${key}` : `\`changegate check ${key}\``;
    expect(text).toContain(`This note was shortened to fit in a Jira comment; the whole of it: GET /v1/changes/${key}/history or ${command}.`);
    expect(text).toContain('[changegate:verdict-long] [changegate-series:verdict:0123456789abcdef]');

    // The same decision queued again under a new key (a fresh store): the ticket already says it.
    await w.outbox.enqueue([{ instance: 'jsm', changeId: `jira:jsm:${id}`, nativeId: id, source: 'assessment', idempotencyKey: 'verdict-long-2', payload: { action: 'comment', note, series } }], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ alreadyDone: 1, written: 0, failed: 0 });
    expect(w.sim.issue(key).comments).toHaveLength(1);
  });

  it('lists the first blockers and "and N more" when even short reasons do not fit, the administrators\' part left out', async () => {
    const w = world('cloud');
    const { id, key } = w.issue;
    const { note } = longVerdict(key, 400, 300);
    const total = (note.items ?? []).length;
    await w.outbox.enqueue([{ instance: 'jsm', changeId: `jira:jsm:${id}`, nativeId: id, source: 'assessment', idempotencyKey: 'verdict-many', payload: { action: 'comment', note } }], new Date(T0));
    expect(await w.worker.drain()).toMatchObject({ written: 1, failed: 0 });

    const posted = w.sim.issue(key).comments[0]?.body;
    expect(JSON.stringify(posted).length).toBeLessThanOrEqual(COMMENT_MAX);
    const list = posted?.content.find((n) => n.type === 'bulletList') as { content: unknown[] } | undefined;
    const text = adfToText(posted);
    const more = /… and (\d+) more\./.exec(text);
    expect(more).not.toBeNull();
    // The items shown, then the line counting the rest: every blocker accounted for.
    expect((list?.content.length ?? 0) - 1 + Number(more?.[1])).toBe(total);
    expect(text).toContain(`To resolve (${total}):`);
    expect(text).toContain('Evidence 0 is missing');
    expect(text).not.toContain('Details for administrators');
    expect(text).toContain(`the whole of it: GET /v1/changes/${key}/history or changegate check ${key}.`);
    expect(text).toContain('[changegate:verdict-many]');
  });
});
