import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { checkResponse } from '../fixtures/jira/openapi/check-response.ts';

const BASE = 'https://acme.atlassian.net';
const basic = (email: string, token: string): string => `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`;
const OPS = basic('ops@acme.example', 'token-ops');
const DAN = basic('dan.cab@example.com', 'token-dan');

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

let sim: JiraSimulator;
beforeEach(() => {
  sim = new JiraSimulator({
    baseUrl: BASE,
    auth: { basic: [{ email: 'ops@acme.example', apiToken: 'token-ops' }, { email: 'dan.cab@example.com', apiToken: 'token-dan' }] },
  });
  server.resetHandlers(...sim.handlers());
});

// Response bodies are arbitrary Jira JSON; the assertions below pin their shape.
// oxlint-disable-next-line typescript/no-explicit-any
type Json = any;

async function call(method: string, path: string, body?: unknown, auth = OPS, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Json }> {
  const init: RequestInit = { method, headers: { authorization: auth, ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(`${BASE}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

function evidenceForm(): FormData {
  const f = new FormData();
  f.append('file', new Blob(['{"chain":[]}'], { type: 'application/json' }), 'evidence.json');
  return f;
}

const adf = (text: string): unknown => ({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] });

describe('transitions and changelog', () => {
  it('lists transitions from the current status, performs one, and records it in the changelog', async () => {
    const key = sim.createIssue({ summary: 'Rotate certificates', 'Change type': 'Normal' }, { as: 'alice.requester' }).key;
    const list = await call('GET', `/rest/api/3/issue/${key}/transitions`);
    expect(checkResponse('GET /rest/api/3/issue/{issueIdOrKey}/transitions', 200, list.body)).toEqual([]);
    const start = list.body.transitions.find((t: { to: { name: string } }) => t.to.name === 'Planning');
    expect(start).toBeDefined();
    expect((await call('POST', `/rest/api/3/issue/${key}/transitions`, { transition: { id: start.id } })).status).toBe(204);
    const issue = await call('GET', `/rest/api/3/issue/${key}?expand=changelog`);
    expect(issue.body.fields.status.name).toBe('Planning');
    expect(checkResponse('GET /rest/api/3/issue/{issueIdOrKey}', 200, issue.body)).toEqual([]);
    const log = await call('GET', `/rest/api/3/issue/${key}/changelog`);
    expect(checkResponse('GET /rest/api/3/issue/{issueIdOrKey}/changelog', 200, log.body)).toEqual([]);
    expect(log.body).toMatchObject({ startAt: 0, total: 1, isLast: true });
    expect(log.body.values[0].author.emailAddress).toBe('ops@acme.example');
    expect(log.body.values[0].items).toEqual([{ field: 'status', fieldtype: 'jira', fieldId: 'status', from: '10200', fromString: 'Open', to: '10201', toString: 'Planning' }]);
  });

  it('refuses a transition that does not leave the current status', async () => {
    const key = sim.createIssue({ summary: 'x' }).key;
    const res = await call('POST', `/rest/api/3/issue/${key}/transitions`, { transition: { id: '61' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errorMessages: ["Transition id '61' is not valid for this issue."], errors: {} });
  });

  it('edits fields with a changelog item per field and bumps updated to the millisecond', async () => {
    let now = Date.UTC(2024, 4, 1, 8, 0, 0, 0);
    sim = new JiraSimulator({ baseUrl: BASE, clock: () => now });
    server.resetHandlers(...sim.handlers());
    const key = sim.createIssue({ summary: 'x', 'Change risk': 'Low' }).key;
    now += 1234;
    const riskId = sim.fieldId('Change risk');
    const res = await call('PUT', `/rest/api/3/issue/${key}`, { fields: { [riskId]: { value: 'High' }, summary: 'y' } }, 'Basic ignored');
    expect(res.status).toBe(204);
    const issue = await call('GET', `/rest/api/3/issue/${key}?fields=updated,${riskId}&expand=changelog`);
    expect(issue.body.fields.updated).toBe('2024-05-01T08:00:01.234+0000');
    expect(issue.body.fields[riskId].value).toBe('High');
    const items = issue.body.changelog.histories[0].items;
    expect(items).toContainEqual({ field: 'Change risk', fieldtype: 'custom', fieldId: riskId, from: expect.any(String), fromString: 'Low', to: expect.any(String), toString: 'High' });
    expect(items).toContainEqual({ field: 'summary', fieldtype: 'jira', fieldId: 'summary', from: null, fromString: 'x', to: null, toString: 'y' });
    const bad = await call('PUT', `/rest/api/3/issue/${key}`, { fields: { [riskId]: { value: 'Extreme' }, status: { id: '1' } } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.errors).toSorted()).toEqual([riskId, 'status'].toSorted());
  });
});

describe('JSM approvals', () => {
  it('opens an approval on entering the CAB step, answers it once, then 409', async () => {
    const key = sim.createIssue({ summary: 'DB upgrade', Approvers: ['dan.cab', 'erin.cab'] }).key;
    sim.transitionIssue(key, 'Planning');
    sim.transitionIssue(key, 'Awaiting CAB approval');
    const page = await call('GET', `/rest/servicedeskapi/request/${key}/approval`, undefined, DAN);
    expect(checkResponse('GET /rest/servicedeskapi/request/{issueIdOrKey}/approval', 200, page.body)).toEqual([]);
    expect(page.body).toMatchObject({ start: 0, size: 1, isLastPage: true });
    const approval = page.body.values[0];
    expect(approval).toMatchObject({ finalDecision: 'pending', canAnswerApproval: true });
    expect(approval.approvers.map((a: { approver: { displayName: string } }) => a.approver.displayName)).toEqual(['Dan CAB', 'Erin CAB']);
    const outsider = await call('POST', `/rest/servicedeskapi/request/${key}/approval/${approval.id}`, { decision: 'approve' });
    expect(outsider.status).toBe(403);
    const answer = await call('POST', `/rest/servicedeskapi/request/${key}/approval/${approval.id}`, { decision: 'approve' }, DAN);
    expect(answer.status).toBe(200);
    expect(checkResponse('POST /rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}', 200, answer.body)).toEqual([]);
    expect(answer.body.finalDecision).toBe('approved');
    expect(answer.body.completedDate.epochMillis).toEqual(expect.any(Number));
    expect(sim.issue(key).state.fields.status).toBe(sim.workflow.status('Awaiting implementation')?.id);
    const again = await call('POST', `/rest/servicedeskapi/request/${key}/approval/${approval.id}`, { decision: 'decline' }, DAN);
    expect(again.status).toBe(409);
    expect(again.body).toHaveProperty('errorMessage');
    const status = await call('GET', `/rest/servicedeskapi/request/${key}/status`);
    expect(checkResponse('GET /rest/servicedeskapi/request/{issueIdOrKey}/status', 200, status.body)).toEqual([]);
    expect(status.body.values.map((v: { status: string }) => v.status)).toEqual(['Awaiting implementation', 'Awaiting CAB approval', 'Planning', 'Open']);
  });

  it('lets only the approval move a change out of the CAB step', async () => {
    const key = sim.createIssue({ summary: 'Core switch swap', Approvers: ['dan.cab'] }).key;
    sim.transitionIssue(key, 'Planning');
    sim.transitionIssue(key, 'Awaiting CAB approval');
    const offered = await call('GET', `/rest/api/3/issue/${key}/transitions`);
    expect(offered.body.transitions.map((t: { to: { name: string } }) => t.to.name).toSorted()).toEqual(['Canceled', 'Planning']);
    const all = await call('GET', `/rest/api/3/issue/${key}/transitions?includeUnavailableTransitions=true`);
    expect(all.body.transitions.find((t: { name: string }) => t.name === 'Approve')).toMatchObject({ isAvailable: false, isConditional: true });
    const forced = await call('POST', `/rest/api/3/issue/${key}/transitions`, { transition: { id: '31' } });
    expect(forced.status).toBe(400);
    expect(() => sim.transitionIssue(key, 'Awaiting implementation')).toThrow(/use decideApproval/);
  });

  it('declining through the driving API cancels the change', () => {
    const key = sim.createIssue({ summary: 'risky', Approvers: ['erin.cab'] }).key;
    sim.transitionIssue(key, 'Planning');
    sim.transitionIssue(key, 'Awaiting CAB approval');
    const a = sim.issue(key).approvals[0];
    sim.decideApproval(key, a?.id ?? '', 'erin.cab', 'decline');
    expect(sim.workflow.status(sim.issue(key).state.fields.status as string)?.name).toBe('Canceled');
    expect(() => sim.decideApproval(key, a?.id ?? '', 'erin.cab', 'approve')).toThrow(/already declined/);
  });
});

describe('authentication', () => {
  it('rejects wrong credentials with 401 and the Jira error body', async () => {
    const res = await call('GET', '/rest/api/3/myself', undefined, basic('ops@acme.example', 'wrong'));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ errorMessages: ['Client must be authenticated to access this resource.'], errors: {} });
  });

  it('answers a revoked token with anonymous 200 data and X-Seraph-LoginReason on anonymous-capable endpoints', async () => {
    sim.createIssue({ summary: 'visible' });
    const before = await call('GET', '/rest/api/3/search/jql?jql=project%3DITSM');
    expect(before.body.issues).toHaveLength(1);
    expect(before.headers.get('x-seraph-loginreason')).toBeNull();
    sim.revokeToken('token-ops');
    const after = await call('GET', '/rest/api/3/search/jql?jql=project%3DITSM');
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ issues: [], isLast: true });
    expect(after.headers.get('x-seraph-loginreason')).toBe('AUTHENTICATED_FAILED');
    const projects = await call('GET', '/rest/api/3/project/search');
    expect(projects.body).toMatchObject({ total: 0, isLast: true, values: [] });
    const me = await call('GET', '/rest/api/3/myself');
    expect(me.status).toBe(401);
    expect(me.headers.get('x-seraph-loginreason')).toBe('AUTHENTICATED_FAILED');
  });
});

describe('faults', () => {
  it('answers scripted 429s with Retry-After and RateLimit-Reason, then recovers', async () => {
    sim.faults.next({ kind: 'rate-limit', retryAfterSec: 7, reason: 'jira-burst-based' }, { path: '/search/jql' });
    const limited = await call('GET', '/rest/api/3/search/jql?jql=project%3DITSM');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.headers.get('ratelimit-reason')).toBe('jira-burst-based');
    expect((await call('GET', '/rest/api/3/search/jql?jql=project%3DITSM')).status).toBe(200);
    sim.faults.every(2, { kind: 'server-error', status: 503 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('GET', '/rest/api/3/field')).status);
    expect(statuses).toEqual([200, 503, 200, 503]);
    sim.faults.clear();
    sim.faults.next({ kind: 'reset' });
    await expect(fetch(`${BASE}/rest/api/3/field`, { headers: { authorization: OPS } })).rejects.toBeInstanceOf(TypeError);
    expect(sim.requests.map((r) => r.fault ?? '-').slice(-7)).toEqual(['rate-limit', '-', '-', 'server-error', '-', 'server-error', 'reset']);
  });
});

describe('comments, properties, attachments and site reads', () => {
  it('stores ADF comments, v2 wiki strings and JSM internal notes', async () => {
    const key = sim.createIssue({ summary: 'x' }).key;
    const v3 = await call('POST', `/rest/api/3/issue/${key}/comment`, { body: adf('evidence head abc123') });
    expect(v3.status).toBe(201);
    expect(checkResponse('POST /rest/api/3/issue/{issueIdOrKey}/comment', 201, v3.body)).toEqual([]);
    expect((await call('POST', `/rest/api/3/issue/${key}/comment`, { body: 'plain string' })).status).toBe(400);
    expect((await call('POST', `/rest/api/2/issue/${key}/comment`, { body: 'wiki *string*' })).status).toBe(201);
    const note = await call('POST', `/rest/servicedeskapi/request/${key}/comment`, { body: 'agents only', public: false });
    expect(checkResponse('POST /rest/servicedeskapi/request/{issueIdOrKey}/comment', 201, note.body)).toEqual([]);
    const list = await call('GET', `/rest/api/3/issue/${key}/comment`);
    expect(checkResponse('GET /rest/api/3/issue/{issueIdOrKey}/comment', 200, list.body)).toEqual([]);
    expect(list.body.total).toBe(3);
    expect(list.body.comments[0].body).toEqual(adf('evidence head abc123'));
    expect(list.body.comments[1].body.type).toBe('doc');
    expect(list.body.comments.map((c: { jsdPublic: boolean }) => c.jsdPublic)).toEqual([true, true, false]);
  });

  it('keeps issue properties up to 32768 characters', async () => {
    const key = sim.createIssue({ summary: 'x' }).key;
    const path = `/rest/api/3/issue/${key}/properties/changegate.verdict`;
    expect((await call('PUT', path, { gate: 'pass' })).status).toBe(201);
    expect((await call('PUT', path, { gate: 'fail' })).status).toBe(200);
    const got = await call('GET', path);
    expect(checkResponse('GET /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}', 200, got.body)).toEqual([]);
    expect(got.body).toEqual({ key: 'changegate.verdict', value: { gate: 'fail' } });
    expect((await call('PUT', path, { blob: 'x'.repeat(32_800) })).status).toBe(400);
    expect((await call('DELETE', path)).status).toBe(204);
    expect((await call('GET', path)).status).toBe(404);
  });

  it('accepts multipart attachments only with X-Atlassian-Token: no-check', async () => {
    const key = sim.createIssue({ summary: 'x' }).key;
    const refused = await fetch(`${BASE}/rest/api/3/issue/${key}/attachments`, { method: 'POST', headers: { authorization: OPS }, body: evidenceForm() });
    expect(refused.status).toBe(403);
    const ok = await fetch(`${BASE}/rest/api/3/issue/${key}/attachments`, { method: 'POST', headers: { authorization: OPS, 'X-Atlassian-Token': 'no-check' }, body: evidenceForm() });
    const body = (await ok.json()) as { filename: string; size: number; content: string }[];
    expect(ok.status).toBe(200);
    expect(checkResponse('POST /rest/api/3/issue/{issueIdOrKey}/attachments', 200, body)).toEqual([]);
    expect(body[0]).toMatchObject({ filename: 'evidence.json', size: 12 });
    const content = await fetch(body[0]?.content ?? '', { headers: { authorization: OPS } });
    expect(await content.text()).toBe('{"chain":[]}');
  });

  it('refuses with 413 a file above the site attachment limit it publishes at /attachment/meta, and lists what it took in the attachment field', async () => {
    sim.attachmentUploadLimit = 20;
    const key = sim.createIssue({ summary: 'x' }).key;
    const meta = await call('GET', '/rest/api/3/attachment/meta');
    // AttachmentSettings in the platform spec: {enabled, uploadLimit}.
    expect(meta.body).toEqual({ enabled: true, uploadLimit: 20 });
    const upload = (text: string) => {
      const form = new FormData();
      form.append('file', new Blob([text], { type: 'application/json' }), 'bundle.json');
      return fetch(`${BASE}/rest/api/3/issue/${key}/attachments`, { method: 'POST', headers: { authorization: OPS, 'X-Atlassian-Token': 'no-check' }, body: form });
    };
    const tooLarge = await upload('{"entries":"' + 'x'.repeat(20) + '"}');
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as Json).errorMessages[0]).toMatch(/bundle\.json .*larger than the maximum attachment size of 20 bytes/);
    expect((await upload('{"entries":[]}')).status).toBe(200);
    const issue = await call('GET', `/rest/api/3/issue/${key}?fields=attachment`);
    expect(issue.body.fields.attachment.map((a: { filename: string; size: number }) => [a.filename, a.size])).toEqual([['bundle.json', 14]]);
  });

  it('serves the field list (custom fields found by name), myself, serverInfo and counts, valid against the OpenAPI schemas', async () => {
    sim.seedDemoData({ count: 30, seed: 2 });
    const fields = await call('GET', '/rest/api/3/field');
    expect(checkResponse('GET /rest/api/3/field', 200, fields.body)).toEqual([]);
    const byName = new Map<string, string>(fields.body.map((f: { name: string; id: string }) => [f.name, f.id]));
    for (const name of ['Change type', 'Change risk', 'Impact', 'Urgency', 'Change reason', 'Change start date', 'Change completion date', 'Affected services', 'Implementation plan', 'Backout plan', 'Test plan', 'Approvers', 'Request Type']) {
      expect(`${name}=${byName.get(name) ?? ''}`).toMatch(/=customfield_\d+$/);
    }
    for (const [path, op] of [
      ['/rest/api/3/myself', 'GET /rest/api/3/myself'],
      ['/rest/api/3/serverInfo', 'GET /rest/api/3/serverInfo'],
      ['/rest/api/3/project/search', 'GET /rest/api/3/project/search'],
      ['/rest/api/3/issue/ITSM-30?expand=changelog,names,schema&properties=*all', 'GET /rest/api/3/issue/{issueIdOrKey}'],
    ] as const) {
      const res = await call('GET', path);
      expect({ path, status: res.status, errors: checkResponse(op, 200, res.body) }).toEqual({ path, status: 200, errors: [] });
    }
    const all = await call('POST', '/rest/api/3/search/jql', { jql: 'project = ITSM', fields: ['*all'], expand: 'changelog,names,schema', maxResults: 100 });
    expect(all.body.issues).toHaveLength(30);
    expect(checkResponse('POST /rest/api/3/search/jql', 200, all.body)).toEqual([]);
    const count = await call('POST', '/rest/api/3/search/approximate-count', { jql: 'project = ITSM' });
    expect(checkResponse('POST /rest/api/3/search/approximate-count', 200, count.body)).toEqual([]);
    expect(count.body.count).toBe(30);
  });
});
