// The site's fields: Jira system fields plus the JSM change-management custom
// fields. Clients must look custom fields up BY NAME (GET /rest/api/3/field):
// the ids of the first eight follow the public Cloud capture
// (fields-jsm-change-subset.public-go-stub.json), the rest are deliberately
// off that sequence because ids differ from site to site. Option values are
// [UNVERIFIED] template values (reference/jira.md §2).

export type FieldKind =
  | 'string'
  | 'richtext'
  | 'option'
  | 'datetime'
  | 'date'
  | 'user'
  | 'users'
  | 'labels'
  | 'status'
  | 'issuetype'
  | 'project'
  | 'priority'
  | 'requesttype'
  | 'services'
  | 'organizations'
  | 'timestamp'
  | 'resolution'
  | 'comments'
  | 'attachments'
  | 'approvals'
  | 'key';

export interface FieldOption {
  id: string;
  value: string;
}

export interface FieldSchema {
  type: string;
  items?: string;
  system?: string;
  custom?: string;
  customId?: number;
}

export interface FieldDef {
  id: string;
  name: string;
  kind: FieldKind;
  custom: boolean;
  schema?: FieldSchema;
  clauseNames: string[];
  navigable: boolean;
  orderable: boolean;
  searchable: boolean;
  options?: FieldOption[];
}

const CF = 'com.atlassian.jira.plugin.system.customfieldtypes:';

function system(id: string, name: string, kind: FieldKind, schema: FieldSchema | undefined, extra: Partial<FieldDef> = {}): FieldDef {
  return { id, name, kind, custom: false, clauseNames: [id], navigable: true, orderable: true, searchable: true, ...(schema ? { schema } : {}), ...extra };
}

function custom(num: number, name: string, kind: FieldKind, schema: Omit<FieldSchema, 'customId'>, clauseSuffix?: string, options?: string[]): FieldDef {
  const id = `customfield_${num}`;
  const def: FieldDef = {
    id,
    name,
    kind,
    custom: true,
    schema: { ...schema, customId: num },
    clauseNames: [`cf[${num}]`, name, ...(clauseSuffix ? [`${name}[${clauseSuffix}]`] : [])],
    navigable: true,
    orderable: true,
    searchable: true,
  };
  if (options) def.options = options.map((value, i) => ({ id: String(num * 10 + i), value }));
  return def;
}

const select = { type: 'option', custom: `${CF}select` };
const textarea = { type: 'string', custom: `${CF}textarea` };
const datetime = { type: 'datetime', custom: `${CF}datetime` };

export function defaultFields(): FieldDef[] {
  return [
    system('issuekey', 'Key', 'key', undefined, { clauseNames: ['id', 'issue', 'issuekey', 'key'], orderable: false }),
    system('summary', 'Summary', 'string', { type: 'string', system: 'summary' }),
    system('description', 'Description', 'richtext', { type: 'string', system: 'description' }),
    system('issuetype', 'Issue Type', 'issuetype', { type: 'issuetype', system: 'issuetype' }, { clauseNames: ['issuetype', 'type'] }),
    system('project', 'Project', 'project', { type: 'project', system: 'project' }),
    system('status', 'Status', 'status', { type: 'status', system: 'status' }, { orderable: false }),
    system('priority', 'Priority', 'priority', { type: 'priority', system: 'priority' }),
    system('assignee', 'Assignee', 'user', { type: 'user', system: 'assignee' }),
    system('reporter', 'Reporter', 'user', { type: 'user', system: 'reporter' }),
    system('creator', 'Creator', 'user', { type: 'user', system: 'creator' }, { orderable: false }),
    system('created', 'Created', 'timestamp', { type: 'datetime', system: 'created' }, { clauseNames: ['created', 'createdDate'], orderable: false }),
    system('updated', 'Updated', 'timestamp', { type: 'datetime', system: 'updated' }, { clauseNames: ['updated', 'updatedDate'], orderable: false }),
    system('statuscategorychangedate', 'Status Category Changed', 'timestamp', { type: 'datetime', system: 'statuscategorychangedate' }, { clauseNames: ['statusCategoryChangedDate'], orderable: false }),
    system('resolution', 'Resolution', 'resolution', { type: 'resolution', system: 'resolution' }),
    system('resolutiondate', 'Resolved', 'timestamp', { type: 'datetime', system: 'resolutiondate' }, { clauseNames: ['resolutiondate', 'resolved'], orderable: false }),
    system('labels', 'Labels', 'labels', { type: 'array', items: 'string', system: 'labels' }),
    system('duedate', 'Due date', 'date', { type: 'date', system: 'duedate' }, { clauseNames: ['due', 'duedate'] }),
    system('comment', 'Comment', 'comments', { type: 'comments-page', system: 'comment' }, { navigable: false }),
    system('attachment', 'Attachment', 'attachments', { type: 'array', items: 'attachment', system: 'attachment' }),
    custom(10002, 'Organizations', 'organizations', { type: 'array', items: 'sd-customerorganization', custom: 'com.atlassian.servicedesk:sd-customer-organizations' }),
    custom(10003, 'Approvers', 'users', { type: 'array', items: 'user', custom: `${CF}multiuserpicker` }, 'User Picker (multiple users)'),
    custom(10004, 'Impact', 'option', select, 'Dropdown', ['Extensive / Widespread', 'Significant / Large', 'Moderate / Limited', 'Minor / Localized']),
    custom(10005, 'Change type', 'option', select, 'Dropdown', ['Standard', 'Normal', 'Emergency']),
    custom(10006, 'Change risk', 'option', select, 'Dropdown', ['Low', 'Medium', 'High', 'Critical']),
    custom(10007, 'Change reason', 'option', select, 'Dropdown', ['Repair', 'Upgrade', 'Maintenance', 'New functionality', 'Other']),
    custom(10008, 'Change start date', 'datetime', datetime, 'Time stamp'),
    custom(10009, 'Change completion date', 'datetime', datetime, 'Time stamp'),
    custom(10010, 'Request Type', 'requesttype', { type: 'sd-customerrequesttype', custom: 'com.atlassian.servicedesk:vp-origin' }),
    // [UNVERIFIED] JSM's read-only Approvals field: its value is the request's approvals, shaped as the servicedeskapi lists them.
    custom(10027, 'Approvals', 'approvals', { type: 'sd-approvals', custom: 'com.atlassian.servicedesk:sd-approvals' }),
    custom(10044, 'Urgency', 'option', select, 'Dropdown', ['Critical', 'High', 'Medium', 'Low']),
    // [UNVERIFIED] schema of the Assets/services picker on Cloud.
    custom(10045, 'Affected services', 'services', { type: 'array', items: 'service-entity-field', custom: 'com.atlassian.jira.plugins.service-entity:service-entity-field-cftype' }),
    custom(10046, 'Implementation plan', 'richtext', textarea, 'Paragraph (supports rich text)'),
    custom(10047, 'Backout plan', 'richtext', textarea, 'Paragraph (supports rich text)'),
    custom(10048, 'Test plan', 'richtext', textarea, 'Paragraph (supports rich text)'),
  ];
}

export class FieldCatalog {
  readonly list: FieldDef[];
  private readonly byId = new Map<string, FieldDef>();
  private readonly byLowerName = new Map<string, FieldDef>();

  constructor(list: FieldDef[] = defaultFields()) {
    this.list = list;
    for (const f of list) {
      this.byId.set(f.id, f);
      this.byLowerName.set(f.name.toLowerCase(), f);
      for (const c of f.clauseNames) if (!this.byLowerName.has(c.toLowerCase())) this.byLowerName.set(c.toLowerCase(), f);
    }
  }

  get(id: string): FieldDef | undefined {
    return this.byId.get(id);
  }

  /** By id, name or JQL clause name (`cf[10005]`, `"Change type"`, `type`). */
  resolve(idOrName: string): FieldDef | undefined {
    return this.byId.get(idOrName) ?? this.byLowerName.get(idOrName.toLowerCase());
  }

  /** Field id by display name; throws for an unknown name so a typo in a test fails loudly. */
  idOf(name: string): string {
    const f = this.resolve(name);
    if (!f) throw new Error(`Unknown Jira field "${name}"`);
    return f.id;
  }

  option(def: FieldDef, value: string): FieldOption | undefined {
    return def.options?.find((o) => o.value.toLowerCase() === value.toLowerCase() || o.id === value);
  }
}

export const PRIORITIES = [
  { id: '1', name: 'Highest' },
  { id: '2', name: 'High' },
  { id: '3', name: 'Medium' },
  { id: '4', name: 'Low' },
  { id: '5', name: 'Lowest' },
] as const;

export interface IssueTypeDef {
  id: string;
  name: string;
  description: string;
}

export const ISSUE_TYPES: IssueTypeDef[] = [
  { id: '10100', name: '[System] Change', description: 'Created by Jira Service Management for requests to change IT systems.' },
  { id: '10101', name: '[System] Incident', description: 'For system outages or incidents. Created by Jira Service Management.' },
  { id: '10102', name: '[System] Service request', description: 'Created by Jira Service Management.' },
];

export const REQUEST_TYPES = [
  { id: '10', name: 'Request a change', issueTypeId: '10100' },
  { id: '11', name: 'Report a system problem', issueTypeId: '10101' },
  { id: '12', name: 'Get IT help', issueTypeId: '10102' },
] as const;

export const SERVICES = [
  { id: 'b9c3f1a2-0001-4d1e-9a11-5e8a7c1d0001', name: 'Payments API' },
  { id: 'b9c3f1a2-0002-4d1e-9a11-5e8a7c1d0002', name: 'Checkout Web' },
  { id: 'b9c3f1a2-0003-4d1e-9a11-5e8a7c1d0003', name: 'Identity Service' },
  { id: 'b9c3f1a2-0004-4d1e-9a11-5e8a7c1d0004', name: 'Data Warehouse' },
  { id: 'b9c3f1a2-0005-4d1e-9a11-5e8a7c1d0005', name: 'Core Network' },
] as const;
