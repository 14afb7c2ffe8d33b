// Golden tests: Jira samples → canonical form, stored as reviewed JSON snapshots.
// The explicit assertions next to each snapshot pin the facts a reviewer checked
// (UTC dates, the field ids resolved by name, which sample shapes are refused), so a
// careless snapshot update cannot silently change them.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapJiraApproval, mapJiraComment } from '../../connectors/jira/jira-child-mapper.ts';
import type { FieldInfo, RawIssue } from '../../connectors/jira/jira-client.ts';
import { resolveFieldRefs } from '../../connectors/jira/jira-fields.ts';
import { mapJiraIssue, type JiraMapContext } from '../../connectors/jira/jira-issue-mapper.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { createJiraWebhook } from '../../connectors/jira/jira-webhook.ts';
import { toFieldInfo } from '../../connectors/jira/jira-api.ts';
import type { Change } from '../../src/domain/change.ts';
import { isChangegateError } from '../../src/errors.ts';

type Obj = Record<string, unknown>;
const fixture = <T = Obj>(name: string): T => JSON.parse(readFileSync(new URL(`../fixtures/jira/${name}`, import.meta.url), 'utf8')) as T;

/** The JSM change fields of a real Cloud site (public capture) plus the system fields every site has (constructed: id = name lower-cased). */
const SYSTEM_FIELDS: FieldInfo[] = ['Summary', 'Description', 'Status', 'Reporter', 'Assignee', 'Created', 'Updated', 'Resolution', 'Comment'].map((name) => ({
  id: name.toLowerCase(),
  name,
  untranslatedName: null,
  custom: false,
  schemaType: null,
}));
const SITE_FIELDS: FieldInfo[] = [...SYSTEM_FIELDS, ...fixture<unknown[]>('fields-jsm-change-subset.public-go-stub.json').map((f) => toFieldInfo(f) as FieldInfo)];

const defaultMapping = loadJiraMapping();
/** The capture's site runs a plain Kanban workflow: its copy of the mapping adds that project's statuses. */
const captureSiteMapping = { ...defaultMapping, states: new Map([...defaultMapping.states, ['To Do', 'new' as const]]) };

function context(mapping = defaultMapping): JiraMapContext {
  return { instance: 'jsm-demo', siteUrl: 'https://helloworld-test.atlassian.net', mapping, fields: resolveFieldRefs(mapping.fieldRefs, SITE_FIELDS), timeZone: 'Asia/Kolkata' };
}

const strip = ({ raw: _raw, ...rest }: Change) => rest;
const golden = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

describe('Jira issue → canonical Change', () => {
  it('resolves the JSM change fields of the captured site by name, never by a hard-coded id', () => {
    const { byRef, missing } = context().fields;
    expect(byRef.get('Change type')?.id).toBe('customfield_10005');
    expect(byRef.get('Change risk')?.id).toBe('customfield_10006');
    expect(byRef.get('Change start date')?.id).toBe('customfield_10008');
    expect(byRef.get('Change completion date')?.id).toBe('customfield_10009');
    expect(byRef.get('Approvers')?.id).toBe('customfield_10003');
    // The captured subset has no Impact/Urgency/plan fields: they stay empty, not guessed.
    expect(missing).toEqual(expect.arrayContaining(['Impact', 'Urgency', 'Implementation plan', 'Affected services']));
  });

  it('maps the issue of a real Cloud webhook capture (KAN-22) once its statuses are in the mapping', async () => {
    const issue = fixture<{ issue: RawIssue }>('webhook-jira-issue_updated.cloud-capture.json').issue;
    const change = mapJiraIssue(issue, context(captureSiteMapping));

    expect(change.raw).toBe(issue);
    expect(change).toMatchObject({
      id: 'jira:jsm-demo:10021',
      key: 'KAN-22',
      url: 'https://helloworld-test.atlassian.net/browse/KAN-22',
      title: 'Add back button to pages',
      // The webhook carries description as a plain string (v2 shape), not ADF.
      description: expect.stringContaining('back button on the create pages') as unknown,
      // Change type is null on this issue: the mapping's defaultType.
      type: 'normal',
      state: 'new',
      nativeState: 'To Do',
      risk: { impact: null, probability: null, level: null },
      requester: { id: '712020:f1ad7cfd-7f82-4dc0-85e4-8bc47bcc08e4', name: 'Sirajudheen MK' },
      // +0530 on the wire, UTC here.
      createdAt: '2024-12-29T03:11:23.303Z',
      updatedAt: '2024-12-29T03:13:45.214Z',
      nativeRevision: 0,
      custom: { urgency: null, approvers: null },
    });
    await expect(golden(strip(change))).toMatchFileSnapshot('./__snapshots__/jira-webhook-issue_updated.cloud-capture.json');
  });

  it('refuses the same real issue under the default mapping, naming the status and the file to edit', () => {
    const issue = fixture<{ issue: RawIssue }>('webhook-jira-issue_created.cloud-capture.json').issue;
    const err = thrown(() => mapJiraIssue(issue, context()));
    expect(isChangegateError(err, 'CG_MAPPING_UNKNOWN_VALUE')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ field: 'status', value: 'To Do', file: defaultMapping.file, record: 'KAN-22' });
  });

  it('takes the revision from the changelog total, not from the page of histories shown', async () => {
    const issue = fixture<{ issue: RawIssue }>('webhook-jira-issue_updated.cloud-capture.json').issue;
    const page = fixture<{ startAt: number; maxResults: number; total: number; values: unknown[] }>('issue-changelog-get-response.spec-example.json');
    const change = mapJiraIssue({ ...issue, changelog: { startAt: page.startAt, maxResults: page.maxResults, total: page.total, histories: page.values } }, context(captureSiteMapping));
    expect(change.nativeRevision).toBe(5);
    // The sample's histories edit labels only: no status move, so no actual window.
    expect([change.actualStart, change.actualEnd]).toEqual([null, null]);
  });

  it('refuses the spec examples of GET issue and search, which carry no status and a numeric `updated`', () => {
    const get = fixture<RawIssue>('issue-get-response.spec-example.json');
    const search = (fixture<{ issues: RawIssue[] }>('search-jql-response.spec-example.json').issues[0] ?? {}) as RawIssue;
    for (const [issue, key] of [
      [get, 'ED-1'],
      [search, 'ED-1'],
    ] as const) {
      const err = thrown(() => mapJiraIssue(issue, context()));
      expect(isChangegateError(err, 'CG_JIRA_RECORD_INVALID')).toBe(true);
      expect((err as { details: unknown }).details).toEqual({ field: 'status', record: key });
    }
  });
});

describe('Jira comments → JournalEntry', () => {
  it('reads an ADF body (GET issue) and a string body (search) to the same text', async () => {
    const adf = (fixture<{ fields: { comment: unknown[] } }>('issue-get-response.spec-example.json').fields.comment[0] ?? {}) as Obj;
    const plain = (fixture<{ issues: { fields: { comment: unknown[] } }[] }>('search-jql-response.spec-example.json').issues[0]?.fields.comment[0] ?? {}) as Obj;
    const added = fixture('comment-add-response.spec-example.json');
    const entries = [mapJiraComment(adf, 'ED-1'), mapJiraComment(plain, 'ED-1'), mapJiraComment(added, 'ED-1')];

    expect(entries[0]).toEqual(entries[1]);
    expect(entries[0]).toMatchObject({ id: '10000', kind: 'comment', author: 'Mia Krystof', at: '2021-01-17T12:34:00Z' });
    expect(entries[0]?.text.startsWith('Lorem ipsum dolor sit amet')).toBe(true);
    // JSM's agent-only flag makes it a work note.
    expect(mapJiraComment({ ...adf, jsdPublic: false }, 'ED-1').kind).toBe('work_note');
    await expect(golden(entries)).toMatchFileSnapshot('./__snapshots__/jira-comments.spec-examples.json');
  });
});

describe('JSM approvals → Approval rows', () => {
  it('maps each approver of each approval step, with the step as the group', async () => {
    const values = fixture<{ values: unknown[] }>('jsm-approvals-get-response.spec-example.json').values;
    const rows = values.flatMap((v) => mapJiraApproval(v, 'ITSM-2', defaultMapping));

    expect(rows.map((r) => [r.id, r.state, r.nativeState, r.group?.name])).toEqual([
      ['1:qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3581db05e2a66fa80b', 'approved', 'approved', 'Please approve this request'],
      // The example's second step was declined overall while its one approver says approved: the row keeps the approver's word.
      ['2:qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3581db05e2a66fa80b', 'approved', 'approved', 'Waiting for approval'],
    ]);
    // +0700 on the wire (epochMillis wins), UTC here.
    expect(rows[0]).toMatchObject({ decidedAt: '2016-09-29T07:30:00Z', updatedAt: '2016-09-29T07:30:00Z', approver: { name: 'Fred F. User' } });
    await expect(golden(rows)).toMatchFileSnapshot('./__snapshots__/jsm-approvals-get-response.spec-example.json');
  });

  it('marks an approver nobody waits for once the step is decided, and a pending step as requested', () => {
    const step = { id: '7', name: 'CAB approval', createdDate: { epochMillis: 1_700_000_000_000 }, approvers: [{ approver: { accountId: 'a', displayName: 'A' }, approverDecision: 'pending' }] };
    expect(mapJiraApproval({ ...step, finalDecision: 'pending' }, 'ITSM-9', defaultMapping)[0]).toMatchObject({ state: 'requested', decidedAt: null });
    expect(mapJiraApproval({ ...step, finalDecision: 'approved', completedDate: { epochMillis: 1_700_000_600_000 } }, 'ITSM-9', defaultMapping)[0]).toMatchObject({ state: 'not_required', decidedAt: null });
    const err = thrown(() => mapJiraApproval({ ...step, finalDecision: 'escalated' }, 'ITSM-9', defaultMapping));
    expect(isChangegateError(err, 'CG_MAPPING_UNKNOWN_VALUE')).toBe(true);
  });
});

describe('Jira webhook captures → record ids', () => {
  it('names the issue of each capture and nothing else', () => {
    const hook = createJiraWebhook({ allowUnsignedWebhooks: true });
    const ids = ['webhook-jira-issue_created.cloud-capture.json', 'webhook-jira-issue_updated.cloud-capture.json'].map((name) => [name, hook.toRecordIds(fixture(name))]);
    expect(ids).toEqual([
      ['webhook-jira-issue_created.cloud-capture.json', ['10021']],
      ['webhook-jira-issue_updated.cloud-capture.json', ['10021']],
    ]);
  });
});
