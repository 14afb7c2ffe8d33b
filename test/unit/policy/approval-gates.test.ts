// Gates into Scheduled: approvals by class, separation of duties, one
// accountable owner, and the CAB scorecard.

import { describe, expect, it } from 'vitest';
import { buildApproval } from '../../support/change-builder.ts';
import { approved, context, gate, mirrored, readinessEvents, WATCHED } from './policy-fixtures.ts';

const AT = '2026-03-09T20:00:00Z'; // after the readiness events, before the planned start
const major = { risk: { impact: 'high', probability: 'medium', level: 'high' } } as const;
const requester = { id: '6816f79cc0a8016401c5a33be04be441', name: 'Ada Requester' };
const assignee = { id: '5137153cc611227c000bbd1bd8cd2007', name: 'Grace Implementer' };

const cases = [
  { gate: 'scheduled.approvals', name: 'major, CAB approved', mc: mirrored(major, { approvals: [approved('CAB')] }), result: 'pass', reason: /^approved by Beth Anglin \(CAB\) at 2026-03-05 14:30 UTC$/ },
  {
    gate: 'scheduled.approvals',
    name: 'major, only the change manager approved',
    mc: mirrored(major, { approvals: [approved('Change Management')] }),
    result: 'fail',
    reason: /^no CAB approval recorded: major changes need an approval given for CAB, CAB Approval or Change Advisory Board; not counted: Beth Anglin \(approved for Change Management, not one of these groups\)$/,
  },
  { gate: 'scheduled.approvals', name: 'major, CAB asked', mc: mirrored(major, { approvals: [approved('CAB', { state: 'requested', decidedAt: null })] }), result: 'pending', reason: /waiting for CAB approval \(1 approval requested\)/ },
  { gate: 'scheduled.approvals', name: 'major, CAB rejected', mc: mirrored(major, { approvals: [approved('CAB'), approved('CAB', { id: 'r2', state: 'rejected', approver: { id: 'u9', name: 'Sam Skeptic' } })] }), result: 'fail', reason: /^rejected by Sam Skeptic \(CAB\); major changes need CAB approval/ },
  { gate: 'scheduled.approvals', name: 'minor, change manager approved', mc: mirrored({}, { approvals: [approved('Change Management')] }), result: 'pass', reason: /approved by Beth Anglin \(Change Management\)/ },
  { gate: 'scheduled.approvals', name: 'minor, CAB approved (outranks)', mc: mirrored({}, { approvals: [approved('CAB Approval')] }), result: 'pass', reason: /approved by Beth Anglin \(CAB Approval\)/ },
  { gate: 'scheduled.approvals', name: 'minor, nothing', mc: mirrored(), result: 'fail', reason: /^no change manager approval recorded: minor changes need an approval given for Change Management or Change Managers$/ },
  { gate: 'scheduled.approvals', name: 'emergency, eCAB approved', mc: mirrored({ type: 'emergency' }, { approvals: [approved('eCAB')] }), result: 'pass', reason: /\(eCAB\)/ },
  { gate: 'scheduled.approvals', name: 'emergency, CAB only', mc: mirrored({ type: 'emergency' }, { approvals: [approved('CAB')] }), result: 'fail', reason: /emergency changes need an approval given for eCAB, eCAB Approval or Emergency CAB; not counted: Beth Anglin \(approved for CAB, not one of these groups\)/ },
  {
    gate: 'scheduled.approvals',
    name: 'major, approved in person by its own assignee',
    mc: mirrored(major, { approvals: [approved('CAB', { group: null, approver: assignee })] }),
    result: 'fail',
    reason: /not counted: Grace Implementer \(approved in person, not for one of these groups; also the change's assignee, who may not approve it\)$/,
  },
  { gate: 'scheduled.approvals', name: 'standard with template', mc: mirrored({ type: 'standard', custom: { template: 'Patch Linux web tier' } }), result: 'pass', reason: /pre-approved by template Patch Linux web tier/ },
  { gate: 'scheduled.approvals', name: 'standard, template empty', mc: mirrored({ type: 'standard', custom: { template: '' } }), result: 'fail', reason: /names no pre-approved template \(field template is empty\)/ },
  { gate: 'scheduled.approvals', name: 'standard, template not mapped', mc: mirrored({ type: 'standard', custom: {} }), result: 'pass', reason: /pre-approved by its template/ },
  { gate: 'scheduled.separation-of-duties', name: 'requester approved', mc: mirrored({}, { approvals: [approved('CAB', { approver: requester })] }), result: 'fail', reason: /Ada Requester approved the change and is also its requester/ },
  { gate: 'scheduled.separation-of-duties', name: 'implementer approved', mc: mirrored({}, { approvals: [approved('CAB', { approver: assignee })] }), result: 'fail', reason: /Grace Implementer approved the change and is also its assignee who implements it/ },
  { gate: 'scheduled.separation-of-duties', name: 'requester only asked', mc: mirrored({}, { approvals: [buildApproval({ approver: requester })] }), result: 'pass', reason: /no approval given yet/ },
  // People are compared by id, never by the name a directory shows: two people may share a name, and one person's name may change.
  {
    gate: 'scheduled.separation-of-duties',
    name: 'a namesake of the requester approved',
    mc: mirrored({}, { approvals: [approved('CAB', { approver: { id: 'a0e1f7b2c0a8016401c5a33be04be999', name: 'Ada Requester' } })] }),
    result: 'pass',
    reason: /no approver \(Ada Requester\) is the requester or the assignee/,
  },
  {
    gate: 'scheduled.separation-of-duties',
    name: 'the requester approved under another display name',
    mc: mirrored({}, { approvals: [approved('CAB', { approver: { id: requester.id, name: 'Ada Lovelace-Requester' } })] }),
    result: 'fail',
    reason: /Ada Lovelace-Requester approved the change and is also its requester/,
  },
  { gate: 'scheduled.separation-of-duties', name: 'independent approver', mc: mirrored({}, { approvals: [approved('CAB')] }), result: 'pass', reason: /no approver \(Beth Anglin\) is the requester or the assignee/ },
  { gate: 'scheduled.accountable-owner', name: 'no assignee', mc: mirrored({ assignee: null }), result: 'fail', reason: /no single accountable owner: assignee is not set/ },
  { gate: 'scheduled.accountable-owner', name: 'no group', mc: mirrored({ assignmentGroup: null }), result: 'fail', reason: /assignment group is not set/ },
  { gate: 'scheduled.accountable-owner', name: 'owner set', mc: mirrored(), result: 'pass', reason: /accountable owner Grace Implementer \(Payments Platform\)/ },
  {
    gate: 'scheduled.accountable-owner',
    name: 'JSM: the affected service stands in for the group',
    mc: mirrored({ assignmentGroup: { id: 'svc-1', name: 'Payments API' }, standIns: { assignmentGroup: 'affected-service' } }),
    result: 'pass',
    reason: /^accountable owner Grace Implementer \(Payments API, the affected service standing in for the assignment group\)$/,
  },
  {
    gate: 'scheduled.accountable-owner',
    name: 'JSM: no service to stand in',
    mc: mirrored({ assignmentGroup: null, services: [], standIns: { assignmentGroup: 'affected-service' } }),
    result: 'fail',
    reason: /^no single accountable owner: no affected service is named to stand in for the assignment group$/,
  },
  {
    gate: 'scheduled.accountable-owner',
    name: 'a site with no group field and no stand-in',
    mc: mirrored({ assignmentGroup: null, standIns: { assignmentGroup: 'none' } }),
    result: 'fail',
    reason: /^no single accountable owner: this site has no assignment group field and the mapping lets nothing stand in for it$/,
  },
  { gate: 'scheduled.cab-scorecard', name: 'no backout plan', mc: mirrored({ plans: { implementation: 'x', backout: null, test: 'y' } }), result: 'fail', reason: /recommends No-Go: Rollback readiness: backout plan is empty/ },
  { gate: 'scheduled.cab-scorecard', name: 'everything evidenced', ci: true, mc: mirrored(), result: 'pass', reason: /recommends Go/ },
  { gate: 'scheduled.cab-scorecard', name: 'no test results yet', mc: mirrored(), result: 'pass', reason: /recommends Conditional Go: Testing status: to be confirmed \(no test results reported yet for 9fceb02\)/ },
] as const;

describe('gates into scheduled', () => {
  it.each(cases)('$gate: $name → $result', (c) => {
    const ctx = context(AT, 'ci' in c ? { events: { ci: readinessEvents(), monitor: [], watch: WATCHED } } : {});
    const result = gate(c.gate, c.mc, ctx);
    expect(result.result).toBe(c.result);
    expect(result.reason).toMatch(c.reason);
  });

  it('cites the approval rows it rests on', () => {
    const result = gate('scheduled.approvals', mirrored(major, { approvals: [approved('CAB', { id: 'appr-7' })] }), context(AT));
    expect(result.evidence).toEqual([expect.objectContaining({ kind: 'approval', ref: 'appr-7' })]);
  });

  it('takes JSM\'s one approval step, "CAB approval", for the eCAB on a Jira emergency change only (the default policy\'s override by system)', () => {
    const jsm = gate('scheduled.approvals', mirrored({ type: 'emergency', system: 'jira', instance: 'jsm-cloud', nativeId: '10042', key: 'ITSM-42' }, { approvals: [approved('CAB approval')] }), context(AT));
    expect(jsm.result).toBe('pass');
    expect(jsm.reason).toMatch(/approved by Beth Anglin \(CAB approval\)/);
    // ServiceNow has an eCAB of its own: there a CAB approval does not stand in for it.
    const servicenow = gate('scheduled.approvals', mirrored({ type: 'emergency' }, { approvals: [approved('CAB approval')] }), context(AT));
    expect(servicenow.result).toBe('fail');
    // And on Jira the override changes nothing for a normal change's CAB.
    const normal = gate('scheduled.approvals', mirrored({ ...major, system: 'jira', instance: 'jsm-cloud', nativeId: '10043', key: 'ITSM-43' }, { approvals: [approved('Change Management')] }), context(AT));
    expect(normal.result).toBe('fail');
  });
});
