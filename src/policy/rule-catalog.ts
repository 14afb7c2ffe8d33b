// Every built-in rule: its id, the state it guards, what it checks, and the
// parameters the policy file may set. Each parameter has a default, so an empty
// policy file is the default policy and an override may name only what differs.

import { z } from 'zod';
import { CANONICAL_STATES, LEVELS, type CanonicalState } from '../domain/change.ts';
import { SEVERITIES } from '../domain/events.ts';

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `4h`, `3d`, or milliseconds; in ms. */
export const Duration = z.union([z.number().int().nonnegative(), z.string().regex(DURATION, 'expected a duration such as 30m, 4h or 3d')]).transform((value) => {
  if (typeof value === 'number') return value;
  const [, amount, unit] = DURATION.exec(value) as unknown as [string, string, keyof typeof UNIT_MS];
  return Number(amount) * UNIT_MS[unit];
});

const Common = {
  enabled: z.boolean().default(true),
  /** `false` for rules no waiver may lift (e.g. separation of duties in a regulated shop). */
  waivable: z.boolean().default(true),
};

const ChangeTypeList = z.array(z.enum(['standard', 'normal', 'emergency']));
const StateList = z.array(z.enum(CANONICAL_STATES));

const GroupRequirement = z
  .object({
    /** What the reason calls the approving body. */
    label: z.string().min(1),
    /** Approval group names or ids (case-insensitive); an approved row from any of them counts. */
    groups: z.array(z.string().min(1)).default([]),
    /** Approver user names or ids that count on their own (e.g. named change managers). */
    users: z.array(z.string().min(1)).default([]),
  })
  .strict();

const rule = <S extends z.ZodRawShape>(shape: S) => z.object({ ...Common, ...shape }).strict();

export const RECORD_FIELDS = ['title', 'description', 'requester', 'assignee', 'assignmentGroup', 'services', 'justification'] as const;
export type RecordField = (typeof RECORD_FIELDS)[number];
export const PLAN_FIELDS = ['implementation', 'backout', 'test'] as const;

export const RULES = {
  'assess.record-complete': {
    into: 'assess',
    doc: 'The record names what, why and who (seed §1.1): title, description, requester, assignment group, affected service or CI, business justification.',
    params: rule({
      fields: z.array(z.enum(RECORD_FIELDS)).default(['title', 'description', 'requester', 'assignmentGroup', 'services', 'justification']),
    }),
  },
  'authorize.risk-assessed': {
    into: 'authorize',
    doc: 'Impact and probability are set and the risk level follows from the matrix (seed §3.1); without probability the stated risk level is used and the reason says so.',
    params: rule({ requireProbability: z.boolean().default(false) }),
  },
  'authorize.plans': {
    into: 'authorize',
    doc: 'Implementation, backout and test plans are present (seed §3.3, §8.5).',
    params: rule({
      plans: z.array(z.enum(PLAN_FIELDS)).default(['implementation', 'backout', 'test']),
      minLength: z.number().int().min(1).default(1),
      /** Texts that count as empty. */
      placeholders: z.array(z.string()).default(['n/a', 'na', 'tbd', 'todo', 'none', '-', '.']),
    }),
  },
  'authorize.schedule': {
    into: 'authorize',
    doc: 'Planned start and end are set and the end is after the start.',
    params: rule({}),
  },
  'authorize.lead-time': {
    into: 'authorize',
    doc: 'The planned start is at least the lead time for the change type away (seed §2.1).',
    params: rule({
      leadTime: z
        .object({ standard: Duration.default(0), normal: Duration.default(48 * 3_600_000), emergency: Duration.default(0) })
        .strict()
        .prefault({}),
    }),
  },
  'authorize.freeze': {
    into: 'authorize',
    doc: 'No freeze/blackout window overlaps the planned window (seed §2.1), unless the type is exempt.',
    params: rule({ exemptTypes: ChangeTypeList.default(['emergency']) }),
  },
  'authorize.maintenance-window': {
    into: 'authorize',
    doc: 'When maintenance windows apply to the change, the planned window lies inside one of them.',
    params: rule({ exemptTypes: ChangeTypeList.default(['emergency']) }),
  },
  'authorize.no-overlap': {
    into: 'authorize',
    doc: 'No other live change on the same service or CI has an overlapping planned window (seed §2.1).',
    params: rule({ ignoreStates: StateList.default(['closed', 'canceled', 'failed']) }),
  },
  'scheduled.approvals': {
    into: 'scheduled',
    doc: 'Approved by the body the class needs (seed §1.3, §7.1): major by CAB, minor by the change manager, emergency by the eCAB; a standard change is pre-approved by its template. A rejection counts until a later approval round begins.',
    params: rule({
      major: GroupRequirement.prefault({ label: 'CAB', groups: ['CAB', 'CAB Approval', 'Change Advisory Board'] }),
      minor: GroupRequirement.prefault({ label: 'change manager', groups: ['Change Management', 'Change Managers'] }),
      emergency: GroupRequirement.prefault({ label: 'eCAB', groups: ['eCAB', 'eCAB Approval', 'Emergency CAB'] }),
      /** `custom` field naming the standard-change template; when the mapping does not provide it, the type alone counts. */
      templateField: z.string().min(1).default('template'),
    }),
  },
  'scheduled.separation-of-duties': {
    into: 'scheduled',
    doc: 'No approving approver is the requester or the assignee who implements the change (seed §4.1, §7.2), in the current approval round (see scheduled.approvals).',
    params: rule({}),
  },
  'scheduled.accountable-owner': {
    into: 'scheduled',
    doc: 'Exactly one accountable owner (seed §4.1): an assignee and an assignment group are set.',
    params: rule({}),
  },
  'scheduled.cab-scorecard': {
    into: 'scheduled',
    doc: 'The CAB scorecard (seed §7.3) does not recommend No-Go.',
    params: rule({}),
  },
  'implement.window': {
    into: 'implement',
    doc: 'Now is inside the planned window, with a grace either side.',
    params: rule({ graceMinutes: z.number().int().min(0).default(15) }),
  },
  'implement.freeze': {
    into: 'implement',
    doc: 'Now is outside every freeze window, unless the type is exempt.',
    params: rule({ exemptTypes: ChangeTypeList.default(['emergency']) }),
  },
  'implement.ci-green': {
    into: 'implement',
    doc: 'The latest CI run for the linked commit is green (seed §5.4, §6.2).',
    params: rule({ kinds: z.array(z.enum(['build', 'test'])).default(['build', 'test']) }),
  },
  'implement.tests': {
    into: 'implement',
    doc: 'The latest test run for the linked commit reports 0 failed tests (seed §6.2).',
    params: rule({ maxFailed: z.number().int().min(0).default(0) }),
  },
  'implement.scan': {
    into: 'implement',
    doc: 'The latest security scan for the linked commit has no open finding of a blocking severity (seed §3.2, §5.6).',
    params: rule({ blockingSeverities: z.array(z.enum(SEVERITIES)).default(['critical', 'high']) }),
  },
  'implement.lower-environments': {
    into: 'implement',
    doc: 'The same commit was deployed and verified in each lower environment, in order (seed §8.3).',
    params: rule({
      order: z.array(z.string().min(1)).default(['SIT', 'UAT', 'Pre-Prod']),
      /** A deploy counts as verified when the source says so or a green test run in that environment follows it. */
      requireVerified: z.boolean().default(true),
    }),
  },
  'review.production-deploy': {
    into: 'review',
    doc: 'A successful production deploy of the linked commit was observed.',
    params: rule({}),
  },
  'review.smoke-test': {
    into: 'review',
    doc: 'A green test run in production for the linked commit follows the production deploy (seed §8.7).',
    params: rule({ names: z.array(z.string().min(1)).default([]) }),
  },
  'closed.hypercare': {
    into: 'closed',
    doc: 'The hypercare period for the class has elapsed since the implementation ended (seed §8.8).',
    params: rule({
      durations: z
        .object({ minor: Duration.default(4 * 3_600_000), major: Duration.default(72 * 3_600_000), emergency: Duration.default(24 * 3_600_000) })
        .strict()
        .prefault({}),
    }),
  },
  'closed.no-alerts': {
    into: 'closed',
    doc: 'No alert or incident of a blocking severity is firing on the change’s services (seed §8.8, §9.3).',
    params: rule({ severities: z.array(z.enum(SEVERITIES)).default(['critical', 'high']) }),
  },
  'closed.close-fields': {
    into: 'closed',
    doc: 'Close code and close notes are set (seed §10.8).',
    params: rule({}),
  },
  'closed.pir': {
    into: 'closed',
    doc: 'A post-implementation review is recorded (seed §7.6): a work note or comment written after implementation began, or the close notes, carry a PIR marker.',
    params: rule({
      classes: z.array(z.enum(['major', 'minor', 'emergency'])).default(['emergency']),
      markers: z.array(z.string().min(1)).default(['[PIR]', 'PIR:', 'post-implementation review']),
    }),
  },
  'closed.tasks': {
    into: 'closed',
    doc: 'All change tasks are closed, read from the `custom` field the mapping fills with the open task count.',
    params: rule({ field: z.string().min(1).default('open_tasks') }),
  },
  'canceled.reason': {
    into: 'canceled',
    doc: 'A cancellation gives a reason: close notes, or a work note or comment mentioning a marker, written since the change entered the state it is canceled from.',
    params: rule({ markers: z.array(z.string().min(1)).default(['cancel']) }),
  },
} as const satisfies Record<string, { into: CanonicalState; doc: string; params: z.ZodObject }>;

export type BuiltInRuleId = keyof typeof RULES;
export type RuleParams = { [K in BuiltInRuleId]: z.output<(typeof RULES)[K]['params']> };
export const BUILT_IN_RULE_IDS = Object.keys(RULES) as BuiltInRuleId[];

/** Parameters of a custom (CEL) rule: only the switches. */
export const CustomRuleParams = z.object(Common).strict();
export type CustomRuleParams = z.output<typeof CustomRuleParams>;

export const ClassificationConfig = z
  .object({
    /** Normal changes with an impact in this list are major. */
    majorImpact: z.array(z.enum(LEVELS)).default(['very_high', 'high']),
    /** Normal changes with a risk level (matrix or stated) in this list are major. */
    majorRisk: z.array(z.enum(LEVELS)).default(['very_high', 'high']),
    /** A normal change with neither impact nor risk known gets the stricter control. */
    unknownIsMajor: z.boolean().default(true),
  })
  .strict();
export type ClassificationConfig = z.output<typeof ClassificationConfig>;

export function isBuiltInRule(id: string): id is BuiltInRuleId {
  return Object.hasOwn(RULES, id);
}
