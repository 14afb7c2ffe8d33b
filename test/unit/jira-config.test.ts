import { describe, expect, it } from 'vitest';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { InstanceConfig } from '../../src/app/registry.ts';

const base = { id: 'jsm-cloud', system: 'jira', baseUrl: 'https://acme.atlassian.net/', projects: ['ITSM'] };

describe('Jira instance config', () => {
  it('joins the instance union with Cloud defaults', () => {
    const parsed = InstanceConfig.parse({ ...base, auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't' } });
    expect(parsed).toMatchObject({
      system: 'jira',
      baseUrl: 'https://acme.atlassian.net',
      flavor: 'cloud',
      issueTypes: ['[System] Change'],
      allowUnsignedWebhooks: false,
      siteTimeZone: 'UTC',
    });
  });

  it('takes OAuth 2.0 (3LO) on Cloud and a personal access token on Data Center', () => {
    expect(JiraInstance.safeParse({ ...base, auth: { kind: 'oauth2', clientId: 'c', clientSecret: 's', refreshToken: 'r', cloudId: '11223344-a1b2' } }).success).toBe(true);
    expect(JiraInstance.safeParse({ ...base, flavor: 'datacenter', baseUrl: 'https://jira.acme.internal', auth: { kind: 'pat', token: 'p' } }).success).toBe(true);
  });

  it('refuses credentials of the other flavour, naming the path', () => {
    const cloudPat = JiraInstance.safeParse({ ...base, auth: { kind: 'pat', token: 'p' } });
    expect(cloudPat.success).toBe(false);
    expect(cloudPat.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['auth.kind', 'pat is for Jira Data Center; Jira Cloud takes basic (email + API token) or oauth2']]);
    const dcBasic = JiraInstance.safeParse({ ...base, flavor: 'datacenter', auth: { kind: 'basic', email: 'a@b.c', apiToken: 't' } });
    expect(dcBasic.error?.issues.map((i) => i.path.join('.'))).toEqual(['auth.kind']);
  });

  it('refuses an empty project list, a lower-case key and an unknown time zone', () => {
    const result = JiraInstance.safeParse({ ...base, projects: [], auth: { kind: 'basic', email: 'a@b.c', apiToken: 't' }, siteTimeZone: 'Mars/Olympus' });
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['projects', 'siteTimeZone']);
    expect(JiraInstance.safeParse({ ...base, projects: ['itsm'], auth: { kind: 'basic', email: 'a@b.c', apiToken: 't' } }).error?.issues[0]?.message).toContain('project key');
  });
});
