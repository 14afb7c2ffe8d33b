// Exactly once on the ticket, not only in the store: a verdict note is a note
// of a series, and a writer finds the newest note of the series on the ticket
// itself before posting. A store that was lost, restored from a backup or
// pointed at a fresh file asks again under a new key: the ticket already says
// it, so nothing is posted. A decision that comes back after another (A, B, A)
// is posted again. Both writers, against their simulators (in-process msw),
// with more comments than one page of the lookup.

import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { createJiraHttp } from '../../connectors/jira/jira-http.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { createJiraWriter } from '../../connectors/jira/jira-writer.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { createServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { createServiceNowWriter } from '../../connectors/servicenow/servicenow-writer.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import type { ConnectorWriter, TicketNote } from '../../src/kit/connector.ts';
import { markersFor } from '../../src/kit/ticket-note.ts';
import { createLogger } from '../../src/log.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const logger = createLogger({ level: 'silent' });
const note = (title: string): TicketNote => ({ title, tone: 'info', lines: [`${title}.`] });
const verdict = (digest: string) => ({ series: { name: 'verdict', digest } });

interface World {
  writer: ConnectorWriter;
  ticket: string;
  /** Texts of changegate's notes on the ticket, oldest first. */
  ours(): string[];
  /** A person comments (time moves on a minute first). */
  human(text: string): void;
  tick(): void;
}

function jiraWorld(): World {
  let now = Date.parse('2026-04-09T10:00:00Z');
  const sim = new JiraSimulator({ baseUrl: 'https://acme.atlassian.net', clock: () => now, auth: { basic: [{ email: 'ops@acme.example', apiToken: 't' }] } });
  server.resetHandlers(...sim.handlers());
  const instance = JiraInstance.parse({ id: 'jsm', system: 'jira', baseUrl: 'https://acme.atlassian.net', auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't' }, projects: ['ITSM'], retries: 0 });
  const writer = createJiraWriter({ http: createJiraHttp(instance, { logger }), flavor: 'cloud', mapping: loadJiraMapping() });
  const issue = sim.createIssue({ summary: 'Rotate the payments HSM keys', 'Change type': 'Normal' }, { issueType: '[System] Change' });
  const tick = () => {
    now += 60_000;
  };
  return {
    writer,
    ticket: issue.id,
    ours: () => sim.issue(issue.key).comments.filter((c) => (c.properties ?? []).length > 0).map((c) => JSON.stringify(c.body)),
    human(text) {
      tick();
      sim.addComment(issue.key, text);
    },
    tick,
  };
}

function serviceNowWorld(): World {
  let now = Date.parse('2026-04-06T08:00:00Z');
  const sim = new ServiceNowSimulator({ baseUrl: 'https://acme.service-now.com', clock: () => new Date(now), timeZone: 'UTC' });
  server.resetHandlers(...sim.handlers());
  const instance = ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0 });
  const writer = createServiceNowWriter({ client: createServiceNowClient(instance, { logger }), mapping: loadServiceNowMapping() });
  const sysId = sim.createChange({ short_description: 'Patch the payments DB', type: 'normal' }).sys_id as string;
  const tick = () => {
    now += 60_000;
  };
  return {
    writer,
    ticket: sysId,
    ours: () => sim.journalFor(sysId).filter((r) => r.element === 'work_notes' && String(r.value).includes('[changegate:')).map((r) => String(r.value)),
    human(text) {
      tick();
      sim.addJournal(sysId, 'work_notes', text, 'beth.anglin');
    },
    tick,
  };
}

describe.each([
  ['Jira', jiraWorld],
  ['ServiceNow', serviceNowWorld],
])('%s: a verdict note is posted once per decision, judged from the ticket', (_name, makeWorld) => {
  it('does not post the same decision again under another key (the store that knew the first key is gone)', async () => {
    const w = makeWorld();
    expect(await w.writer.comment(w.ticket, note('Blocked before Implement'), 'chg@7:aaaa:comment', verdict('d-A'))).toBe('written');
    w.human('Looked at it, will add the backout plan.');
    // A fresh store re-assesses: revision 1, a new key, the same decision.
    expect(await w.writer.comment(w.ticket, note('Blocked before Implement'), 'chg@1:aaaa:comment', verdict('d-A'))).toBe('already-done');
    expect(w.ours()).toHaveLength(1);
  });

  it('posts a decision that comes back after another (A, B, A), and never the same one twice in a row', async () => {
    const w = makeWorld();
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'k-1', verdict('d-A'))).toBe('written');
    w.tick();
    expect(await w.writer.comment(w.ticket, note('Allowed'), 'k-2', verdict('d-B'))).toBe('written');
    w.tick();
    expect(await w.writer.comment(w.ticket, note('Blocked again'), 'k-3', verdict('d-A'))).toBe('written');
    expect(await w.writer.comment(w.ticket, note('Blocked again'), 'k-4', verdict('d-A'))).toBe('already-done');
    // A retried item whose note is on the ticket is found by its key, whatever came after it.
    expect(await w.writer.comment(w.ticket, note('Allowed'), 'k-2', verdict('d-B'))).toBe('already-done');
    expect(w.ours()).toHaveLength(3);
  });

  it('finds its note behind more than a page of newer comments', async () => {
    const w = makeWorld();
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'k-old', verdict('d-A'))).toBe('written');
    for (let i = 0; i < 130; i++) w.human(`status update ${i}`);
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'k-old', verdict('d-A'))).toBe('already-done');
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'k-new', verdict('d-A'))).toBe('already-done');
    expect(await w.writer.comment(w.ticket, note('An enforcement note'), 'k-plain')).toBe('written');
    expect(await w.writer.comment(w.ticket, note('An enforcement note'), 'k-plain')).toBe('already-done');
    expect(w.ours()).toHaveLength(2);
  });
});

// sys_created_on has one-second resolution, and the outbox drains a change's notes back to back:
// two verdict notes often share a second, and ServiceNow returns tied rows in no set order.
describe.each(['inserted', 'reversed'] as const)('ServiceNow: verdict notes posted within one second (ties returned %s)', (tieOrder) => {
  function sameSecond(): { sim: ServiceNowSimulator; writer: ConnectorWriter; ticket: string; ours(): string[] } {
    const now = new Date('2026-04-06T08:00:00Z');
    const sim = new ServiceNowSimulator({ baseUrl: 'https://acme.service-now.com', clock: () => now, timeZone: 'UTC', tieOrder });
    server.resetHandlers(...sim.handlers());
    const instance = ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0 });
    const writer = createServiceNowWriter({ client: createServiceNowClient(instance, { logger }), mapping: loadServiceNowMapping() });
    const ticket = sim.createChange({ short_description: 'Patch the payments DB', type: 'normal' }).sys_id as string;
    return { sim, writer, ticket, ours: () => sim.journalFor(ticket).filter((r) => r.element === 'work_notes' && String(r.value).includes('[changegate:')).map((r) => String(r.value)) };
  }

  it('posts verdict A again after B when A and B were posted within the same second', async () => {
    const w = sameSecond();
    expect(await w.writer.comment(w.ticket, note('Allowed'), 'rev1:comment', verdict('aaaa'))).toBe('written');
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'rev2:comment', verdict('bbbb'))).toBe('written');
    expect(await w.writer.comment(w.ticket, note('Allowed'), 'rev3:comment', verdict('aaaa'))).toBe('written');
    // The retried item is still found by its key.
    expect(await w.writer.comment(w.ticket, note('Allowed'), 'rev3:comment', verdict('aaaa'))).toBe('already-done');
    expect(w.ours()).toHaveLength(3);
  });

  it('still answers already-done when every note of the newest second says the same', async () => {
    const w = sameSecond();
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'rev1:comment', verdict('bbbb'))).toBe('written');
    expect(await w.writer.comment(w.ticket, note('Blocked'), 'rev2:comment', verdict('bbbb'))).toBe('already-done');
    expect(w.ours()).toHaveLength(1);
  });

  it('posts again when one second holds more notes of the series than the lookup reads', async () => {
    const w = sameSecond();
    // Another writer (a replica, a restored store) left eleven notes in one second, the last one B.
    for (let i = 0; i < 10; i++) w.sim.addJournal(w.ticket, 'work_notes', `Allowed.\n${markersFor(`other-${i}`, { name: 'verdict', digest: 'aaaa' })}`);
    w.sim.addJournal(w.ticket, 'work_notes', `Blocked.\n${markersFor('other-10', { name: 'verdict', digest: 'bbbb' })}`);
    expect(await w.writer.comment(w.ticket, note('Allowed'), 'rev3:comment', verdict('aaaa'))).toBe('written');
  });
});
