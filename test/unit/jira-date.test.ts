import { describe, expect, it } from 'vitest';
import { jqlLowerBound, parseJiraDate, parseJiraDateTime, wallMinute } from '../../connectors/jira/jira-date.ts';
import { isChangegateError } from '../../src/errors.ts';

describe('Jira date-times', () => {
  it('reads REST timestamps with any offset form as UTC', () => {
    // From webhook-jira-issue_updated.cloud-capture.json.
    expect(parseJiraDateTime('2024-12-29T08:43:45.214+0530', 'updated')).toBe('2024-12-29T03:13:45.214Z');
    expect(parseJiraDateTime('2016-09-28T14:01:00+07:00', 'createdDate')).toBe('2016-09-28T07:01:00Z');
    expect(parseJiraDateTime('2021-01-17T12:34:00.000+0000', 'created')).toBe('2021-01-17T12:34:00Z');
    expect(parseJiraDateTime(null, 'created')).toBeNull();
  });

  it('refuses a value that is no date-time, naming the field', () => {
    let caught: unknown;
    try {
      // The spec example of GET issue carries `"updated": 1`.
      parseJiraDateTime(1, 'updated');
    } catch (err) {
      caught = err;
    }
    expect(isChangegateError(caught, 'CG_JIRA_RECORD_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('updated');
  });

  it('reads a date-only value as midnight in the site zone', () => {
    expect(parseJiraDate('2026-03-12', 'duedate', 'UTC')).toBe('2026-03-12T00:00:00Z');
    expect(parseJiraDate('2026-03-12', 'duedate', 'Europe/Berlin')).toBe('2026-03-11T23:00:00Z');
    expect(parseJiraDate('2026-07-12', 'duedate', 'America/New_York')).toBe('2026-07-12T04:00:00Z');
  });
});

describe('JQL lower bound for a cursor', () => {
  it('floors to the minute in the zone JQL reads dates in', () => {
    expect(jqlLowerBound('2026-03-12T10:00:59.999Z', ['UTC'])).toBe('2026-03-12 10:00');
    expect(jqlLowerBound('2026-03-12T10:00:07Z', ['Europe/Berlin'])).toBe('2026-03-12 11:00');
    expect(jqlLowerBound('2026-03-12T10:00:07Z', ['Asia/Kolkata'])).toBe('2026-03-12 15:30');
  });

  it('takes the earliest literal when the site zone and the user zone disagree', () => {
    // Read in New York time, "05:00" is 10:00Z; read in UTC it is earlier still: safe either way.
    expect(jqlLowerBound('2026-03-12T10:00:07Z', ['UTC', 'America/New_York'])).toBe('2026-03-12 06:00');
  });

  it('steps back an hour inside the hour a DST change repeats, so no reading of the literal lies after the cursor', () => {
    // 2026-11-01 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) share a wall time in New York.
    const firstPass = jqlLowerBound('2026-11-01T05:30:00Z', ['America/New_York']);
    expect(firstPass).toBe('2026-11-01 00:30');
    // The second pass through 01:30 is unambiguous from below: either reading is at or before it.
    expect(jqlLowerBound('2026-11-01T06:30:00Z', ['America/New_York'])).toBe('2026-11-01 01:30');
    // Outside the repeated hour nothing changes.
    expect(jqlLowerBound('2026-11-01T03:30:00Z', ['America/New_York'])).toBe(wallMinute(Date.parse('2026-11-01T03:30:00Z'), 'America/New_York'));
  });
});
