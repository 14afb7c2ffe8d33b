// Gates into Scheduled: the right body approved (seed §1.3, §7.1), nobody
// approved their own change (separation of duties), one accountable owner
// (seed §4.1), and the CAB scorecard does not say No-Go (seed §7.3).

import type { EvidenceRef } from '../../domain/assessment.ts';
import { approvalTime, type Approval, type CanonicalState, type Classification, type Ref } from '../../domain/change.ts';
import { fieldRef, isBlank } from '../evidence.ts';
import type { RuleParams } from '../rule-catalog.ts';
import { lastMove, type StateMove } from '../state-moves.ts';
import { formatUtc } from '../zoned-time.ts';
import { defineGate, fail, listText, pass, pending, plural, type GateInput } from './gate.ts';
import { groupStandInText, NO_GROUP_HINT } from './planning-gates.ts';

function refMatches(ref: Ref | null, names: readonly string[]): boolean {
  if (ref === null) return false;
  const wanted = new Set(names.map((n) => n.trim().toLowerCase()));
  return wanted.has(ref.id.toLowerCase()) || (ref.name !== null && wanted.has(ref.name.toLowerCase()));
}

function who(approval: Approval): string {
  return approval.approver?.name ?? approval.approver?.id ?? approval.group?.name ?? approval.group?.id ?? 'an approver';
}

function approvalRef(approval: Approval): EvidenceRef {
  const group = approval.group ? ` for ${approval.group.name ?? approval.group.id}` : '';
  return { kind: 'approval', ref: approval.id, summary: `${who(approval)}${group}: ${approval.state}`, url: null, at: approval.decidedAt ?? approval.updatedAt };
}

function sorted(approvals: readonly Approval[]): Approval[] {
  return [...approvals].toSorted((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const CLASS_NEEDS = { major: 'major changes need', minor: 'minor changes need', emergency: 'emergency changes need' } as const;

type Body = { groups: readonly string[]; users: readonly string[] };

/** The bodies whose approval carries a change of this class: the CAB outranks the change manager, so its approval also carries a minor change. */
function countingBodies(classification: Classification, params: RuleParams['scheduled.approvals']): Body[] {
  return classification === 'minor' ? [params.minor, params.major] : [params[classification]];
}

function countsFor(bodies: readonly Body[]): (a: Approval) => boolean {
  return (a) => bodies.some((b) => refMatches(a.group, b.groups) || refMatches(a.approver, b.users));
}

/** The states in which a change asks its approving bodies: entering one again starts a new round. */
const ROUND_STATES: readonly CanonicalState[] = ['assess', 'authorize'];

const timeOf = (a: Approval): number => Date.parse(approvalTime(a));

/**
 * When the body was asked for this approval: its request time where the source
 * gives one; else (ServiceNow hid `sys_created_on`, or the row was mirrored
 * before changegate read it) a row still requested is dated by its last update
 * and a decided one by its decision.
 */
const askedAt = (a: Approval): number => (a.requestedAt ? Date.parse(a.requestedAt) : timeOf(a));
const asked = (a: Approval): boolean => (a.requestedAt ? true : a.state === 'requested' || a.state === 'approved');

/**
 * Splits the counting approvals into the latest round and the rejections of
 * earlier ones. A rejection ends its round (ServiceNow cancels the approvals
 * still pending and sends the change back to New; a JSM approval step is
 * decided as a whole), so a later round has begun once, after the rejection
 * and by `now`, the change entered Assess or Authorize again, or the body was
 * asked again (`askedAt`). A round holds the approvals asked after the rejection
 * that ended the one before. A rejected row of an older round may stay
 * `rejected` or turn `cancelled` (ServiceNow does not say which): either way it
 * no longer decides.
 */
function rounds(counting: readonly Approval[], moves: readonly StateMove[] | undefined, now: number): { current: Approval[]; earlier: Approval[]; began: number } {
  const laterRound = (rejection: Approval): boolean => {
    const since = timeOf(rejection);
    const askedAgain = counting.some((a) => asked(a) && askedAt(a) > since && askedAt(a) <= now);
    return askedAgain || lastMove(moves, now, (m) => ROUND_STATES.includes(m.to) && Date.parse(m.at) > since) !== null;
  };
  const earlier = counting.filter((a) => a.state === 'rejected' && laterRound(a)).toSorted((a, b) => timeOf(a) - timeOf(b));
  const last = earlier.at(-1);
  const began = last === undefined ? Number.NEGATIVE_INFINITY : timeOf(last);
  return { current: counting.filter((a) => askedAt(a) > began), earlier, began };
}

/**
 * The rounds of the body whose approval carries the change (`scheduled.approvals`),
 * for a gate that judges approvals of any body: one asked at or before the
 * current round began belongs to a round a rejection ended.
 */
function approvalRounds({ mirrored, classification, ctx, now, rules }: GateInput): ReturnType<typeof rounds> {
  const counts = countsFor(countingBodies(classification, rules.builtIn['scheduled.approvals']));
  return rounds(mirrored.approvals.filter(counts), ctx.moves, now);
}

function earlierRoundsText(earlier: readonly Approval[]): string {
  if (earlier.length === 0) return '';
  return `; ${listText(earlier.map((a) => `rejected by ${who(a)} at ${formatUtc(timeOf(a))}`))} in an earlier round`;
}

export const approvalsByClass = defineGate({
  id: 'scheduled.approvals',
  reads: ['approvals'],
  // Only a rejection needs placing against the rounds that followed it.
  readsMoves: ({ change, approvals }, classification, params) => change.type !== 'standard' && approvals.some((a) => a.state === 'rejected' && countsFor(countingBodies(classification, params))(a)),
  check({ mirrored, change, classification, ctx, now }, params) {
    if (change.type === 'standard') {
      if (!Object.hasOwn(change.custom, params.templateField)) {
        return pass('standard change: pre-approved by its template (the mapping provides no template field to name it)');
      }
      const template = change.custom[params.templateField] ?? null;
      if (isBlank(template)) return fail(`standard change names no pre-approved template (field ${params.templateField} is empty)`, [fieldRef(`custom.${params.templateField}`, 'empty')]);
      return pass(`standard change pre-approved by template ${template}`, [fieldRef(`custom.${params.templateField}`, String(template))]);
    }
    const need = params[classification];
    const counts = countsFor(countingBodies(classification, params));
    const { current, earlier } = rounds(mirrored.approvals.filter(counts), ctx.moves, now);
    const counting = sorted(current);
    const sentence = `${CLASS_NEEDS[classification]} ${need.label} approval`;
    const before = earlierRoundsText(earlier);
    const beforeRefs = earlier.map(approvalRef);
    const rejected = counting.filter((a) => a.state === 'rejected');
    if (rejected.length > 0) {
      return fail(`rejected by ${listText(rejected.map(who))} (${need.label}); ${sentence}${before}`, [...rejected.map(approvalRef), ...beforeRefs]);
    }
    const approved = counting.filter((a) => a.state === 'approved');
    if (approved.length > 0) {
      const first = approved[0] as Approval;
      const at = first.decidedAt ? ` at ${formatUtc(Date.parse(first.decidedAt))}` : '';
      const body = listText([...new Set(approved.map((a) => a.group?.name ?? need.label))]);
      const round = earlier.length > 0 ? ' in the current round' : '';
      return pass(`approved by ${listText(approved.map(who))} (${body})${at}${round}${before}`, [...approved.map(approvalRef), ...beforeRefs]);
    }
    const waiting = counting.filter((a) => a.state === 'requested');
    if (waiting.length > 0) return pending(`waiting for ${need.label} approval (${plural(waiting.length, 'approval')} requested)${before}`, [...waiting.map(approvalRef), ...beforeRefs]);
    // The body's own approvals of an earlier round are not named here: the rejection that ended it is.
    const others = sorted(mirrored.approvals.filter((a) => a.state === 'approved' && !counts(a)));
    const note = others.length > 0 ? `; not counted: ${listText(others.map((a) => notCounted(a, change)))}` : '';
    return fail(`no ${need.label} approval recorded: ${CLASS_NEEDS[classification]} an approval given ${whoCounts(need)}${note}${before}`, [...others.map(approvalRef), ...beforeRefs]);
  },
});

/** Who may give the approval, as the ticket's readers know them: groups and named people. */
function whoCounts(need: { groups: readonly string[]; users: readonly string[] }): string {
  const ways = [need.groups.length > 0 ? `for ${listText(need.groups, 'or')}` : null, need.users.length > 0 ? `by ${listText(need.users, 'or')}` : null].filter((w): w is string => w !== null);
  return ways.length > 0 ? ways.join(' or ') : 'by someone the policy names (it names nobody)';
}

/** Why an approval given does not count: for which body it was given, and whether its approver is barred from approving. */
function notCounted(approval: Approval, change: { requester: Ref | null; assignee: Ref | null }): string {
  const why = [approval.group === null ? 'approved in person, not for one of these groups' : `approved for ${approval.group.name ?? approval.group.id}, not one of these groups`];
  const roles = [samePerson(approval.approver, change.requester) ? 'requester' : null, samePerson(approval.approver, change.assignee) ? 'assignee' : null].filter((r): r is string => r !== null);
  if (roles.length > 0) why.push(`also the change's ${listText(roles)}, who may not approve it`);
  return `${who(approval)} (${why.join('; ')})`;
}

function samePerson(a: Ref | null, b: Ref | null): boolean {
  return a !== null && b !== null && a.id === b.id;
}

/** Why an approver may not approve this change, empty when they may. */
function barredRoles(approval: Approval, change: { requester: Ref | null; assignee: Ref | null }): string[] {
  return [samePerson(approval.approver, change.requester) ? 'requester' : null, samePerson(approval.approver, change.assignee) ? 'assignee who implements it' : null].filter(
    (r): r is string => r !== null,
  );
}

export const separationOfDuties = defineGate({
  id: 'scheduled.separation-of-duties',
  reads: ['approvals'],
  // The moves can only place a barred approver's approval in a round a rejection ended.
  readsMoves: ({ change, approvals }) => approvals.some((a) => a.state === 'rejected') && approvals.some((a) => a.state === 'approved' && barredRoles(a, change).length > 0),
  check(input) {
    const { mirrored, change } = input;
    // Judged like `scheduled.approvals`: an approval of a round a rejection ended no longer carries the change.
    const { earlier, began } = approvalRounds(input);
    const given = sorted(mirrored.approvals.filter((a) => a.state === 'approved' && a.approver !== null));
    const approved = given.filter((a) => askedAt(a) > began);
    const superseded = given.filter((a) => askedAt(a) <= began && barredRoles(a, change).length > 0);
    const conflicts: string[] = [];
    const evidence: EvidenceRef[] = [];
    for (const a of approved) {
      const roles = barredRoles(a, change);
      if (roles.length > 0) {
        conflicts.push(`${who(a)} approved the change and is also its ${listText(roles)}`);
        evidence.push(approvalRef(a));
      }
    }
    if (conflicts.length > 0) return fail(`separation of duties: ${conflicts.join('; ')}`, evidence);
    const ended = (a: Approval): number => timeOf(earlier.find((r) => timeOf(r) >= askedAt(a)) as Approval);
    const note =
      superseded.length > 0
        ? `; not judged: ${listText(superseded.map((a) => `${who(a)}'s approval at ${formatUtc(timeOf(a))}, in a round ended by the rejection at ${formatUtc(ended(a))}`))}`
        : '';
    const evidenceOf = [...approved, ...superseded].map(approvalRef);
    if (approved.length === 0) return pass(`no approval given yet${earlier.length > 0 ? ' in the current round' : ''}, so no approver is the requester or the assignee${note}`, evidenceOf);
    return pass(`no approver (${listText(approved.map(who))}) is the requester or the assignee${note}`, evidenceOf);
  },
});

export const accountableOwner = defineGate({
  id: 'scheduled.accountable-owner',
  check({ change }) {
    const noGroupField = change.assignmentGroup === null && change.standIns?.assignmentGroup === 'none';
    const missing = [
      change.assignee === null ? 'assignee is not set' : null,
      change.assignmentGroup === null
        ? noGroupField
          ? 'this site has no assignment group field and the mapping lets nothing stand in for it'
          : change.standIns?.assignmentGroup === 'affected-service'
            ? 'no affected service is named to stand in for the assignment group'
            : 'assignment group is not set'
        : null,
    ].filter((m): m is string => m !== null);
    if (missing.length > 0) {
      const verdict = fail(`no single accountable owner: ${missing.join('; ')}`, missing.map((m) => fieldRef(m.startsWith('assignee') ? 'assignee' : 'assignmentGroup', m)));
      return noGroupField ? { ...verdict, hint: NO_GROUP_HINT } : verdict;
    }
    const assignee = change.assignee as Ref;
    const group = change.assignmentGroup as Ref;
    const standIn = groupStandInText(change) === null ? '' : ', the affected service standing in for the assignment group';
    return pass(`accountable owner ${assignee.name ?? assignee.id} (${group.name ?? group.id}${standIn})`);
  },
});

export const cabScorecard = defineGate({
  id: 'scheduled.cab-scorecard',
  check({ scorecard }) {
    const evidence = scorecard.criteria.map((c): EvidenceRef => ({ kind: 'rule', ref: `scorecard.${c.id}`, summary: `${c.label}: ${c.result} (${c.reason})`, url: null, at: null }));
    if (scorecard.recommendation === 'No-Go') return fail(`CAB scorecard recommends No-Go: ${scorecard.conditions.join('; ')}`, evidence);
    if (scorecard.recommendation === 'Conditional Go') return pass(`CAB scorecard recommends Conditional Go: ${scorecard.conditions.join('; ')}`, evidence);
    return pass('CAB scorecard recommends Go: every criterion passes', evidence);
  },
});

export const APPROVAL_GATES = [approvalsByClass, separationOfDuties, accountableOwner, cabScorecard];
