// Fast generation of many realistic change records (benchmarks, paging and
// keyset tests): rows are built from one template and stored directly, skipping
// per-write bookkeeping. Values are consistent with each change's lifecycle.

import { priorityFor } from './change-rules.ts';
import { APPROVAL_COMMENTS, CLOSE_NOTES, SCENARIOS } from './change-scenarios.ts';
import {
  ciSysId,
  DEMO_CIS,
  DEMO_USERS,
  groupMembers,
  groupSysId,
  serviceSysId,
  STANDARD_TEMPLATES,
  templateSysId,
  userSysId,
  type CiKey,
  type GroupKey,
  type ServiceKey,
} from './demo-catalog.ts';
import { toGlideDateTime } from './glide-time.ts';
import { SeededRandom } from './seeded-random.ts';
import { drawCi, fleetCiSysId, fleetServiceSysId, maintenanceStart, serviceOf, type Fleet } from './skewed-fleet.ts';
import type { Row } from './table-schema.ts';

export interface BulkOptions {
  /** Same seed, same records (on a fresh simulator). Default 1. */
  seed?: number;
  /** Latest `sys_updated_on`; default the simulator clock. */
  end?: Date;
  /** How far back records spread; default 180 days. */
  spanDays?: number;
  /** Share of records updated in the same second as the previous one, as bulk jobs do; default 0.15. */
  tieRate?: number;
  /** Changes on this fleet's CIs (a Zipf law) instead of the demo catalog's few; the simulator inserts its records. */
  fleet?: Fleet;
  /** Active changes planned in the weekly maintenance windows (skewed-fleet.ts), as on a real instance. */
  maintenanceWindows?: boolean;
}

export interface BulkContext {
  template: Row;
  firstNumber: number;
  now: Date;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const TYPE_WEIGHTS = [['normal', 55], ['standard', 30], ['emergency', 15]] as const;
const STATE_WEIGHTS: Readonly<Record<string, readonly (readonly [string, number])[]>> = {
  normal: [['-5', 6], ['-4', 5], ['-3', 5], ['-2', 8], ['-1', 4], ['0', 6], ['3', 60], ['4', 6]],
  standard: [['-5', 4], ['-2', 8], ['-1', 4], ['0', 4], ['3', 75], ['4', 5]],
  emergency: [['-5', 3], ['-3', 6], ['-2', 6], ['-1', 5], ['0', 8], ['3', 66], ['4', 6]],
};
const CLOSE_CODES = [['successful', 82], ['successful_issues', 11], ['unsuccessful', 7]] as const;

function approvalFor(type: string, state: string, rng: SeededRandom): string {
  if (type === 'standard') return 'approved';
  if (state === '-5') return rng.chance(0.2) ? 'rejected' : 'not requested';
  if (state === '-4' || state === '-3') return 'requested';
  if (state === '4') return rng.chance(0.4) ? 'rejected' : 'approved';
  return 'approved';
}

export function bulkChangeRows(n: number, ctx: BulkContext, options: BulkOptions = {}): Row[] {
  const rng = new SeededRandom((options.seed ?? 1) * 7919 + ctx.firstNumber);
  const end = (options.end ?? ctx.now).getTime();
  const span = (options.spanDays ?? 180) * DAY;
  const tieRate = options.tieRate ?? 0.15;
  const rows: Row[] = [];
  const scenarios = {
    normal: SCENARIOS.filter((x) => x.types.includes('normal')),
    emergency: SCENARIOS.filter((x) => x.types.includes('emergency')),
  };
  const members = new Map<string, string[]>();
  let previousUpdated = '';
  for (let i = 0; i < n; i++) {
    const type = rng.weighted(TYPE_WEIGHTS);
    const state = rng.weighted(STATE_WEIGHTS[type] ?? []);
    const updatedMs = end - Math.floor(rng.next() * span);
    const updated = previousUpdated !== '' && rng.chance(tieRate) ? previousUpdated : toGlideDateTime(updatedMs);
    previousUpdated = updated;
    const updatedAt = Date.parse(`${updated.replace(' ', 'T')}Z`);
    const openedMs = updatedAt - Math.floor(rng.next() * 20 * DAY) - HOUR;
    const active = state !== '3' && state !== '4';
    // Active changes are planned after they were opened; finished ones ran before their last update.
    let startMs = active ? openedMs + rng.int(1, 21) * DAY : Math.min(updatedAt - 2 * HOUR, openedMs + rng.int(1, 10) * DAY);
    let endMs = startMs + rng.int(1, 6) * HOUR;
    if (active && options.maintenanceWindows) {
      startMs = maintenanceStart(startMs, rng);
      endMs = startMs + rng.int(1, 4) * HOUR;
    }

    let title: string;
    let group: string;
    let ci: string;
    let service: string;
    let plans = { implementation: '', backout: '', test: '', justification: '', riskAnalysis: '', description: '' };
    let template = '';
    let risk: string;
    if (type === 'standard') {
      const t = rng.pick(STANDARD_TEMPLATES);
      const ti = STANDARD_TEMPLATES.indexOf(t);
      title = t.name.replace(/ - \d+$/, '');
      group = t.group;
      ci = t.ci;
      service = DEMO_CIS[t.ci].service;
      template = templateSysId(ti);
      plans = { implementation: 'As per the standard change template.', backout: 'As per the standard change template.', test: 'Template verified at approval.', justification: '', riskAnalysis: '', description: `${title} (pre-approved standard change).` };
      risk = '4';
    } else {
      const s = rng.pick(type === 'emergency' ? scenarios.emergency : scenarios.normal);
      title = s.title;
      group = s.group;
      ci = s.ci;
      service = DEMO_CIS[s.ci].service;
      plans = { implementation: s.implementation, backout: s.backout, test: s.test, justification: s.justification, riskAnalysis: s.riskAnalysis, description: s.description };
      risk = s.risk;
    }
    let team = members.get(group);
    if (!team) members.set(group, (team = groupMembers(group as GroupKey).map((u) => u.userName)));
    const assignee = team.length > 0 ? rng.pick(team) : 'admin';
    const requester = rng.pick(DEMO_USERS).userName;
    const impact = String(rng.int(1, 3));
    const urgency = String(rng.int(1, 3));
    const closeCode = state === '3' ? rng.weighted(CLOSE_CODES) : '';
    const fleetCi = options.fleet === undefined ? null : drawCi(options.fleet, rng);
    const number = `CHG${String(ctx.firstNumber + i).padStart(7, '0')}`;
    const missingPlanDates = active && rng.chance(0.08);
    const row: Row = {
      ...ctx.template,
      active: active ? 'true' : 'false',
      approval: approvalFor(type, state, rng),
      assigned_to: userSysId(assignee),
      assignment_group: groupSysId(group as GroupKey),
      backout_plan: type !== 'standard' && rng.chance(0.1) ? '' : plans.backout,
      business_service: fleetCi === null || options.fleet === undefined ? serviceSysId(service as ServiceKey) : fleetServiceSysId(serviceOf(options.fleet, fleetCi)),
      cab_required: type === 'normal' && Number(risk) <= 2 ? 'true' : 'false',
      close_code: closeCode,
      close_notes: closeCode ? rng.pick(CLOSE_NOTES[closeCode as keyof typeof CLOSE_NOTES]) : state === '4' ? rng.pick(APPROVAL_COMMENTS.rejected) : '',
      closed_at: active ? '' : updated,
      closed_by: active ? '' : userSysId(assignee),
      cmdb_ci: fleetCi === null ? ciSysId(ci as CiKey) : fleetCiSysId(fleetCi),
      description: plans.description,
      end_date: missingPlanDates ? '' : toGlideDateTime(endMs),
      impact,
      implementation_plan: plans.implementation,
      justification: plans.justification,
      number,
      opened_at: toGlideDateTime(openedMs),
      opened_by: userSysId(requester),
      priority: priorityFor(impact, urgency) ?? '4',
      requested_by: userSysId(requester),
      risk,
      risk_impact_analysis: plans.riskAnalysis,
      short_description: title,
      start_date: missingPlanDates ? '' : toGlideDateTime(startMs),
      state,
      std_change_producer_version: template,
      sys_created_by: requester,
      sys_created_on: toGlideDateTime(openedMs),
      sys_id: rng.sysId(),
      sys_mod_count: String(rng.int(1, 24)),
      sys_updated_by: assignee,
      sys_updated_on: updated,
      task_effective_number: number,
      test_plan: plans.test,
      type,
      urgency,
      work_end: state === '3' || state === '0' ? toGlideDateTime(endMs) : '',
      work_start: state === '3' || state === '0' || state === '-1' ? toGlideDateTime(startMs) : '',
    };
    rows.push(row);
  }
  return rows;
}
