import { createCloudClient, createServiceDeskClient, isRateLimitError } from 'jira.js';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';

const BASE = 'https://acme.atlassian.net';
const config = (email: string, apiToken: string) => ({ host: BASE, auth: { type: 'basic' as const, email, apiToken }, onSchemaMismatch: 'throw' as const });

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

let sim: JiraSimulator;
beforeEach(() => {
  sim = new JiraSimulator({
    baseUrl: BASE,
    auth: { basic: [{ email: 'ops@acme.example', apiToken: 't-ops' }, { email: 'dan.cab@example.com', apiToken: 't-dan' }] },
  });
  server.resetHandlers(...sim.handlers());
});

describe('jira.js v6 against the simulator (response schemas enforced)', () => {
  it('runs a connector-shaped sync and write-back without a schema mismatch', async () => {
    sim.seedDemoData({ count: 60, seed: 4 });
    const jira = createCloudClient(config('ops@acme.example', 't-ops'));
    const fields = await jira.issueFields.getFields();
    const risk = fields.find((f) => f.name === 'Change risk')?.id ?? '';
    expect(risk).toMatch(/^customfield_/);
    const keys: string[] = [];
    let nextPageToken: string | undefined;
    do {
      const page = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({
        jql: 'project = ITSM AND issuetype = "[System] Change" ORDER BY updated ASC, key ASC',
        fields: ['summary', 'status', 'updated', risk],
        expand: 'changelog',
        maxResults: 25,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      keys.push(...(page.issues ?? []).map((i) => i.key ?? ''));
      nextPageToken = page.nextPageToken ?? undefined;
    } while (nextPageToken);
    expect(new Set(keys).size).toBe(60);
    const key = keys[0] ?? '';
    const issue = await jira.issues.getIssue({ issueIdOrKey: key, expand: 'changelog' });
    expect(issue.key).toBe(key);
    await jira.issues.getChangeLogs({ issueIdOrKey: key });
    await jira.issueComments.addComment({ issueIdOrKey: key, body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'verdict: pass' }] }] } });
    // A string body goes through /rest/api/2 and is read back as ADF.
    const wiki = await jira.issueComments.addComment({ issueIdOrKey: key, body: 'h2. Evidence' });
    expect(wiki.body?.type).toBe('doc');
    await jira.issueProperties.setIssueProperty({ issueIdOrKey: key, propertyKey: 'changegate.verdict', body: { outcome: 'pass' } });
    expect((await jira.issueProperties.getIssueProperty({ issueIdOrKey: key, propertyKey: 'changegate.verdict' })).value).toEqual({ outcome: 'pass' });
    const attached = await jira.issueAttachments.addAttachment({ issueIdOrKey: key, attachments: { filename: 'bundle.json', content: Buffer.from('{}') } });
    expect(attached[0]?.filename).toBe('bundle.json');
    await jira.issues.editIssue({ issueIdOrKey: key, fields: { [risk]: { value: 'Critical' } } });
    const transitions = await jira.issues.getTransitions({ issueIdOrKey: key });
    const first = transitions.transitions?.[0];
    await jira.issues.doTransition({ issueIdOrKey: key, transition: { id: first?.id ?? '' } });
    expect(sim.issue(key).state.fields.status).toBe(first?.to?.id);
    expect((await jira.issueSearch.countIssues({ jql: 'project = ITSM' })).count).toBe(60);
  });

  it('answers JSM approvals through the service desk client', async () => {
    const key = sim.createIssue({ summary: 'Firewall change', Approvers: ['dan.cab'] }).key;
    sim.transitionIssue(key, 'Planning');
    sim.transitionIssue(key, 'Awaiting CAB approval');
    const sd = createServiceDeskClient(config('dan.cab@example.com', 't-dan'));
    const approvals = await sd.request.getApprovals({ issueIdOrKey: key });
    const id = approvals.values?.[0]?.id ?? '';
    const answered = await sd.request.answerApproval({ issueIdOrKey: key, approvalId: Number(id), decision: 'approve' });
    expect(answered.finalDecision).toBe('approved');
    const history = await sd.request.getCustomerRequestStatus({ issueIdOrKey: key });
    expect(history.values?.[0]?.status).toBe('Awaiting implementation');
    const note = await sd.request.createRequestComment({ issueIdOrKey: key, body: 'Approved in CAB 42', public: false });
    expect(note.public).toBe(false);
  });

  it('surfaces a scripted 429 as a RateLimitError carrying Retry-After', async () => {
    sim.faults.next({ kind: 'rate-limit', retryAfterSec: 3, reason: 'jira-burst-based' });
    const jira = createCloudClient(config('ops@acme.example', 't-ops'));
    const err: unknown = await jira.issueFields.getFields().catch((e: unknown) => e);
    expect(isRateLimitError(err)).toBe(true);
    expect((err as { retryAfterMs?: number }).retryAfterMs).toBe(3000);
  });
});
