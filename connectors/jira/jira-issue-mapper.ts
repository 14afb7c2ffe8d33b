// A Jira issue (as search or GET issue return it, with its changelog) →
// canonical Change, driven by the mapping and the site's field ids. Pure.
// Revisions and the status history come from the changelog: the revision is the
// number of histories (monotonic), and where the mapping names no field for the
// actual start/end they are read off the status history.

import type { Change, ChangeType, Level, Ref, StandIns } from '../../src/domain/change.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import type { RawIssue } from './jira-client.ts';
import { parseJiraDateTime, parseJiraWhen } from './jira-date.ts';
import type { FieldResolution } from './jira-fields.ts';
import { flagOf, optionOf, refOf, refsOf, textListOf, textOf } from './jira-field-value.ts';
import type { JiraMapping } from './jira-mapping.ts';

export interface JiraMapContext {
  instance: string;
  /** The site's URL, for links to issues. */
  siteUrl: string;
  mapping: JiraMapping;
  fields: FieldResolution;
  /** Zone for date-only values (the site's). */
  timeZone: string;
}

type Obj = Record<string, unknown>;
const label = (ref: string): string => `"${ref}"`;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);

export function recordInvalid(what: string, record: string, field: string, message: string): ChangegateError {
  return new ChangegateError('CG_JIRA_RECORD_INVALID', `${what} ${record} ${message}`, { details: { field, record } });
}

export function unknownValue(what: string, record: string, field: string, value: string, file: string, section: string): ChangegateError {
  return new ChangegateError('CG_MAPPING_UNKNOWN_VALUE', `${what} ${record} has ${field} "${value}", which ${file} does not map; add it under ${section}:`, {
    details: { field, value, file, record },
  });
}

/** Adds the record to an error raised while reading one of its fields. */
export function withRecord(err: unknown, what: string, record: string): unknown {
  if (!isChangegateError(err, 'CG_JIRA_RECORD_INVALID') || err.details['record'] !== undefined) return err;
  return new ChangegateError('CG_JIRA_RECORD_INVALID', `${what} ${record}: ${err.message}`, { cause: err, details: { ...err.details, record } });
}

/** What the record is called in messages: its key, else its id. */
export function issueRef(issue: RawIssue): string {
  const key = issue['key'];
  const id = issue['id'];
  return typeof key === 'string' && key !== '' ? key : typeof id === 'string' || typeof id === 'number' ? String(id) : '(no key)';
}

interface StatusChange {
  at: string;
  /** Status name and id the change moved to. */
  toName: string | null;
  toId: string | null;
}

/** Status moves from the changelog, oldest first (search returns histories newest first). */
export function statusChanges(histories: readonly unknown[]): StatusChange[] {
  const moves: { at: number; seq: number; change: StatusChange }[] = [];
  histories.forEach((raw, seq) => {
    const h = asObj(raw);
    const at = h === null ? null : parseJiraDateTime(h['created'], 'changelog.created');
    if (h === null || at === null || !Array.isArray(h['items'])) return;
    for (const item of h['items']) {
      const i = asObj(item);
      if (i === null || (i['fieldId'] ?? i['field']) !== 'status') continue;
      const toName = typeof i['toString'] === 'string' ? i['toString'] : null;
      const toId = typeof i['to'] === 'string' ? i['to'] : null;
      const id = Number(h['id']);
      moves.push({ at: Date.parse(at), seq: Number.isFinite(id) ? id : seq, change: { at, toName, toId } });
    }
  });
  return moves.toSorted((a, b) => a.at - b.at || a.seq - b.seq).map((m) => m.change);
}

/** First entry into an `implement` status, and the last exit from one when the change has left it. */
function implementWindow(moves: readonly StatusChange[], mapping: JiraMapping): { start: string | null; end: string | null } {
  let start: string | null = null;
  let end: string | null = null;
  let inside = false;
  for (const move of moves) {
    const state = (move.toName !== null ? mapping.states.get(move.toName) : undefined) ?? (move.toId !== null ? mapping.states.get(move.toId) : undefined);
    // A status the mapping no longer knows says nothing about implementation.
    if (state === undefined) continue;
    if (state === 'implement') {
      start ??= move.at;
      inside = true;
      end = null;
    } else if (inside) {
      inside = false;
      end = move.at;
    }
  }
  return { start, end };
}

function mapIssue(issue: RawIssue, ctx: JiraMapContext, record: string): Change {
  const { mapping } = ctx;
  const f = mapping.fields;
  const id = issue['id'];
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') throw recordInvalid('change', record, 'id', 'has no id');
  const nativeId = String(id);
  const fields = asObj(issue['fields']);
  if (fields === null) throw recordInvalid('change', record, 'fields', 'has no fields (was it read with fields=id?)');

  const fieldId = (ref: string | null): string | null => (ref === null ? null : (ctx.fields.byRef.get(ref)?.id ?? null));
  const raw = (ref: string | null): unknown => {
    const fid = fieldId(ref);
    return fid === null ? undefined : fields[fid];
  };
  const when = (ref: string | null): string | null => (ref === null ? null : parseJiraWhen(raw(ref), ref, ctx.timeZone));
  const level = (ref: string | null): Level | null => {
    if (ref === null) return null;
    const value = optionOf(raw(ref), ref);
    if (value === null) return null;
    const found = mapping.levels.get(ref)?.get(value);
    if (found === undefined) throw unknownValue('change', record, label(ref), value, mapping.file, `levels."${ref}"`);
    return found;
  };

  const status = asObj(fields['status']);
  const statusName = typeof status?.['name'] === 'string' ? status['name'] : null;
  if (statusName === null) throw recordInvalid('change', record, 'status', 'has no status (was the status field requested?)');
  const statusId = status?.['id'] === undefined ? null : String(status['id']);
  const state = mapping.states.get(statusName) ?? (statusId === null ? undefined : mapping.states.get(statusId));
  if (state === undefined) throw unknownValue('change', record, 'status', statusName, mapping.file, 'statuses');

  const nativeType = f.type === null ? null : optionOf(raw(f.type), f.type);
  let type: ChangeType | null | undefined = nativeType === null ? mapping.defaultType : mapping.types.get(nativeType);
  if (type === undefined) throw unknownValue('change', record, label(f.type ?? 'type'), nativeType ?? '', mapping.file, 'types');
  if (type === null) throw recordInvalid('change', record, f.type ?? 'type', `has no ${f.type === null ? 'type field' : label(f.type)} value and ${mapping.file} sets no defaultType`);

  const changelog = asObj(issue['changelog']);
  const histories = Array.isArray(changelog?.['histories']) ? (changelog['histories'] as unknown[]) : [];
  const total = changelog?.['total'];
  const window = f.actualStart === null || f.actualEnd === null ? implementWindow(statusChanges(histories), mapping) : { start: null, end: null };

  const createdAt = parseJiraDateTime(fields['created'], 'created');
  const updatedAt = parseJiraDateTime(fields['updated'], 'updated');
  if (createdAt === null) throw recordInvalid('change', record, 'created', 'has no created time');
  if (updatedAt === null) throw recordInvalid('change', record, 'updated', 'has no updated time');

  const services = refsOf(raw(f.services));
  // Where the site has no field, the mapping says what stands in (recorded on the change, so the gates can say so).
  const standIns: StandIns = {};
  let assignmentGroup: Ref | null = refOf(raw(f.assignmentGroup));
  if (f.assignmentGroup === null) {
    standIns.assignmentGroup = mapping.standIns.assignmentGroup;
    if (mapping.standIns.assignmentGroup === 'affected-service') assignmentGroup = services[0] ?? null;
  }
  if (f.closeNotes === null) standIns.closeNotes = mapping.standIns.closeNotes;

  const custom: Record<string, string | null> = {};
  for (const [name, ref] of mapping.custom) custom[name] = textOf(raw(ref));
  const key = typeof issue['key'] === 'string' ? issue['key'] : nativeId;

  return {
    id: `jira:${ctx.instance}:${nativeId}`,
    system: 'jira',
    instance: ctx.instance,
    nativeId,
    key,
    url: `${ctx.siteUrl}/browse/${key}`,
    title: textOf(raw(f.title)) ?? '',
    description: textOf(raw(f.description)),
    type,
    state,
    nativeState: statusName,
    nativeStateLabel: statusName,
    risk: { impact: level(f.impact), probability: level(f.probability), level: level(f.riskLevel) },
    plannedStart: when(f.plannedStart),
    plannedEnd: when(f.plannedEnd),
    actualStart: f.actualStart === null ? window.start : when(f.actualStart),
    actualEnd: f.actualEnd === null ? window.end : when(f.actualEnd),
    requester: refOf(raw(f.requester)),
    assignee: refOf(raw(f.assignee)),
    assignmentGroup,
    services,
    cis: refsOf(raw(f.cis)),
    plans: { implementation: textOf(raw(f.implementationPlan)), backout: textOf(raw(f.backoutPlan)), test: textOf(raw(f.testPlan)) },
    justification: textOf(raw(f.justification)),
    approvalStatus: textOf(raw(f.approvalStatus)),
    cab: { required: f.cabRequired === null ? false : flagOf(raw(f.cabRequired)), date: when(f.cabDate), recommendation: textOf(raw(f.cabRecommendation)) },
    closeCode: textOf(raw(f.closeCode)),
    closeNotes: textOf(raw(f.closeNotes)),
    links: {
      repos: textListOf(raw(f.links.repos)),
      commits: textListOf(raw(f.links.commits)),
      artifacts: textListOf(raw(f.links.artifacts)),
      pipelines: textListOf(raw(f.links.pipelines)),
    },
    ...(Object.keys(standIns).length > 0 ? { standIns } : {}),
    custom,
    createdAt,
    updatedAt,
    nativeRevision: typeof total === 'number' && Number.isInteger(total) && total >= histories.length ? total : histories.length,
    raw: issue,
  };
}

/** One issue → canonical Change; throws CG_MAPPING_UNKNOWN_VALUE or CG_JIRA_RECORD_INVALID naming the issue. */
export function mapJiraIssue(issue: RawIssue, ctx: JiraMapContext): Change {
  const record = issueRef(issue);
  try {
    return mapIssue(issue, ctx, record);
  } catch (err) {
    throw withRecord(err, 'change', record);
  }
}
