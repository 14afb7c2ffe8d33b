import { describe, expect, it } from 'vitest';
import { APPROVALS_SPEC, JOURNAL_SPEC, approvalsSpec, changeTables, changesSpec, checkExtraQuery, journalSpec, keysetQuery } from '../../connectors/servicenow/keyset-query.ts';
import { isChangegateError } from '../../src/errors.ts';

const ID = '1c741bd70b2322007518478d83673af3';

describe('keysetQuery', () => {
  it.each([
    { name: 'first read, no extra', spec: changesSpec(null), after: null, expected: 'ORDERBYsys_updated_on^ORDERBYsys_id' },
    { name: 'first read with extra', spec: changesSpec('active=true'), after: null, expected: 'active=true^ORDERBYsys_updated_on^ORDERBYsys_id' },
    {
      name: 'continuation after (T, ID)',
      spec: changesSpec(null),
      after: { updatedAt: '2026-03-12T10:15:30Z', id: ID },
      expected: `sys_updated_on>2026-03-12 10:15:30^NQsys_updated_on=2026-03-12 10:15:30^sys_id>${ID}^ORDERBYsys_updated_on^ORDERBYsys_id`,
    },
    {
      name: 'continuation repeats an extra with ^OR in both blocks',
      spec: changesSpec('active=true^ORstate=3'),
      after: { updatedAt: '2026-03-12T10:15:30.000Z', id: ID },
      expected: `active=true^ORstate=3^sys_updated_on>2026-03-12 10:15:30^NQactive=true^ORstate=3^sys_updated_on=2026-03-12 10:15:30^sys_id>${ID}^ORDERBYsys_updated_on^ORDERBYsys_id`,
    },
    {
      name: 'a cursor with an empty id (overlap start) reads from T inclusive',
      spec: changesSpec('active=true'),
      after: { updatedAt: '2026-03-12T10:13:30Z', id: '' },
      expected: 'active=true^sys_updated_on>=2026-03-12 10:13:30^ORDERBYsys_updated_on^ORDERBYsys_id',
    },
    {
      name: 'an offset time zone is rendered in UTC',
      spec: changesSpec(null),
      after: { updatedAt: '2026-03-12T12:15:30+02:00', id: '' },
      expected: 'sys_updated_on>=2026-03-12 10:15:30^ORDERBYsys_updated_on^ORDERBYsys_id',
    },
    {
      name: 'approvals stream',
      spec: APPROVALS_SPEC,
      after: { updatedAt: '2026-01-02T03:04:05Z', id: 'abc' },
      expected:
        'source_table=change_request^sys_updated_on>2026-01-02 03:04:05^NQsource_table=change_request^sys_updated_on=2026-01-02 03:04:05^sys_id>abc^ORDERBYsys_updated_on^ORDERBYsys_id',
    },
    { name: 'approvals first read', spec: APPROVALS_SPEC, after: null, expected: 'source_table=change_request^ORDERBYsys_updated_on^ORDERBYsys_id' },
    {
      name: 'journal stream orders by sys_created_on',
      spec: JOURNAL_SPEC,
      after: { updatedAt: '2026-01-02T03:04:05Z', id: 'abc' },
      expected:
        'name=change_request^elementINwork_notes,comments^sys_created_on>2026-01-02 03:04:05^NQname=change_request^elementINwork_notes,comments^sys_created_on=2026-01-02 03:04:05^sys_id>abc^ORDERBYsys_created_on^ORDERBYsys_id',
    },
    {
      name: 'journal overlap start',
      spec: JOURNAL_SPEC,
      after: { updatedAt: '2026-01-02T03:04:05Z', id: '' },
      expected: 'name=change_request^elementINwork_notes,comments^sys_created_on>=2026-01-02 03:04:05^ORDERBYsys_created_on^ORDERBYsys_id',
    },
    {
      name: 'approvals of the mapping\'s extension classes too',
      spec: approvalsSpec(changeTables(['u_change_request_ext'])),
      after: null,
      expected: 'source_tableINchange_request,u_change_request_ext^ORDERBYsys_updated_on^ORDERBYsys_id',
    },
    {
      name: 'journal of the mapping\'s extension classes too, in both blocks',
      spec: journalSpec(changeTables(['u_change_request_ext', 'change_request'])),
      after: { updatedAt: '2026-01-02T03:04:05Z', id: 'abc' },
      expected:
        'nameINchange_request,u_change_request_ext^elementINwork_notes,comments^sys_created_on>2026-01-02 03:04:05^NQnameINchange_request,u_change_request_ext^elementINwork_notes,comments^sys_created_on=2026-01-02 03:04:05^sys_id>abc^ORDERBYsys_created_on^ORDERBYsys_id',
    },
  ])('$name', ({ spec, after, expected }) => {
    expect(keysetQuery(spec, after)).toBe(expected);
  });
});

describe('checkExtraQuery', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['  ', null],
    ['active=true', 'active=true'],
    ['^active=true^', 'active=true'],
    ['active=true^ORpriority=1', 'active=true^ORpriority=1'],
  ])('%j is accepted as %j', (input, expected) => {
    expect(checkExtraQuery(input, 'sn-prod')).toBe(expected);
  });

  it.each(['active=true^NQstate=3', 'active=true^ORDERBYnumber', 'ORDERBYDESCsys_created_on'])('%s is rejected naming the instance and the query', (query) => {
    let caught: unknown;
    try {
      checkExtraQuery(query, 'sn-prod');
    } catch (err) {
      caught = err;
    }
    expect(isChangegateError(caught, 'CG_CONFIG_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('sn-prod');
    expect((caught as Error).message).toContain(query);
  });
});
