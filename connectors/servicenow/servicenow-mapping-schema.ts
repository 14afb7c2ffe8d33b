// The shape of a `kind: servicenow-mapping` file (mappings/servicenow.default.yaml),
// validated once at load time. Every field key is required so that a copied and
// edited mapping never loses a field silently; `null` says "this instance has none".

import { z } from 'zod';
import { APPROVAL_STATES, CANONICAL_STATES, CHANGE_TYPES, LEVELS } from '../../src/domain/change.ts';
import { strictObject } from '../../src/kit/mapping-file.ts';

export const SERVICENOW_MAPPING_KIND = 'servicenow-mapping';

const COLUMN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** A ServiceNow column name: `short_description`, `u_probability`, `x_acme_app_repos`, dot-walks allowed. */
const NativeField = z
  .string({ error: (issue) => (issue.input === undefined ? 'required: name the ServiceNow field, or null if the instance has none' : 'expected a ServiceNow field name') })
  .regex(COLUMN, 'expected a ServiceNow field name: lower-case letters, digits and _ (e.g. u_probability)');
const OptionalField = NativeField.nullable();

function valueTable<T extends readonly [string, ...string[]]>(values: T, what: string) {
  const target = z.enum(values, { error: (issue) => `expected one of ${values.join(', ')} (got ${JSON.stringify(issue.input)})` });
  return z.record(z.string(), target).refine((table) => Object.keys(table).length > 0, `${what} must map at least one native value`);
}

const Links = strictObject({
  repos: OptionalField.default(null),
  commits: OptionalField.default(null),
  artifacts: OptionalField.default(null),
  pipelines: OptionalField.default(null),
});

export const ServiceNowFields = strictObject({
  title: NativeField,
  description: OptionalField,
  type: NativeField,
  state: NativeField,
  impact: OptionalField,
  probability: OptionalField,
  riskLevel: OptionalField,
  plannedStart: OptionalField,
  plannedEnd: OptionalField,
  actualStart: OptionalField,
  actualEnd: OptionalField,
  requester: OptionalField,
  assignee: OptionalField,
  assignmentGroup: OptionalField,
  services: OptionalField,
  cis: OptionalField,
  implementationPlan: OptionalField,
  backoutPlan: OptionalField,
  testPlan: OptionalField,
  justification: OptionalField,
  approvalStatus: OptionalField,
  closeCode: OptionalField,
  closeNotes: OptionalField,
  cabRequired: OptionalField,
  cabDate: OptionalField,
  cabRecommendation: OptionalField,
  links: Links.default({ repos: null, commits: null, artifacts: null, pipelines: null }),
});
export type ServiceNowFields = z.output<typeof ServiceNowFields>;

/** Canonical fields whose native values go through a `levels:` table. */
export const LEVEL_FIELDS = ['impact', 'probability', 'riskLevel'] as const;

export const ServiceNowMappingFile = strictObject({
  kind: z.literal(SERVICENOW_MAPPING_KIND),
  version: z.literal(1, { error: 'expected version: 1 (the only format version so far)' }),
  /** `sys_class_name` values that are change requests (extension tables of change_request included). */
  classes: z.array(z.string().regex(COLUMN, 'expected a table name')).min(1).default(['change_request']),
  states: valueTable(CANONICAL_STATES, 'states'),
  types: valueTable(CHANGE_TYPES, 'types'),
  /** Keyed by the native field whose values they describe (impact, urgency, risk, u_…). */
  levels: z.record(z.string().regex(COLUMN, 'expected a ServiceNow field name'), valueTable(LEVELS, 'a levels table')).default({}),
  approvalStates: valueTable(APPROVAL_STATES, 'approvalStates'),
  fields: ServiceNowFields,
  /** Canonical custom name → native field; appears as `change.custom.<name>`. */
  custom: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'expected a name of letters, digits and _'), NativeField)
    .nullable()
    .default({})
    .transform((table) => table ?? {}),
}).superRefine((file, ctx) => {
  for (const canonical of LEVEL_FIELDS) {
    const native = file.fields[canonical];
    if (native !== null && file.levels[native] === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['fields', canonical],
        input: native,
        message: `${native} has no levels.${native} table; add one mapping its native values to ${LEVELS.join(', ')}`,
      });
    }
  }
});
export type ServiceNowMappingFile = z.output<typeof ServiceNowMappingFile>;
