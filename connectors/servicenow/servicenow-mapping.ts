// ServiceNow records → canonical Change, Approval and JournalEntry, driven by a
// mapping file (mappings/servicenow.default.yaml). Pure: no I/O after load. The
// mapping is compiled into Maps once, because the mapper runs on every record of a
// sync (50k in the benchmark) and must cost little next to JSON.parse.

import { fileURLToPath } from 'node:url';
import type { Approval, ApprovalState, CanonicalState, Change, ChangeType, JournalEntry, Level } from '../../src/domain/change.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import { loadYamlFile, validateYamlSource, type YamlSource } from '../../src/kit/mapping-file.ts';
import { displayValue, fieldValue, refListValue, refValue, textListValue } from './field-value.ts';
import { parseServiceNowDate, parseServiceNowDay } from './servicenow-date.ts';
import { ServiceNowMappingFile, type ServiceNowFields } from './servicenow-mapping-schema.ts';

export { formatServiceNowDate, parseServiceNowDate } from './servicenow-date.ts';

export interface ServiceNowMapping {
  /** The mapping file as configured; named in every CG_MAPPING_UNKNOWN_VALUE. */
  file: string;
  /** `sys_class_name` values accepted as change requests. */
  classes: ReadonlySet<string>;
  states: ReadonlyMap<string, CanonicalState>;
  types: ReadonlyMap<string, ChangeType>;
  /** Native field → (native value → level). */
  levels: ReadonlyMap<string, ReadonlyMap<string, Level>>;
  approvalStates: ReadonlyMap<string, ApprovalState>;
  /** Canonical field → native field (null: the instance has none). */
  fields: ServiceNowFields;
  /** `[canonical custom name, native field]` pairs. */
  custom: ReadonlyArray<readonly [string, string]>;
  /** Every change_request column the mapping reads, for `sysparm_fields`. */
  nativeFields: readonly string[];
}

/** Absolute path of the shipped default mapping. */
export const DEFAULT_SERVICENOW_MAPPING: string = fileURLToPath(new URL('../../mappings/servicenow.default.yaml', import.meta.url));

/** Columns the mapper reads whatever the mapping says: identity, cursor and revision. */
const SYSTEM_FIELDS = ['sys_id', 'number', 'sys_class_name', 'sys_created_on', 'sys_updated_on', 'sys_mod_count'] as const;

function compile(data: ServiceNowMappingFile, file: string): ServiceNowMapping {
  const levels = new Map<string, ReadonlyMap<string, Level>>();
  for (const [field, table] of Object.entries(data.levels)) levels.set(field, new Map(Object.entries(table)));
  const custom = Object.entries(data.custom);
  const { links, ...scalar } = data.fields;
  const mapped = [...Object.values(scalar), ...Object.values(links), ...custom.map(([, native]) => native)];
  return {
    file,
    classes: new Set(data.classes),
    states: new Map(Object.entries(data.states)),
    types: new Map(Object.entries(data.types)),
    levels,
    approvalStates: new Map(Object.entries(data.approvalStates)),
    fields: data.fields,
    custom,
    nativeFields: [...new Set([...SYSTEM_FIELDS, ...mapped.filter((f): f is string => f !== null)])],
  };
}

/** Validates a parsed `kind: servicenow-mapping` source; throws CG_MAPPING_INVALID listing every issue. */
export function validateServiceNowMappingSource(source: YamlSource): void {
  validateYamlSource(source, ServiceNowMappingFile, 'CG_MAPPING_INVALID');
}

/** Loads and validates a mapping file; CG_MAPPING_INVALID names file:line:path of each mistake. */
export function loadServiceNowMapping(file: string = DEFAULT_SERVICENOW_MAPPING): ServiceNowMapping {
  return compile(loadYamlFile(file, ServiceNowMappingFile, 'CG_MAPPING_INVALID'), file);
}

export interface ServiceNowMapContext {
  instance: string;
  baseUrl: string;
  mapping: ServiceNowMapping;
}

type Raw = Record<string, unknown>;

function recordInvalid(what: string, record: string, field: string, message: string): ChangegateError {
  return new ChangegateError('CG_SN_RECORD_INVALID', `${what} ${record} ${message}`, { details: { field, record } });
}

/** Adds the record to an error raised while reading one of its fields. */
function withRecord(err: unknown, what: string, record: string): unknown {
  if (!isChangegateError(err, 'CG_SN_RECORD_INVALID') || err.details['record'] !== undefined) return err;
  return new ChangegateError('CG_SN_RECORD_INVALID', `${what} ${record}: ${err.message}`, { cause: err, details: { ...err.details, record } });
}

function unknownValue(what: string, record: string, field: string, value: string, file: string, section: string): ChangegateError {
  return new ChangegateError(
    'CG_MAPPING_UNKNOWN_VALUE',
    `${what} ${record} has ${field} "${value}", which ${file} does not map; add it under ${section}:`,
    { details: { field, value, file, record } },
  );
}

function required(raw: Raw, field: string, what: string, record: string): string {
  const value = fieldValue(raw, field);
  if (value === undefined) throw recordInvalid(what, record, field, `has no ${field} field (hidden by an ACL or left out of sysparm_fields?)`);
  return value;
}

function requiredDate(raw: Raw, field: string, what: string, record: string): string {
  const iso = parseServiceNowDate(required(raw, field, what, record), field);
  if (iso === null) throw recordInvalid(what, record, field, `has an empty ${field}`);
  return iso;
}

function text(raw: Raw, field: string | null): string | null {
  if (field === null) return null;
  const value = fieldValue(raw, field);
  return value === undefined || value === '' ? null : value;
}

function date(raw: Raw, field: string | null): string | null {
  if (field === null) return null;
  const value = fieldValue(raw, field);
  return value === undefined ? null : parseServiceNowDate(value, field);
}

function level(raw: Raw, field: string | null, mapping: ServiceNowMapping, record: string): Level | null {
  if (field === null) return null;
  const value = fieldValue(raw, field);
  if (value === undefined || value === '') return null;
  const found = mapping.levels.get(field)?.get(value);
  if (found === undefined) throw unknownValue('change', record, field, value, mapping.file, `levels.${field}`);
  return found;
}

function flag(raw: Raw, field: string | null, record: string): boolean {
  if (field === null) return false;
  const value = fieldValue(raw, field);
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw recordInvalid('change', record, field, `has ${field} "${value}", expected true or false`);
}

function changeNumber(raw: Raw): string {
  try {
    return fieldValue(raw, 'number') || '(no number)';
  } catch {
    return '(no number)';
  }
}

function mapChange(raw: Raw, ctx: ServiceNowMapContext, record: string): Change {
  const { mapping } = ctx;
  const f = mapping.fields;
  const sysId = fieldValue(raw, 'sys_id');
  if (sysId === undefined || sysId === '') throw recordInvalid('change', record, 'sys_id', 'has no sys_id');
  const recordClass = fieldValue(raw, 'sys_class_name');
  if (recordClass !== undefined && recordClass !== '' && !mapping.classes.has(recordClass)) {
    throw recordInvalid('change', record, 'sys_class_name', `is a ${recordClass} record, not a change request (classes: in ${mapping.file})`);
  }
  const nativeState = required(raw, f.state, 'change', record);
  const state = mapping.states.get(nativeState);
  if (state === undefined) throw unknownValue('change', record, f.state, nativeState, mapping.file, 'states');
  const nativeType = required(raw, f.type, 'change', record);
  const type = mapping.types.get(nativeType);
  if (type === undefined) throw unknownValue('change', record, f.type, nativeType, mapping.file, 'types');
  const modCount = Number(required(raw, 'sys_mod_count', 'change', record));
  if (!Number.isInteger(modCount) || modCount < 0) throw recordInvalid('change', record, 'sys_mod_count', 'has a sys_mod_count that is not a whole number');

  const custom: Record<string, string | null> = {};
  for (const [name, native] of mapping.custom) custom[name] = text(raw, native);

  return {
    id: `servicenow:${ctx.instance}:${sysId}`,
    system: 'servicenow',
    instance: ctx.instance,
    nativeId: sysId,
    key: fieldValue(raw, 'number') ?? '',
    url: `${ctx.baseUrl}/nav_to.do?uri=change_request.do?sys_id=${sysId}`,
    title: fieldValue(raw, f.title) ?? '',
    description: text(raw, f.description),
    type,
    state,
    nativeState,
    nativeStateLabel: displayValue(raw, f.state),
    risk: {
      impact: level(raw, f.impact, mapping, record),
      probability: level(raw, f.probability, mapping, record),
      level: level(raw, f.riskLevel, mapping, record),
    },
    plannedStart: date(raw, f.plannedStart),
    plannedEnd: date(raw, f.plannedEnd),
    actualStart: date(raw, f.actualStart),
    actualEnd: date(raw, f.actualEnd),
    requester: f.requester === null ? null : refValue(raw, f.requester),
    assignee: f.assignee === null ? null : refValue(raw, f.assignee),
    assignmentGroup: f.assignmentGroup === null ? null : refValue(raw, f.assignmentGroup),
    services: f.services === null ? [] : refListValue(raw, f.services),
    cis: f.cis === null ? [] : refListValue(raw, f.cis),
    plans: {
      implementation: text(raw, f.implementationPlan),
      backout: text(raw, f.backoutPlan),
      test: text(raw, f.testPlan),
    },
    justification: text(raw, f.justification),
    approvalStatus: text(raw, f.approvalStatus),
    cab: {
      required: flag(raw, f.cabRequired, record),
      date: f.cabDate === null ? null : parseServiceNowDay(fieldValue(raw, f.cabDate) ?? '', f.cabDate),
      recommendation: text(raw, f.cabRecommendation),
    },
    closeCode: text(raw, f.closeCode),
    closeNotes: text(raw, f.closeNotes),
    links: {
      repos: f.links.repos === null ? [] : textListValue(raw, f.links.repos),
      commits: f.links.commits === null ? [] : textListValue(raw, f.links.commits),
      artifacts: f.links.artifacts === null ? [] : textListValue(raw, f.links.artifacts),
      pipelines: f.links.pipelines === null ? [] : textListValue(raw, f.links.pipelines),
    },
    custom,
    createdAt: requiredDate(raw, 'sys_created_on', 'change', record),
    updatedAt: requiredDate(raw, 'sys_updated_on', 'change', record),
    nativeRevision: modCount,
    raw,
  };
}

/** One change_request record, in any field shape ServiceNow returns, → canonical Change. */
export function mapServiceNowChange(raw: Record<string, unknown>, ctx: ServiceNowMapContext): Change {
  const record = changeNumber(raw);
  try {
    return mapChange(raw, ctx, record);
  } catch (err) {
    throw withRecord(err, 'change', record);
  }
}

function rowId(raw: Raw): string {
  try {
    return fieldValue(raw, 'sys_id') || '(no sys_id)';
  } catch {
    return '(no sys_id)';
  }
}

function mapApproval(raw: Raw, ctx: ServiceNowMapContext, record: string): { changeNativeId: string; approval: Approval } {
  if (record === '(no sys_id)') throw recordInvalid('approval', record, 'sys_id', 'has no sys_id');
  const changeNativeId = fieldValue(raw, 'sysapproval') || fieldValue(raw, 'document_id');
  if (!changeNativeId) throw recordInvalid('approval', record, 'sysapproval', 'names no change (sysapproval and document_id are empty or missing)');
  const nativeState = required(raw, 'state', 'approval', record);
  const state = ctx.mapping.approvalStates.get(nativeState);
  if (state === undefined) throw unknownValue('approval', record, 'state', nativeState, ctx.mapping.file, 'approvalStates');
  const updatedAt = requiredDate(raw, 'sys_updated_on', 'approval', record);
  return {
    changeNativeId,
    approval: {
      id: record,
      approver: refValue(raw, 'approver'),
      group: refValue(raw, 'group'),
      state,
      nativeState,
      decidedAt: state === 'approved' || state === 'rejected' ? updatedAt : null,
      comment: text(raw, 'comments'),
      updatedAt,
      // Not required: an ACL may hide it, and the row still says who decided what.
      requestedAt: date(raw, 'sys_created_on'),
    },
  };
}

/** One sysapproval_approver row → the change it belongs to and a canonical Approval. */
export function mapServiceNowApproval(raw: Record<string, unknown>, ctx: ServiceNowMapContext): { changeNativeId: string; approval: Approval } {
  const record = rowId(raw);
  try {
    return mapApproval(raw, ctx, record);
  } catch (err) {
    throw withRecord(err, 'approval', record);
  }
}

const JOURNAL_KINDS: ReadonlyMap<string, JournalEntry['kind']> = new Map([
  ['work_notes', 'work_note'],
  ['comments', 'comment'],
]);

function mapJournal(raw: Raw, record: string): { changeNativeId: string; entry: JournalEntry } {
  if (record === '(no sys_id)') throw recordInvalid('journal entry', record, 'sys_id', 'has no sys_id');
  const changeNativeId = fieldValue(raw, 'element_id');
  if (!changeNativeId) throw recordInvalid('journal entry', record, 'element_id', 'names no record (element_id is empty or missing)');
  const element = required(raw, 'element', 'journal entry', record);
  const kind = JOURNAL_KINDS.get(element);
  if (kind === undefined) throw recordInvalid('journal entry', record, 'element', `is a "${element}" entry, expected work_notes or comments`);
  return {
    changeNativeId,
    entry: {
      id: record,
      kind,
      author: fieldValue(raw, 'sys_created_by') ?? '',
      at: requiredDate(raw, 'sys_created_on', 'journal entry', record),
      text: fieldValue(raw, 'value') ?? '',
    },
  };
}

/** One sys_journal_field row (work note or comment) → the record it belongs to and a JournalEntry. */
export function mapServiceNowJournal(raw: Record<string, unknown>, ctx: ServiceNowMapContext): { changeNativeId: string; entry: JournalEntry } {
  void ctx; // the journal needs no mapping table today; the context keeps the three mappers interchangeable
  const record = rowId(raw);
  try {
    return mapJournal(raw, record);
  } catch (err) {
    throw withRecord(err, 'journal entry', record);
  }
}
