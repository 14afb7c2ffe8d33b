import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { seededRandom } from '../../connectors/jira/simulator/seeded-random.ts';
import type { WebhookOptions } from '../../connectors/jira/simulator/sim-types.ts';

const BASE = 'https://acme.atlassian.net';
const HOOK = 'https://changegate.example/v1/webhooks/jira/jsm-cloud';
const SECRET = 'whsec-test-1';
const capture = JSON.parse(readFileSync(new URL('../fixtures/jira/webhook-jira-issue_updated.cloud-capture.json', import.meta.url), 'utf8')) as Record<string, unknown> & { issue: { fields: Record<string, unknown> } };

// Delivery bodies are arbitrary Jira JSON; the assertions below pin their shape.
// oxlint-disable-next-line typescript/no-explicit-any
type Json = any;

interface Received {
  raw: Buffer;
  headers: Headers;
  body: Json;
}

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

function setup(webhook: Partial<WebhookOptions>, answer: (n: number) => number = () => 200): { sim: JiraSimulator; received: Received[] } {
  const received: Received[] = [];
  const sim = new JiraSimulator({ baseUrl: BASE, webhook: { url: HOOK, ...webhook } });
  server.resetHandlers(
    ...sim.handlers(),
    http.post(HOOK, async ({ request }) => {
      const raw = Buffer.from(await request.arrayBuffer());
      received.push({ raw, headers: request.headers, body: JSON.parse(raw.toString('utf8')) as Json });
      return new HttpResponse(null, { status: answer(received.length) });
    }),
  );
  return { sim, received };
}

describe('admin webhooks', () => {
  it('signs the exact bytes sent with HMAC-SHA256 in X-Hub-Signature', async () => {
    const { sim, received } = setup({ secret: SECRET });
    const key = sim.createIssue({ summary: 'Patch kernel', description: 'Line one\n\nLine two' }).key;
    sim.editIssue(key, { description: 'Rewritten — with ünïcode' });
    await sim.flushWebhooks();
    expect(received).toHaveLength(2);
    for (const r of received) {
      const header = r.headers.get('x-hub-signature') ?? '';
      expect(header.startsWith('sha256=')).toBe(true);
      const expected = createHmac('sha256', SECRET).update(r.raw).digest();
      expect(timingSafeEqual(Buffer.from(header.slice(7), 'hex'), expected)).toBe(true);
      const tampered = createHmac('sha256', 'other-secret').update(r.raw).digest();
      expect(timingSafeEqual(Buffer.from(header.slice(7), 'hex'), tampered)).toBe(false);
    }
  });

  it('shapes deliveries like the Cloud capture: v2 issue with string description, changelog items, event names', async () => {
    const { sim, received } = setup({});
    const key = sim.createIssue({ summary: 'Rotate certs', description: 'old text' }, { as: 'alice.requester' }).key;
    sim.editIssue(key, { description: 'new text' }, { as: 'bob.implementer' });
    sim.transitionIssue(key, 'Planning');
    sim.addComment(key, 'CAB notes', { as: 'carol.changemgr' });
    await sim.flushWebhooks();
    const [created, edited, moved, commented] = received.map((r) => r.body);
    expect(created).toMatchObject({ webhookEvent: 'jira:issue_created', issue_event_type_name: 'issue_created' });
    expect(created?.changelog.items.find((i: { fieldId: string }) => i.fieldId === 'status')).toMatchObject({ field: 'Status', toString: 'Open' });
    expect(edited).toMatchObject({ webhookEvent: 'jira:issue_updated', issue_event_type_name: 'issue_updated', user: { displayName: 'Bob Implementer' } });
    expect(edited?.changelog.items).toEqual([{ field: 'description', fieldtype: 'jira', fieldId: 'description', from: null, fromString: 'old text', to: null, toString: 'new text' }]);
    expect(edited?.issue.fields.description).toBe('new text');
    expect(edited?.issue.self).toMatch(/\/rest\/api\/2\//);
    expect(edited?.issue.fields.status.self).toMatch(/\/rest\/api\/2\/status\//);
    expect(moved).toMatchObject({ issue_event_type_name: 'issue_generic' });
    expect(moved?.changelog.items[0]).toMatchObject({ field: 'status', fromString: 'Open', toString: 'Planning' });
    expect(commented).toMatchObject({ webhookEvent: 'jira:issue_updated', issue_event_type_name: 'issue_commented', comment: { body: 'CAB notes' } });
    expect(Object.keys(capture)).toEqual(expect.arrayContaining(Object.keys(edited ?? {})));
    const shared = ['summary', 'status', 'updated', 'created', 'reporter', 'customfield_10005', 'customfield_10006', 'issuetype', 'project'];
    expect(Object.keys(edited?.issue.fields ?? {})).toEqual(expect.arrayContaining(shared));
    expect(Object.keys(capture.issue.fields)).toEqual(expect.arrayContaining(shared));
    expect(typeof edited?.timestamp).toBe('number');
    const ids = received.map((r) => r.headers.get('x-atlassian-webhook-identifier'));
    expect(new Set(ids).size).toBe(4);
    expect(received.every((r) => r.headers.get('x-atlassian-webhook-flow') === 'Primary' && !r.headers.has('x-atlassian-webhook-retry'))).toBe(true);
  });

  it('drops and duplicates deliveries at roughly the configured rates with a seeded random', async () => {
    const { sim, received } = setup({ dropRate: 0.2, duplicateRate: 0.1, random: seededRandom(42) });
    const key = sim.createIssue({ summary: 'v0' }).key;
    for (let i = 1; i < 500; i++) sim.editIssue(key, { summary: `v${i}` });
    await sim.flushWebhooks();
    const s = sim.webhookStats;
    expect(s.emitted).toBe(500);
    expect(s.dropped).toBeGreaterThan(64);
    expect(s.dropped).toBeLessThan(136);
    expect(s.duplicated).toBeGreaterThan(16);
    expect(s.duplicated).toBeLessThan(64);
    expect(received).toHaveLength(s.emitted - s.dropped + s.duplicated);
    expect(s.sent).toBe(received.length);
    const byId = new Map<string, Received[]>();
    for (const r of received) byId.set(r.headers.get('x-atlassian-webhook-identifier') ?? '', [...(byId.get(r.headers.get('x-atlassian-webhook-identifier') ?? '') ?? []), r]);
    expect(byId.size).toBe(s.emitted - s.dropped);
    const dupes = [...byId.values()].filter((list) => list.length === 2);
    expect(dupes).toHaveLength(s.duplicated);
    for (const [first, second] of dupes) {
      expect(second?.raw.equals(first?.raw ?? Buffer.alloc(0))).toBe(true);
      expect(second?.headers.get('x-atlassian-webhook-retry')).toBe('1');
    }
  });

  it('reorders deliveries queued together when asked to', async () => {
    const { sim, received } = setup({ reorder: true, random: seededRandom(7) });
    const key = sim.createIssue({ summary: 'v0' }).key;
    await sim.flushWebhooks();
    received.length = 0;
    for (let i = 1; i <= 20; i++) sim.editIssue(key, { summary: `v${i}` });
    await sim.flushWebhooks();
    const order = received.map((r) => Number(String(r.body.changelog.items[0].toString).slice(1)));
    expect(order.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(order).not.toEqual(order.toSorted((a, b) => a - b));
  });

  it('redelivers after a 5xx with the same identifier and a retry count', async () => {
    const { sim, received } = setup({}, (n) => (n === 1 ? 503 : 200));
    sim.createIssue({ summary: 'x' });
    await sim.flushWebhooks();
    expect(received).toHaveLength(2);
    expect(received[1]?.headers.get('x-atlassian-webhook-identifier')).toBe(received[0]?.headers.get('x-atlassian-webhook-identifier'));
    expect(received[1]?.headers.get('x-atlassian-webhook-retry')).toBe('1');
    expect(sim.webhookStats).toMatchObject({ emitted: 1, delivered: 1, retried: 1, failed: 0 });
  });

  it('delivers only issues matching the JQL filter', async () => {
    const { sim, received } = setup({ jqlFilter: 'issuetype = "[System] Change"' });
    sim.createIssue({ summary: 'incident' }, { issueType: '[System] Incident' });
    const change = sim.createIssue({ summary: 'change' }).key;
    await sim.flushWebhooks();
    expect(received.map((r) => r.body.issue.key)).toEqual([change]);
  });
});
