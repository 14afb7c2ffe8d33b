// The bounded JQL behind every page of Jira changes and the key order the
// connector's skip rule relies on (`ORDER BY updated ASC, key ASC`): project by
// project, then by issue number as a number.

import { describe, expect, it } from 'vitest';
import { changesJql, compareIssueKeys, jqlString } from '../../connectors/jira/jira-jql.ts';

describe('changes JQL', () => {
  it('quotes every value, escaping quotes and backslashes', () => {
    expect(jqlString('Change "big" \\ small')).toBe('"Change \\"big\\" \\\\ small"');
  });

  it('bounds the search by project and issue type, and by updated time from the cursor', () => {
    expect(changesJql(['ITSM'], ['Change'], null)).toBe('project in ("ITSM") AND issuetype in ("Change") ORDER BY updated ASC, key ASC');
    expect(changesJql(['ITSM', 'OPS'], ['Change', 'Emergency change'], '2026-03-02 09:00')).toBe(
      'project in ("ITSM", "OPS") AND issuetype in ("Change", "Emergency change") AND updated >= "2026-03-02 09:00" ORDER BY updated ASC, key ASC',
    );
  });
});

describe('issue key order', () => {
  it('orders by project key, then by issue number as a number', () => {
    const keys = ['ITSM-10', 'OPS-2', 'ITSM-9', 'ABC-100', 'ITSM-1'];
    expect(keys.toSorted(compareIssueKeys)).toEqual(['ABC-100', 'ITSM-1', 'ITSM-9', 'ITSM-10', 'OPS-2']);
    expect(compareIssueKeys('ITSM-9', 'ITSM-9')).toBe(0);
    expect(Math.sign(compareIssueKeys('OPS-1', 'ITSM-2'))).toBe(1);
    expect(Math.sign(compareIssueKeys('ITSM-2', 'OPS-1'))).toBe(-1);
  });

  it('falls back to text order for anything that is not a key', () => {
    expect(compareIssueKeys('10001', '10002')).toBe(-1);
    expect(compareIssueKeys('10002', '10001')).toBe(1);
    expect(compareIssueKeys('x', 'x')).toBe(0);
    expect(compareIssueKeys('ITSM-1', 'itsm-1')).toBe(-1);
  });
});
