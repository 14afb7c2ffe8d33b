// Field metadata the simulator needs to answer like ServiceNow: which fields a
// table has (unknown query terms are ignored), how each renders as a display
// value, which are references (link objects) and which are journals.

export type Row = Record<string, string>;

export type FieldKind =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'datetime'
  | 'date'
  | 'choice'
  | 'reference'
  | 'journal'
  | 'list';

export interface FieldDef {
  kind: FieldKind;
  /** Referenced table, for `reference` fields. */
  ref?: string;
  /** value → label, for `choice` fields. */
  choices?: Readonly<Record<string, string>>;
  /** Sorts and compares as a number (integer fields and integer choices). */
  numeric?: boolean;
  /** Journal fields that accept writes (work_notes, comments); the others are read-only aggregates. */
  writable?: boolean;
  /** Label used in journal display headers, e.g. "Work notes". */
  label?: string;
  /** A document_id field: the display value names the table, e.g. "Change Request: CHG0030001". */
  document?: boolean;
  /** The column's `max_length`: a longer value is cut to it on write, as the instance does. */
  maxLength?: number;
}

export interface TableSchema {
  name: string;
  /** Field order of a fresh record (the order ServiceNow's samples show). */
  fields: ReadonlyMap<string, FieldDef>;
  /** Field shown as a reference's display value. */
  displayField: string;
  /** Extra label for `sys_class_name`. */
  label: string;
}

export const S: FieldDef = { kind: 'string' };
export const DT: FieldDef = { kind: 'datetime' };
export const BOOL: FieldDef = { kind: 'boolean' };
export const INT: FieldDef = { kind: 'integer', numeric: true };
export const LIST: FieldDef = { kind: 'list' };
export const ref = (table: string): FieldDef => ({ kind: 'reference', ref: table });
export const choice = (choices: Record<string, string>, numeric = false): FieldDef =>
  numeric ? { kind: 'choice', choices, numeric } : { kind: 'choice', choices };

export const SYS_FIELDS: Record<string, FieldDef> = {
  sys_created_by: S,
  sys_created_on: DT,
  sys_id: S,
  sys_mod_count: INT,
  sys_tags: S,
  sys_updated_by: S,
  sys_updated_on: DT,
};

/** A custom string column: its name, or its name and `max_length` (unbounded when not given). */
export type CustomField = string | { name: string; maxLength: number };

/** A copy of `schema` with extra string fields (an instance's custom `u_` columns). */
export function withCustomFields(schema: TableSchema, custom: readonly CustomField[]): TableSchema {
  if (custom.length === 0) return schema;
  const fields = new Map(schema.fields);
  for (const field of custom) {
    const name = typeof field === 'string' ? field : field.name;
    if (!fields.has(name)) fields.set(name, typeof field === 'string' ? { kind: 'string' } : { kind: 'string', maxLength: field.maxLength });
  }
  return { ...schema, fields };
}

export function defineTable(name: string, label: string, displayField: string, fields: Record<string, FieldDef>): TableSchema {
  return { name, label, displayField, fields: new Map(Object.entries(fields)) };
}

export const APPROVAL_STATES = {
  'not requested': 'Not Yet Requested',
  requested: 'Requested',
  approved: 'Approved',
  rejected: 'Rejected',
  cancelled: 'Cancelled',
  not_required: 'No Longer Required',
  duplicate: 'Duplicate',
} as const;

export const SYS_USER = defineTable('sys_user', 'User', 'name', {
  active: BOOL,
  department: S,
  email: S,
  first_name: S,
  last_name: S,
  manager: ref('sys_user'),
  name: S,
  title: S,
  user_name: S,
  ...SYS_FIELDS,
});

export const SYS_USER_GROUP = defineTable('sys_user_group', 'Group', 'name', {
  active: BOOL,
  description: S,
  email: S,
  manager: ref('sys_user'),
  name: S,
  type: S,
  ...SYS_FIELDS,
});

export const SYS_USER_GRMEMBER = defineTable('sys_user_grmember', 'Group Member', 'user', {
  group: ref('sys_user_group'),
  user: ref('sys_user'),
  ...SYS_FIELDS,
});

const CI_FIELDS: Record<string, FieldDef> = {
  environment: S,
  install_status: choice({ '1': 'Installed', '7': 'Retired' }, true),
  maintenance_schedule: ref('cmn_schedule'),
  name: S,
  operational_status: choice({ '1': 'Operational', '2': 'Non-Operational' }, true),
  owned_by: ref('sys_user'),
  short_description: S,
  support_group: ref('sys_user_group'),
  sys_class_name: choice({ cmdb_ci: 'Configuration Item', cmdb_ci_service: 'Business Service', cmdb_ci_server: 'Server', cmdb_ci_db_instance: 'Database Instance', cmdb_ci_netgear: 'Network Gear', cmdb_ci_appl: 'Application' }),
  ...SYS_FIELDS,
};

export const CMDB_CI = defineTable('cmdb_ci', 'Configuration Item', 'name', CI_FIELDS);

export const CMDB_CI_SERVICE = defineTable('cmdb_ci_service', 'Business Service', 'name', {
  ...CI_FIELDS,
  busines_criticality: choice({ '1 - most critical': '1 - most critical', '2 - somewhat critical': '2 - somewhat critical', '3 - less critical': '3 - less critical', '4 - not critical': '4 - not critical' }),
});

export const STD_CHANGE_PRODUCER_VERSION = defineTable('std_change_producer_version', 'Standard Change Template Version', 'name', {
  name: S,
  version: INT,
  ...SYS_FIELDS,
});

export const SYSAPPROVAL_APPROVER = defineTable('sysapproval_approver', 'Approval', 'sysapproval', {
  approval_source: S,
  approver: ref('sys_user'),
  comments: { kind: 'journal', writable: true, label: 'Comments' },
  document_id: { kind: 'reference', ref: 'change_request', document: true },
  due_date: DT,
  expected_start: DT,
  group: ref('sysapproval_group'),
  order: INT,
  source_table: S,
  state: choice(APPROVAL_STATES),
  sysapproval: ref('task'),
  ...SYS_FIELDS,
});

// Column order as in sys_journal_field_rows.json.
export const SYS_JOURNAL_FIELD = defineTable('sys_journal_field', 'Journal Entry', 'value', {
  sys_id: S,
  sys_created_on: DT,
  name: S,
  element_id: S,
  sys_tags: S,
  value: S,
  sys_created_by: S,
  element: S,
});
