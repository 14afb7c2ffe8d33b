// The shape of a `kind: jira-mapping` file (mappings/jira.default.yaml), checked
// once at load. Fields are named as the site shows them ("Change risk") or by id
// (`summary`, `customfield_10045`); the connector resolves names to ids per site
// from `GET /rest/api/3/field`, because custom field ids differ between sites.
// Every field key is required so an edited copy never drops one silently; `null`
// says "this site has none".

import { z } from 'zod';
import { APPROVAL_STATES, CANONICAL_STATES, CHANGE_TYPES, LEVELS } from '../../src/domain/change.ts';
import { strictObject } from '../../src/kit/mapping-file.ts';

export const JIRA_MAPPING_KIND = 'jira-mapping';

/** A field's name as the site shows it, or its id. */
const FieldRef = z
  .string({ error: (issue) => (issue.input === undefined ? 'required: name the Jira field, or null if the site has none' : 'expected a Jira field name or id') })
  .trim()
  .min(1, 'expected a Jira field name or id');
const OptionalField = FieldRef.nullable();

function valueTable<T extends readonly [string, ...string[]]>(values: T, what: string) {
  const target = z.enum(values, { error: (issue) => `expected one of ${values.join(', ')} (got ${JSON.stringify(issue.input)})` });
  return z.record(z.string().min(1), target).refine((table) => Object.keys(table).length > 0, `${what} must map at least one native value`);
}

const Links = strictObject({
  repos: OptionalField.default(null),
  commits: OptionalField.default(null),
  artifacts: OptionalField.default(null),
  pipelines: OptionalField.default(null),
});

export const JiraFields = strictObject({
  title: FieldRef,
  description: OptionalField,
  /** A select field; its option values go through `types:`. Empty on an issue: `defaultType`. */
  type: OptionalField,
  impact: OptionalField,
  probability: OptionalField,
  riskLevel: OptionalField,
  plannedStart: OptionalField,
  plannedEnd: OptionalField,
  /** null: derived from the status history (first entry into, last exit from an `implement` status). */
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
export type JiraFields = z.output<typeof JiraFields>;

/**
 * What stands in for a canonical field the site has no field for (JSM has no
 * assignment group and no close notes). Used only where `fields.<name>` is
 * null: a site that has the field names it there instead.
 */
export const JiraStandIns = strictObject({
  assignmentGroup: z.enum(['affected-service', 'none'], { error: 'expected affected-service or none' }).default('none'),
  closeNotes: z.enum(['last-comment', 'none'], { error: 'expected last-comment or none' }).default('none'),
});
export type JiraStandIns = z.output<typeof JiraStandIns>;

/** Canonical fields whose option values go through a `levels:` table. */
export const JIRA_LEVEL_FIELDS = ['impact', 'probability', 'riskLevel'] as const;

export const JiraMappingFile = strictObject({
  kind: z.literal(JIRA_MAPPING_KIND),
  version: z.literal(1, { error: 'expected version: 1 (the only format version so far)' }),
  /** Workflow status name (or status id) → canonical state. */
  statuses: valueTable(CANONICAL_STATES, 'statuses'),
  /** Option value of the `fields.type` select → change type. */
  types: valueTable(CHANGE_TYPES, 'types'),
  /** The type of a change whose type field is empty; null: such a change is reported, not guessed at. */
  defaultType: z.enum(CHANGE_TYPES, { error: `expected one of ${CHANGE_TYPES.join(', ')} or null` }).nullable(),
  /** Keyed by the field reference used under `fields:` (e.g. "Change risk"): option value → level. */
  levels: z.record(FieldRef, valueTable(LEVELS, 'a levels table')).default({}),
  /** JSM approval decisions (`approved`, `declined`, `pending`) → canonical approval state. */
  approvalStates: valueTable(APPROVAL_STATES, 'approvalStates'),
  fields: JiraFields,
  /** Absent: nothing stands in (every field the site lacks stays empty, and the gates that need it say so). */
  standIns: JiraStandIns.default({ assignmentGroup: 'none', closeNotes: 'none' }),
  /** Canonical custom name → Jira field; appears as `change.custom.<name>`. */
  custom: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'expected a name of letters, digits and _'), FieldRef)
    .nullable()
    .default({})
    .transform((table) => table ?? {}),
}).superRefine(
  (file, ctx) => {
    // Runs even when other keys failed, so one pass reports every mistake; the input may be partly invalid here.
    const fields = (file as { fields?: Partial<Record<string, unknown>> }).fields ?? {};
    const levels = (file as { levels?: Partial<Record<string, unknown>> }).levels ?? {};
    const standIns = (file as { standIns?: Partial<Record<string, unknown>> }).standIns ?? {};
    for (const name of ['assignmentGroup', 'closeNotes'] as const) {
      const ref = fields[name];
      if (typeof ref !== 'string' || standIns[name] === undefined || standIns[name] === 'none') continue;
      ctx.addIssue({
        code: 'custom',
        path: ['standIns', name],
        input: standIns[name],
        message: `fields.${name} names "${ref}", so nothing needs to stand in for it; write none here, or null under fields.${name} to use the stand-in`,
      });
    }
    for (const canonical of JIRA_LEVEL_FIELDS) {
      const ref = fields[canonical];
      if (typeof ref !== 'string' || levels[ref] !== undefined) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['fields', canonical],
        input: ref,
        message: `"${ref}" has no levels."${ref}" table; add one mapping its option values to ${LEVELS.join(', ')}`,
      });
    }
  },
  { when: () => true },
);
export type JiraMappingFile = z.output<typeof JiraMappingFile>;
