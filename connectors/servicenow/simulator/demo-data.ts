// The demo instance: a few hundred changes in every type and state, consistent
// with the lifecycle (closed ones carry close code, notes and actual dates;
// scheduled ones are approved), with approvals, work notes and comments, and a
// share of gaps (no backout plan, no planned dates, an approver who is also the
// requester) so the policy checks have failures to show. Deterministic per seed
// and clock.

import { deriveApproval, priorityFor } from './change-rules.ts';
import { APPROVAL_COMMENTS, CLOSE_NOTES, COMMENTS, SCENARIOS, WORK_NOTES } from './change-scenarios.ts';
import { ciSysId, DEMO_CIS, DEMO_USERS, ensureReferenceData, groupMembers, groupSysId, serviceSysId, STANDARD_TEMPLATES, templateSysId, userSysId, type CiKey, type GroupKey } from './demo-catalog.ts';
import { toGlideDateTime } from './glide-time.ts';
import { seedDemoSchedules } from './schedule-tables.ts';
import { SeededRandom } from './seeded-random.ts';
import { ServiceNowSimulator, type ServiceNowSimulatorOptions } from './servicenow-simulator.ts';

export interface DemoDataOptions {
  /** Number of changes; default 300. */
  count?: number;
  seed?: number;
}

type ChangeType = 'normal' | 'standard' | 'emergency';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const LEGAL_STATES: Readonly<Record<ChangeType, readonly string[]>> = {
  normal: ['-5', '-4', '-3', '-2', '-1', '0', '3', '4'],
  standard: ['-5', '-2', '-1', '0', '3', '4'],
  emergency: ['-5', '-3', '-2', '-1', '0', '3', '4'],
};
const STATE_WEIGHTS: readonly (readonly [string, number])[] = [['-5', 10], ['-4', 8], ['-3', 9], ['-2', 12], ['-1', 6], ['0', 8], ['3', 40], ['4', 7]];
const TYPE_WEIGHTS = [['normal', 55], ['standard', 30], ['emergency', 15]] as const;
const CLOSE_CODES = [['successful', 80], ['successful_issues', 12], ['unsuccessful', 8]] as const;

interface PlannedApproval {
  approver: string;
  state: 'requested' | 'approved' | 'rejected';
  requestedAt: number;
  decidedAt: number;
  comment: string;
}

function people(key: GroupKey, n: number): string[] {
  return groupMembers(key).slice(0, n).map((u) => u.userName);
}

function fmt(ms: number): string {
  return ms > 0 ? toGlideDateTime(ms) : '';
}

/** Every legal (type, state) pair first, then weighted picks, so small demos still cover the lifecycle. */
function typeAndState(i: number, rng: SeededRandom): [ChangeType, string] {
  const coverage = (Object.keys(LEGAL_STATES) as ChangeType[]).flatMap((t) => LEGAL_STATES[t].map((s) => [t, s] as [ChangeType, string]));
  const covered = coverage[i];
  if (covered) return covered;
  const type = rng.weighted(TYPE_WEIGHTS);
  let state = rng.weighted(STATE_WEIGHTS);
  while (!LEGAL_STATES[type].includes(state)) state = rng.weighted(STATE_WEIGHTS);
  return [type, state];
}

function planApprovals(type: ChangeType, state: string, requester: string, group: GroupKey, cab: boolean, opened: number, decideBy: number, rng: SeededRandom): PlannedApproval[] {
  if (type === 'standard' || (state === '-5' && !rng.chance(0.3))) return [];
  const at = (from: number, to: number) => from + Math.floor(rng.next() * Math.max(HOUR, to - from));
  const approvers =
    type === 'emergency' ? people('ecab', 2) : [groupMembers(group)[0]?.userName ?? 'alice.nguyen', ...(cab ? people('cab', 2) : ['alice.nguyen'])];
  // Separation of duties: now and then the requester approves their own change.
  if (type === 'normal' && rng.chance(0.05)) approvers[approvers.length - 1] = requester;
  const unique = [...new Set(approvers)];
  const requestedAt = opened + HOUR;
  const decided = (s: 'approved' | 'rejected', who: string): PlannedApproval => ({
    approver: who,
    state: s,
    requestedAt,
    decidedAt: at(requestedAt, decideBy),
    comment: rng.chance(s === 'rejected' ? 1 : 0.4) ? rng.pick(APPROVAL_COMMENTS[s]) : '',
  });
  const pending = (who: string): PlannedApproval => ({ approver: who, state: 'requested', requestedAt, decidedAt: requestedAt, comment: '' });
  if (state === '-5' || (state === '4' && rng.chance(0.5))) {
    // A rejected normal/emergency change returns to New (reference §2.1) or is canceled.
    return unique.map((who, k) => (k === unique.length - 1 ? decided('rejected', who) : decided('approved', who)));
  }
  // Assess waits on the technical approver; Authorize has that one and some CAB votes in, the last still pending.
  if (state === '-4') return unique.slice(0, 1).map(pending);
  if (state === '-3') return unique.map((who, k) => (k === unique.length - 1 ? pending(who) : k === 0 || rng.chance(0.5) ? decided('approved', who) : pending(who)));
  return unique.map((who) => decided('approved', who));
}

function seedOne(sim: ServiceNowSimulator, i: number, now: number, rng: SeededRandom): void {
  const [type, state] = typeAndState(i, rng);
  const active = state !== '3' && state !== '4';
  const scenario = type === 'standard' ? undefined : rng.pick(SCENARIOS.filter((s) => s.types.includes(type)));
  const templateIndex = rng.int(0, STANDARD_TEMPLATES.length - 1);
  const template = STANDARD_TEMPLATES[templateIndex];
  const group: GroupKey = scenario?.group ?? template?.group ?? 'platform';
  const ci: CiKey = scenario?.ci ?? template?.ci ?? 'web01';
  const requester = rng.pick(DEMO_USERS).userName;
  const assignee = rng.pick(groupMembers(group)).userName;
  const risk = scenario?.risk ?? '4';
  const cab = type === 'normal' && Number(risk) <= 2;

  const opened = active ? now - rng.int(1, 14) * DAY - rng.int(0, 23) * HOUR : now - rng.int(10, 120) * DAY;
  let start: number;
  if (state === '-1') start = now - rng.int(1, 3) * HOUR;
  else if (state === '0') start = now - rng.int(1, 5) * DAY;
  else if (active) start = type === 'emergency' ? now + rng.int(2, 36) * HOUR : now + rng.int(1, 21) * DAY;
  else start = opened + rng.int(2, 10) * DAY;
  const end = state === '-1' ? now + rng.int(1, 4) * HOUR : start + rng.int(1, 6) * HOUR;
  const closedAt = state === '3' ? Math.min(now - HOUR, end + rng.int(1, 48) * HOUR) : state === '4' ? opened + rng.int(1, 5) * DAY : 0;
  const lastPossible = active ? (state === '0' ? Math.max(end, now - 2 * HOUR) : now - HOUR) : closedAt;

  const approvals = planApprovals(type, state, requester, group, cab, opened, Math.min(start, lastPossible), rng);
  const journal: { element: 'work_notes' | 'comments'; text: string; at: number; by: string }[] = [];
  const notes = rng.int(0, 3);
  for (let k = 0; k < notes; k++) journal.push({ element: 'work_notes', text: rng.pick(WORK_NOTES), at: opened + Math.floor(rng.next() * (lastPossible - opened)), by: assignee });
  if (rng.chance(0.35)) journal.push({ element: 'comments', text: rng.pick(COMMENTS), at: opened + Math.floor(rng.next() * (lastPossible - opened)), by: requester });
  if (state === '3') journal.push({ element: 'work_notes', text: 'Post-implementation review complete; monitoring quiet.', at: closedAt, by: assignee });

  const times = [opened, closedAt, ...approvals.map((a) => a.decidedAt), ...journal.map((j) => j.at)];
  if (state === '-1' || state === '0') times.push(start);
  if (state === '0') times.push(end);
  const updated = Math.min(Math.max(...times), now);
  const approval = type === 'standard' ? 'approved' : deriveApproval(approvals.map((a) => a.state));
  const decisions = approvals.filter((a) => a.state !== 'requested').map((a) => a.decidedAt);
  const closeCode = state === '3' ? rng.weighted(CLOSE_CODES) : '';
  const missingDates = active && state !== '-1' && state !== '0' && rng.chance(0.1);
  const onHold = (state === '-2' || state === '-1') && rng.chance(0.06);
  const impact = String(rng.int(1, 3));
  const urgency = String(rng.int(1, 3));
  const title = scenario?.title ?? (template?.name ?? '').replace(/ - \d+$/, '');

  const change = sim.createChange(
    {
      sys_id: rng.sysId(),
      type,
      state,
      active: active ? 'true' : 'false',
      short_description: title,
      description: scenario?.description ?? `${title} (pre-approved standard change).`,
      implementation_plan: scenario?.implementation ?? 'As per the standard change template.',
      backout_plan: scenario && rng.chance(0.12) ? '' : (scenario?.backout ?? 'As per the standard change template.'),
      test_plan: scenario && rng.chance(0.06) ? '' : (scenario?.test ?? 'Template verified at approval.'),
      justification: scenario?.justification ?? '',
      risk_impact_analysis: scenario?.riskAnalysis ?? '',
      risk,
      impact,
      urgency,
      priority: priorityFor(impact, urgency),
      approval,
      approval_set: approval === 'approved' || approval === 'rejected' ? fmt(decisions.length > 0 ? Math.max(...decisions) : opened) : '',
      assignment_group: state === '-5' && rng.chance(0.05) ? '' : groupSysId(group),
      assigned_to: userSysId(assignee),
      requested_by: userSysId(requester),
      opened_by: userSysId(requester),
      opened_at: fmt(opened),
      cmdb_ci: ciSysId(ci),
      business_service: serviceSysId(DEMO_CIS[ci].service),
      std_change_producer_version: type === 'standard' ? templateSysId(templateIndex) : '',
      start_date: missingDates ? '' : fmt(start),
      end_date: missingDates ? '' : fmt(end),
      work_start: state === '-1' || state === '0' || state === '3' ? fmt(start) : '',
      work_end: state === '0' || state === '3' ? fmt(end) : '',
      cab_required: cab ? 'true' : 'false',
      cab_date: cab ? fmt(start - rng.int(1, 3) * DAY).slice(0, 10) : '',
      cab_recommendation: cab && approval === 'approved' ? 'Approve: plans reviewed, backout tested.' : '',
      on_hold: onHold ? 'true' : 'false',
      on_hold_reason: onHold ? 'Awaiting vendor confirmation of the maintenance slot' : '',
      close_code: closeCode,
      close_notes: closeCode ? rng.pick(CLOSE_NOTES[closeCode]) : state === '4' ? 'Canceled: superseded by a rescheduled change.' : '',
      closed_at: fmt(closedAt),
      closed_by: active ? '' : userSysId(assignee),
      conflict_status: active ? 'Not Run' : 'No Conflict',
      sys_created_on: fmt(opened),
      sys_created_by: requester,
      sys_updated_on: fmt(updated),
      sys_updated_by: assignee,
      sys_mod_count: String(3 + approvals.length + journal.length + LEGAL_STATES[type].indexOf(state)),
    },
    { at: new Date(opened), user: requester },
  );

  approvals.forEach((a, order) => {
    const row = sim.insertRecord(
      'sysapproval_approver',
      {
        sys_id: rng.sysId(),
        approver: userSysId(a.approver),
        sysapproval: change.sys_id,
        document_id: change.sys_id,
        state: a.state,
        order: String(order + 1),
        due_date: fmt(start),
        expected_start: fmt(start),
        sys_created_on: fmt(a.requestedAt),
        sys_created_by: 'system',
        sys_updated_on: fmt(a.decidedAt),
        sys_updated_by: a.state === 'requested' ? 'system' : a.approver,
        sys_mod_count: a.state === 'requested' ? '0' : '1',
      },
      { at: new Date(a.requestedAt), user: 'system', touchParent: false },
    );
    if (a.comment) journalRow(sim, rng, 'sysapproval_approver', row.sys_id ?? '', 'comments', a.comment, a.decidedAt, a.approver);
  });
  for (const j of journal) journalRow(sim, rng, 'change_request', change.sys_id ?? '', j.element, j.text, j.at, j.by);
}

function journalRow(sim: ServiceNowSimulator, rng: SeededRandom, table: string, sysId: string, element: string, text: string, at: number, by: string): void {
  sim.insertRecord(
    'sys_journal_field',
    { sys_id: rng.sysId(), sys_created_on: toGlideDateTime(at), name: table, element_id: sysId, value: text, sys_created_by: by, element },
    { at: new Date(at), user: by, touchParent: false },
  );
}

/** Seeds `count` changes (default 300) plus users, groups, CIs, services, templates and a blackout and a maintenance schedule. */
export function seedDemoData(sim: ServiceNowSimulator, options: DemoDataOptions = {}): void {
  ensureReferenceData(sim);
  seedDemoSchedules(sim);
  const rng = new SeededRandom(options.seed ?? 1);
  // Whole hours keep the demo's planned windows readable.
  const now = Math.floor(sim.now().getTime() / HOUR) * HOUR;
  const count = options.count ?? 300;
  for (let i = 0; i < count; i++) seedOne(sim, i, now, rng);
}

/** A simulator for `baseUrl`, seeded with the demo data. */
export function createDemoSimulator(baseUrl: string, options: DemoDataOptions & Partial<Omit<ServiceNowSimulatorOptions, 'baseUrl'>> = {}): ServiceNowSimulator {
  const { count, seed, ...simOptions } = options;
  const sim = new ServiceNowSimulator({ ...simOptions, baseUrl });
  const demo: DemoDataOptions = {};
  if (count !== undefined) demo.count = count;
  if (seed !== undefined) demo.seed = seed;
  seedDemoData(sim, demo);
  return sim;
}
