// Gates into Assess and Authorize: is the record complete, is the risk
// assessed, are the plans written, is the schedule sane and free of conflicts.

import type { EvidenceRef } from '../../domain/assessment.ts';
import type { Change } from '../../domain/change.ts';
import { conflicts, maintenanceFit, overlaps, type WindowOccurrence } from '../calendar.ts';
import { fieldRef, isBlank } from '../evidence.ts';
import { describeRisk } from '../risk.ts';
import type { RecordField } from '../rule-catalog.ts';
import { formatDuration, formatUtc } from '../zoned-time.ts';
import { defineGate, fail, listText, pass, pending, plannedWindow, plural } from './gate.ts';

const FIELD_LABEL: Record<RecordField, string> = {
  title: 'title',
  description: 'description',
  requester: 'requester',
  assignee: 'assignee',
  assignmentGroup: 'assignment group',
  services: 'affected service or CI',
  justification: 'business justification',
};

function fieldMissing(change: Change, field: RecordField): boolean {
  switch (field) {
    case 'title':
    case 'description':
    case 'justification':
      return isBlank(change[field]);
    case 'requester':
    case 'assignee':
    case 'assignmentGroup':
      return change[field] === null;
    case 'services':
      return change.services.length + change.cis.length === 0;
  }
}

/** What the ticket's reader is told about a missing field: a field the site does not have is not an empty field. */
function missingLabel(change: Change, field: RecordField): string {
  if (field !== 'assignmentGroup') return FIELD_LABEL[field];
  switch (change.standIns?.assignmentGroup) {
    case 'none':
      return 'assignment group (this site has no assignment group field and the mapping lets nothing stand in for it)';
    case 'affected-service':
      return 'assignment group (the affected service stands in for it, and none is named)';
    default:
      return FIELD_LABEL[field];
  }
}

/** How a field that is set got its value, when a stand-in gave it. */
export function groupStandInText(change: Change): string | null {
  if (change.standIns?.assignmentGroup !== 'affected-service' || change.assignmentGroup === null) return null;
  return `the affected service ${change.assignmentGroup.name ?? change.assignmentGroup.id} stands in for the assignment group`;
}

export const NO_GROUP_HINT = 'the site has no assignment group: name its group or team field under fields.assignmentGroup in the mapping, or let the affected service stand in (standIns.assignmentGroup: affected-service)';

export function windowText(o: { name: string; start: number; end: number }): string {
  return `"${o.name}" (${formatUtc(o.start)} – ${formatUtc(o.end)})`;
}

export function windowRef(o: WindowOccurrence): EvidenceRef {
  return { kind: 'calendar', ref: o.windowId, summary: `${o.kind} window ${windowText(o)}`, url: null, at: new Date(o.start).toISOString() };
}

export const recordComplete = defineGate({
  id: 'assess.record-complete',
  check({ change }, params) {
    const missing = params.fields.filter((f) => fieldMissing(change, f));
    if (missing.length > 0) {
      const verdict = fail(`the record is missing ${listText(missing.map((f) => missingLabel(change, f)))}`, missing.map((f) => fieldRef(f, `${FIELD_LABEL[f]} is empty`)));
      return missing.includes('assignmentGroup') && change.standIns?.assignmentGroup === 'none' ? { ...verdict, hint: NO_GROUP_HINT } : verdict;
    }
    const standIn = params.fields.includes('assignmentGroup') ? groupStandInText(change) : null;
    return pass(`${listText(params.fields.map((f) => FIELD_LABEL[f]))} ${params.fields.length === 1 ? 'is' : 'are'} set${standIn === null ? '' : ` (${standIn})`}`);
  },
});

export const riskAssessed = defineGate({
  id: 'authorize.risk-assessed',
  check({ risk }, params) {
    const evidence = [fieldRef('risk', describeRisk(risk))];
    if (risk.impact === null) return fail(`impact is not set; ${describeRisk(risk)}`, evidence);
    if (risk.probability === null && params.requireProbability) return fail('probability is not set; this policy needs impact and probability for the risk matrix', evidence);
    if (risk.level === null) return fail(describeRisk(risk), evidence);
    return pass(describeRisk(risk), evidence);
  },
});

export const plansPresent = defineGate({
  id: 'authorize.plans',
  check({ change }, params) {
    const missing = params.plans.filter((p) => isBlank(change.plans[p], params.placeholders, params.minLength));
    if (missing.length > 0) {
      const noun = missing.length === 1 ? 'plan is' : 'plans are';
      return fail(`${listText(missing)} ${noun} empty`, missing.map((p) => fieldRef(`plans.${p}`, `${p} plan is empty`)));
    }
    return pass(`${listText(params.plans)} plans are present`);
  },
});

export const scheduleSet = defineGate({
  id: 'authorize.schedule',
  check({ change }) {
    const planned = plannedWindow(change);
    if ('problem' in planned) return fail(planned.problem, [fieldRef('plannedStart', planned.problem)]);
    if (planned.end <= planned.start) {
      return fail(`planned end ${formatUtc(planned.end)} is not after planned start ${formatUtc(planned.start)}`, [fieldRef('plannedEnd', 'ends before it starts')]);
    }
    return pass(`planned ${formatUtc(planned.start)} – ${formatUtc(planned.end)} (${formatDuration(planned.end - planned.start)})`);
  },
});

export const leadTime = defineGate({
  id: 'authorize.lead-time',
  atEntryOnly: true,
  check({ change, now }, params) {
    const needed = params.leadTime[change.type];
    if (needed === 0) return pass(`${change.type} changes need no lead time`);
    const start = change.plannedStart === null ? Number.NaN : Date.parse(change.plannedStart);
    if (Number.isNaN(start)) return fail(`planned start is not set, so the ${formatDuration(needed)} lead time for ${change.type} changes cannot be checked`);
    const away = start - now;
    const when = away >= 0 ? `is ${formatDuration(away)} away` : `was ${formatDuration(away)} ago`;
    const evidence = [fieldRef('plannedStart', `planned start ${formatUtc(start)}`)];
    if (away < needed) return fail(`planned start ${formatUtc(start)} ${when}; ${change.type} changes need ${formatDuration(needed)} lead time`, evidence);
    return pass(`planned start ${formatUtc(start)} ${when}; ${change.type} changes need ${formatDuration(needed)}`, evidence);
  },
});

export const noFreezeConflict = defineGate({
  id: 'authorize.freeze',
  check({ change, ctx }, params) {
    const planned = plannedWindow(change);
    if ('problem' in planned) return pending(`freeze windows cannot be checked: ${planned.problem}`);
    const hits = conflicts(change, ctx.calendar);
    if (params.exemptTypes.includes(change.type)) {
      const note = hits.length > 0 ? ` (overlaps ${listText(hits.map(windowText))})` : '';
      return pass(`${change.type} changes are exempt from freeze windows${note}`, hits.map(windowRef));
    }
    if (hits.length > 0) return fail(`the planned window overlaps freeze ${listText(hits.map(windowText))}`, hits.map(windowRef));
    return pass('no freeze window overlaps the planned window');
  },
});

export const inMaintenanceWindow = defineGate({
  id: 'authorize.maintenance-window',
  check({ change, ctx }, params) {
    if (params.exemptTypes.includes(change.type)) return pass(`${change.type} changes may run outside maintenance windows`);
    const fit = maintenanceFit(change, ctx.calendar);
    if (!fit.applicable) return pass('no maintenance window applies to the affected services');
    const planned = plannedWindow(change);
    if ('problem' in planned) return pending(`maintenance windows cannot be checked: ${planned.problem}`);
    if (fit.covering) return pass(`the planned window lies inside maintenance window ${windowText(fit.covering)}`, [windowRef(fit.covering)]);
    return fail(`the planned window ${formatUtc(planned.start)} – ${formatUtc(planned.end)} is not inside a maintenance window for the affected services`);
  },
});

/**
 * Overlapping changes the overlap gate names, in its reason and its evidence, in the order the neighbour lookup
 * gives (most recently updated first); the others are counted. On a busy shared service a window can overlap
 * dozens (the lookup returns up to 200): a verdict naming them all was a paragraph on the ticket, and each such
 * assessment took tens of kilobytes in the ledger, the outbox and memory.
 */
export const OVERLAPS_NAMED = 10;

export const noOverlap = defineGate({
  id: 'authorize.no-overlap',
  check({ change, ctx }, params) {
    const planned = plannedWindow(change);
    if ('problem' in planned) return pending(`overlapping changes cannot be checked: ${planned.problem}`);
    const hits = overlaps(change, ctx.otherChanges, params.ignoreStates);
    if (hits.length === 0) return pass('no other change on the same service or CI overlaps the planned window');
    const named = hits.slice(0, OVERLAPS_NAMED);
    const text = named.map((o) => `${o.key} on ${listText(o.shared)} (${formatUtc(Date.parse(o.plannedStart))} – ${formatUtc(Date.parse(o.plannedEnd))})`);
    const others = hits.length - named.length;
    return fail(
      others === 0 ? `the planned window overlaps ${listText(text)}` : `the planned window overlaps ${hits.length} changes: ${text.join(', ')} and ${plural(others, 'other')}`,
      named.map((o) => ({ kind: 'change', ref: o.key, summary: `planned ${o.plannedStart} – ${o.plannedEnd} on ${o.shared.join(', ')}`, url: null, at: o.plannedStart })),
    );
  },
});

export const PLANNING_GATES = [recordComplete, riskAssessed, plansPresent, scheduleSet, leadTime, noFreezeConflict, inMaintenanceWindow, noOverlap];
