// Every request the Jira connector sends, checked against Atlassian's OpenAPI
// documents (test/fixtures/jira/openapi-subset.json, cut by
// test/support/extract-jira-openapi-subset.ts): the operation exists, its query
// parameters are declared, and a JSON body validates against the requestBody
// schema. Traffic comes from a real read of the Jira simulator (Cloud).

import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamCursor } from '../../src/kit/connector.ts';
import { createJiraClient } from '../../connectors/jira/jira-client.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { validateMappingAgainstSite } from '../../connectors/jira/validate-live-mapping.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { CONNECTOR_OPERATIONS } from '../support/extract-jira-openapi-subset.ts';
import { checkJiraRequest } from '../support/jira-openapi-request-check.ts';

const BASE = 'https://acme.atlassian.net';

interface Sent {
  method: string;
  url: string;
  body: unknown;
}

const sent: Sent[] = [];
// Without JSM's Approvals field the connector reads approvals per issue, so that operation is exercised too.
const sim = new JiraSimulator({ baseUrl: BASE, auth: { basic: [{ email: 'ops@acme.example', apiToken: 't-ops' }] }, approvalsField: false });
const server = setupServer(
  http.all('*', async ({ request }) => {
    const text = await request.clone().text();
    sent.push({ method: request.method, url: request.url, body: text === '' ? undefined : (JSON.parse(text) as unknown) });
    return undefined;
  }),
  // The simulator has no project statuses route yet; this one answers from its workflow.
  http.get(`${BASE}/rest/api/3/project/:key/statuses`, () =>
    HttpResponse.json([
      {
        self: `${BASE}/rest/api/3/issuetype/10100`,
        id: '10100',
        name: '[System] Change',
        subtask: false,
        statuses: sim.workflow.def.statuses.map((s) => ({ self: `${BASE}/rest/api/3/status/${s.id}`, id: s.id, name: s.name, description: '', iconUrl: `${BASE}/images/icons/statuses/generic.png` })),
      },
    ]),
  ),
  ...sim.handlers(),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

const instance = JiraInstance.parse({ id: 'jsm', system: 'jira', baseUrl: BASE, auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' }, projects: ['ITSM'] });

describe('requests the Jira connector sends', () => {
  it('are all operations of the Jira OpenAPI documents, with declared parameters and valid bodies', async () => {
    sim.seedDemoData({ count: 40, seed: 8 });
    sim.bulkCreateIssues(30, { seed: 2, days: 0.01 });
    const busy = sim.createIssue({ summary: 'Long-running change', 'Change type': 'Normal' });
    for (let i = 0; i < 24; i++) {
      sim.editIssue(busy.key, { 'Change risk': i % 2 === 0 ? 'High' : 'Low' });
      sim.addComment(busy.key, `status update ${i}`);
    }
    const mapping = loadJiraMapping();
    const connector = createJiraConnector(instance, { mapping, logger: pino({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 }, responseValidation: 'throw' });
    let after: StreamCursor | null = null;
    for (let pages = 0; pages < 200; pages++) {
      const page = await connector.readPage({ stream: 'changes', after, offset: 0, pageSize: 2 });
      expect(page.items.filter((i) => i.kind === 'invalid')).toEqual([]);
      if (!page.hasMore) break;
      after = page.last;
    }
    expect(await connector.fetchOne(busy.id)).not.toBeNull();
    const client = createJiraClient(instance, { logger: pino({ level: 'silent' }) });
    // The shipped mapping fits the simulated site: every field and status resolves.
    expect(await validateMappingAgainstSite(instance, mapping, client)).toEqual([]);

    const problems = sent.flatMap((r) => checkJiraRequest(r.method, r.url, r.body).map((p) => `${r.method} ${r.url}: ${p}`));
    expect(problems).toEqual([]);
    // The check covered every operation the connector uses, and the continued search.
    const exercised = new Set(sent.map((r) => `${r.method} ${new URL(r.url).pathname.replace(/\/(issue|request)\/[^/]+/, '/$1/{issueIdOrKey}').replace(/\/project\/[^/]+/, '/project/{projectIdOrKey}')}`));
    expect([...exercised].toSorted()).toEqual(CONNECTOR_OPERATIONS.map(([, method, path]) => `${method.toUpperCase()} ${path}`).toSorted());
    expect(sent.some((r) => typeof (r.body as { nextPageToken?: unknown } | undefined)?.nextPageToken === 'string')).toBe(true);
  });

  it('the checker itself rejects what Atlassian would: unknown operations, parameters and body keys', () => {
    expect(checkJiraRequest('GET', `${BASE}/rest/api/3/issue/ITSM-1/changelog?startAt=0&maxResults=100`, undefined)).toEqual([]);
    // The removed legacy search is not among the operations the connector may call.
    expect(checkJiraRequest('GET', `${BASE}/rest/api/3/search?jql=x`, undefined)[0]).toContain('no such operation');
    expect(checkJiraRequest('GET', `${BASE}/rest/api/3/issue/ITSM-1/changelog?startAt=0&maxResults=100&orderBy=created`, undefined)).toEqual([
      'GET /rest/api/3/issue/{issueIdOrKey}/changelog: query parameter orderBy is not declared',
    ]);
    expect(checkJiraRequest('POST', `${BASE}/rest/api/3/search/jql`, { jql: 'project = ITSM', maxResults: '50', startAt: 0 })).toEqual([
      'POST /rest/api/3/search/jql body.maxResults: expected integer, got string',
      'POST /rest/api/3/search/jql body.startAt: not a property of the request body',
    ]);
    expect(checkJiraRequest('DELETE', `${BASE}/rest/api/3/field`, undefined)[0]).toContain('no such operation');
  });
});
