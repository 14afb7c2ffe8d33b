// Realistic canonical values for tests: a ServiceNow change as the connector
// maps it, with a `raw` payload shaped like the Table API's
// `sysparm_display_value=all&sysparm_exclude_reference_link=true` answer (each
// field `{ display_value, value }`, ~110 fields, ~9 KB of JSON in all), kept consistent with the canonical
// fields it overrides so a diff of `raw` moves with the field it mirrors.

import type { Approval, Change, JournalEntry } from '../../src/domain/change.ts';
import { changeId } from '../../src/domain/change.ts';

const SN_STATE: Record<Change['state'], { value: number; label: string }> = {
  new: { value: -5, label: 'New' },
  assess: { value: -4, label: 'Assess' },
  authorize: { value: -3, label: 'Authorize' },
  scheduled: { value: -2, label: 'Scheduled' },
  implement: { value: -1, label: 'Implement' },
  review: { value: 0, label: 'Review' },
  closed: { value: 3, label: 'Closed' },
  canceled: { value: 4, label: 'Canceled' },
  failed: { value: 3, label: 'Closed' },
};

/** A ServiceNow-style 32-hex sys_id derived from a number, so tests can name records `sysId(1)`, `sysId(2)`. */
export function sysId(n: number): string {
  return n.toString(16).padStart(8, '0').repeat(4);
}

/** `CHG0030001` for 1. */
export function changeNumber(n: number): string {
  return `CHG${String(30_000 + n).padStart(7, '0')}`;
}

/** ISO instant `minutes` after 2026-03-02T09:00:00Z, for readable ordered timestamps. */
export function at(minutes: number): string {
  return new Date(Date.parse('2026-03-02T09:00:00Z') + minutes * 60_000).toISOString().replace('.000Z', 'Z');
}

/**
 * A complete, realistic `Change`. Identity (`id`) follows `system`, `instance`
 * and `nativeId` unless given; `raw` mirrors the canonical fields unless given.
 */
export function buildChange(overrides: Partial<Change> = {}): Change {
  const system = overrides.system ?? 'servicenow';
  const instance = overrides.instance ?? 'sn-prod';
  const nativeId = overrides.nativeId ?? sysId(1);
  const key = overrides.key ?? changeNumber(1);
  const state = overrides.state ?? 'assess';
  const updatedAt = overrides.updatedAt ?? at(0);
  const nativeRevision = overrides.nativeRevision ?? 3;
  const base: Change = {
    id: changeId(system, instance, nativeId),
    system,
    instance,
    nativeId,
    key,
    url: `https://acme.service-now.com/change_request.do?sys_id=${nativeId}`,
    title: 'Upgrade the payments API gateway to 4.2',
    description: 'Roll the payments gateway cluster from 4.1.7 to 4.2.0 behind the blue/green switch; no schema change.',
    type: 'normal',
    state,
    nativeState: String(SN_STATE[state].value),
    nativeStateLabel: SN_STATE[state].label,
    risk: { impact: 'medium', probability: 'low', level: 'medium' },
    plannedStart: '2026-03-10T22:00:00Z',
    plannedEnd: '2026-03-10T23:30:00Z',
    actualStart: null,
    actualEnd: null,
    requester: { id: '6816f79cc0a8016401c5a33be04be441', name: 'Ada Requester' },
    assignee: { id: '5137153cc611227c000bbd1bd8cd2007', name: 'Grace Implementer' },
    assignmentGroup: { id: 'd625dccec0a8016700a222a0f7900d06', name: 'Payments Platform' },
    services: [{ id: '26da329f0a0a0bb400f69d8159bc753d', name: 'Payments API' }],
    cis: [{ id: 'b0c25d1bc0a800090168be1bfcdcd759', name: 'pay-gw-cluster-01' }],
    plans: {
      implementation: '1. Drain blue. 2. Deploy 4.2.0 to blue. 3. Smoke test. 4. Switch traffic. 5. Drain green.',
      backout: 'Switch traffic back to green (4.1.7); blue stays drained for analysis.',
      test: 'Synthetic payment flow in UAT and a canary of 1% traffic for 15 minutes.',
    },
    justification: 'CVE-2026-1234 is fixed in 4.2.0; the PCI remediation deadline is 2026-03-15.',
    approvalStatus: 'requested',
    cab: { required: true, date: '2026-03-05T14:00:00Z', recommendation: null },
    closeCode: null,
    closeNotes: null,
    links: {
      repos: ['github.com/acme/payments-gateway'],
      commits: ['9fceb02d0ae598e95dc970b74767f19372d61af8'],
      artifacts: ['ghcr.io/acme/payments-gateway:4.2.0'],
      pipelines: ['github-actions:acme/payments-gateway:release'],
    },
    custom: { u_release_train: 'RT-2026-10', u_pci_scope: 'true' },
    createdAt: '2026-02-27T10:15:00Z',
    updatedAt,
    nativeRevision,
    raw: null,
  };
  const change: Change = { ...base, ...overrides, id: overrides.id ?? base.id };
  if (!('raw' in overrides)) change.raw = rawRecord(change);
  return change;
}

/** Builds `count` distinct changes (`sysId(first + i)`, `changeNumber(first + i)`, one minute apart). */
export function buildChanges(count: number, first = 1, overrides: Partial<Change> = {}): Change[] {
  return Array.from({ length: count }, (_, i) =>
    buildChange({ nativeId: sysId(first + i), key: changeNumber(first + i), updatedAt: at(first + i), ...overrides }),
  );
}

export function buildApproval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 'a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4',
    approver: { id: '46d44a23a9fe19810012d100cca80666', name: 'Beth Anglin' },
    group: { id: 'b85d44954a3623120004689b2d5dd60a', name: 'CAB Approval' },
    state: 'requested',
    nativeState: 'requested',
    decidedAt: null,
    comment: null,
    updatedAt: at(5),
    ...overrides,
  };
}

export function buildJournalEntry(overrides: Partial<JournalEntry> = {}): JournalEntry {
  return {
    id: '2c6420c31b0000506a4a85507e4bcb82',
    kind: 'work_note',
    author: 'admin',
    at: at(6),
    text: 'Canary at 1% looks healthy; proceeding.',
    ...overrides,
  };
}

function field(value: string | number | boolean, display: string = String(value)): { display_value: string; value: string | number | boolean } {
  return { display_value: display, value };
}

function snTime(iso: string | null): { display_value: string; value: string } {
  const text = iso === null ? '' : iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
  return { display_value: text, value: text };
}

const SN_LEVEL = { very_high: '1', high: '2', medium: '3', low: '4' } as const;

function rawRecord(c: Change): Record<string, unknown> {
  const ref = (r: { id: string; name: string | null } | null | undefined) =>
    r == null ? field('') : field(r.id, r.name ?? '');
  const raw: Record<string, unknown> = {
    active: field(c.state !== 'closed' && c.state !== 'canceled', String(c.state !== 'closed' && c.state !== 'canceled')),
    approval: field(c.approvalStatus ?? 'not requested'),
    assigned_to: ref(c.assignee),
    assignment_group: ref(c.assignmentGroup),
    backout_plan: field(c.plans.backout ?? ''),
    business_service: ref(c.services[0]),
    cab_date: snTime(c.cab.date),
    cab_recommendation: field(c.cab.recommendation ?? ''),
    cab_required: field(c.cab.required, String(c.cab.required)),
    category: field('Software'),
    close_code: field(c.closeCode ?? ''),
    close_notes: field(c.closeNotes ?? ''),
    cmdb_ci: ref(c.cis[0]),
    description: field(c.description ?? ''),
    end_date: snTime(c.plannedEnd),
    impact: field(c.risk.impact === null ? '' : SN_LEVEL[c.risk.impact], c.risk.impact ?? ''),
    implementation_plan: field(c.plans.implementation ?? ''),
    justification: field(c.justification ?? ''),
    number: field(c.key),
    opened_at: snTime(c.createdAt),
    requested_by: ref(c.requester),
    risk: field(c.risk.level === null ? '' : SN_LEVEL[c.risk.level], c.risk.level ?? ''),
    short_description: field(c.title),
    start_date: snTime(c.plannedStart),
    state: field(Number(c.nativeState), c.nativeStateLabel ?? c.nativeState),
    sys_class_name: field('change_request', 'Change Request'),
    sys_created_on: snTime(c.createdAt),
    sys_id: field(c.nativeId),
    sys_mod_count: field(c.nativeRevision),
    sys_updated_on: snTime(c.updatedAt),
    test_plan: field(c.plans.test ?? ''),
    type: field(c.type, c.type[0]?.toUpperCase() + c.type.slice(1)),
    work_end: snTime(c.actualEnd),
    work_start: snTime(c.actualStart),
  };
  // The rest of a change_request row: fields no mapping reads, present in every real payload.
  for (const name of FILLER_FIELDS) raw[name] ??= field('', '');
  raw['sys_domain'] = field('global');
  raw['sys_domain_path'] = field('/');
  raw['conflict_status'] = field('Not Run');
  raw['phase'] = field('requested', 'Requested');
  raw['upon_approval'] = field('proceed', 'Proceed to Next Task');
  raw['upon_reject'] = field('cancel', 'Cancel all future Tasks');
  raw['std_change_producer_version'] = field('deb8544047810200e90d87e8dee490af');
  raw['variables'] = field('', '');
  raw['work_notes'] = field('', '');
  raw['risk_impact_analysis'] = field('Tier-1 service; rollback is one traffic switch (under 2 minutes).');
  return raw;
}

const FILLER_FIELDS = [
  'activity_due', 'additional_assignee_list', 'approval_history', 'approval_set', 'business_duration', 'cab_delegate',
  'calendar_duration', 'change_plan', 'chg_model', 'ci_class', 'closed_at', 'closed_by', 'company', 'contact_type',
  'contract', 'correlation_display', 'correlation_id', 'delivery_plan', 'delivery_task', 'due_date', 'escalation',
  'expected_start', 'follow_up', 'group_list', 'is_bulk', 'knowledge', 'location', 'made_sla', 'on_hold',
  'on_hold_reason', 'on_hold_task', 'opened_by', 'order', 'outside_maintenance_schedule', 'parent', 'phase_state',
  'priority', 'production_system', 'proposed_change', 'reason', 'reassignment_count', 'rejection_goto',
  'requested_by_date', 'review_comments', 'review_date', 'review_status', 'risk_value', 'route_reason', 'scope',
  'service_offering', 'skills', 'sla_due', 'sys_created_by', 'sys_tags', 'sys_updated_by', 'task_effective_number',
  'time_worked', 'unauthorized', 'universal_request', 'urgency', 'user_input', 'watch_list', 'wf_activity',
  'work_notes_list', 'conflict_last_run', 'comments', 'comments_and_work_notes',
];
