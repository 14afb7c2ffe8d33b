// JSM's REST shapes for users and approvals, shared by the servicedeskapi
// routes and the issue renderer (the JSM "Approvals" field carries the same
// approval objects as `GET /rest/servicedeskapi/request/{key}/approval`).

import { jsmDate } from './jira-time.ts';
import type { SimContext } from './sim-http.ts';
import type { SimApproval, SimIssue, SimUser } from './sim-types.ts';

/** What the shapes need from the site: both the simulator and a render context provide it. */
export type JsmDtoContext = Pick<SimContext, 'baseUrl' | 'flavor' | 'timeZone' | 'users'>;

export function userDto(sim: JsmDtoContext, u: SimUser | undefined): Record<string, unknown> | undefined {
  if (!u) return undefined;
  const api = `${sim.baseUrl}/rest/api/2/user?${sim.flavor === 'cloud' ? `accountId=${encodeURIComponent(u.accountId)}` : `username=${encodeURIComponent(u.name)}`}`;
  const av = `${sim.baseUrl}/secure/useravatar?ownerId=${encodeURIComponent(u.accountId)}`;
  const links = { jiraRest: api, avatarUrls: { '48x48': av, '24x24': av, '16x16': av, '32x32': av }, self: api };
  const base = { emailAddress: u.emailAddress, displayName: u.displayName, active: u.active, timeZone: u.timeZone, _links: links };
  return sim.flavor === 'cloud' ? { accountId: u.accountId, ...base } : { name: u.name, key: u.key, ...base };
}

export function approvalDto(sim: JsmDtoContext, issue: SimIssue, a: SimApproval, caller: SimUser | null): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: a.id,
    name: a.name,
    finalDecision: a.finalDecision,
    canAnswerApproval: a.finalDecision === 'pending' && a.approvers.some((x) => x.accountId === caller?.accountId && x.decision === 'pending'),
    approvers: a.approvers.map((x) => ({ approver: userDto(sim, sim.users.find(x.accountId)), approverDecision: x.decision })),
    createdDate: jsmDate(a.created, sim.timeZone),
    _links: { self: `${sim.baseUrl}/rest/servicedeskapi/request/${issue.id}/approval/${a.id}` },
  };
  if (a.completed !== null) out.completedDate = jsmDate(a.completed, sim.timeZone);
  return out;
}
