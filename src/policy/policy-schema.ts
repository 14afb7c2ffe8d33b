// The shape of a policy file (mappings/policy.default.yaml). Rule parameters
// are checked against the rule catalogue here too, so every error, including
// an unknown rule id or a CEL expression that does not compile, carries the
// path that locates its line.

import { plainIssues } from '../config/plain-issues.ts';
import { z } from 'zod';
import { CANONICAL_STATES, LEVELS } from '../domain/change.ts';
import type { CalendarWindow } from './calendar.ts';
import { parseCron, WEEKDAYS } from './cron-spec.ts';
import { compileCustomRule } from './custom-rules.ts';
import { listText } from './gates/gate.ts';
import { DEFAULT_RISK_MATRIX } from './risk.ts';
import { suggestKey } from '../mapping/strict-object.ts';
import { BUILT_IN_RULE_IDS, ClassificationConfig, CustomRuleParams, Duration, isBuiltInRule, RULES } from './rule-catalog.ts';
import { isRealDateTime, isValidTimeZone, parseInstant } from './zoned-time.ts';

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time such as 22:00');
const LocalDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date such as 2026-12-20');
const Level = z.enum(LEVELS);
const MatrixRow = z.tuple([Level, Level, Level, Level]);

/** An instant with its zone spelled out (`Z` or an offset): a waiver's end must not depend on where changegate runs. */
const ZonedInstant = z
  .string()
  .trim()
  .refine((v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) && isRealDateTime(v) && !Number.isNaN(Date.parse(v)), 'expected an ISO-8601 instant with its zone, such as 2026-12-01T18:00:00Z or 2026-12-01T18:00:00+01:00')
  .transform((v) => new Date(Date.parse(v)).toISOString());

/**
 * A waiver (seed: every rule can be waived with a reason): lifts one gate for
 * one change until an instant, saying who granted it and why. The gate is then
 * `waived` and the verdict lists it as a condition.
 */
const WaiverSchema = z
  .object({
    /** The change's key (`CHG0030042`, `ITSM-42`, any case) or its canonical id. */
    change: z.string().trim().min(1),
    /** Only on this connector instance (a key can exist on several). */
    instance: z.string().min(1).optional(),
    gate: z.string().trim().min(1),
    by: z.string().trim().min(1),
    reason: z.string().trim().min(1),
    until: ZonedInstant,
    grantedAt: ZonedInstant.optional(),
  })
  .strict();

const WindowSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1).optional(),
    kind: z.enum(['freeze', 'maintenance']),
    timeZone: z.string().refine(isValidTimeZone, 'not an IANA time zone (e.g. Europe/Berlin, UTC)'),
    services: z.array(z.string().min(1)).default([]),
    /** One-off: a local date-time or ISO instant. Recurring: HH:MM with `days`. */
    start: z.string().optional(),
    end: z.string().optional(),
    days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    cron: z.string().optional(),
    duration: Duration.optional(),
    validFrom: LocalDate.optional(),
    validUntil: LocalDate.optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (!isValidTimeZone(w.timeZone)) return;
    if (w.days || w.cron !== undefined) {
      if (w.days && w.cron !== undefined) issue('cron', 'give either days + start or cron, not both');
      if (w.days && !HHMM.safeParse(w.start).success) issue('start', 'a weekly window needs start as HH:MM');
      if (w.cron !== undefined) {
        if (w.start !== undefined) issue('start', 'a cron window takes its start from the cron expression');
        try {
          parseCron(w.cron);
        } catch (err) {
          issue('cron', `invalid cron: ${(err as Error).message}`);
        }
      }
      if ((w.end === undefined) === (w.duration === undefined)) issue('end', 'a recurring window needs either end (HH:MM) or duration');
      else if (w.end !== undefined && !HHMM.safeParse(w.end).success) issue('end', 'expected a time such as 02:00');
      // Either would load a window that is never in force: a freeze that blocks nothing.
      if (w.duration === 0) issue('duration', 'a window needs a duration above zero');
      if (w.validFrom !== undefined && w.validUntil !== undefined && w.validUntil < w.validFrom) issue('validUntil', `validUntil ${w.validUntil} is before validFrom ${w.validFrom}`);
      return;
    }
    for (const key of ['duration', 'validFrom', 'validUntil'] as const) {
      if (w[key] !== undefined) issue(key, 'duration, validFrom and validUntil apply to recurring windows (days or cron)');
    }
    const start = w.start === undefined ? null : parseInstant(w.start, w.timeZone);
    const end = w.end === undefined ? null : parseInstant(w.end, w.timeZone, 'later');
    if (start === null) issue('start', 'a one-off window needs start as 2026-12-20T00:00 (local) or an ISO instant');
    if (end === null) issue('end', 'a one-off window needs end as 2027-01-04T00:00 (local) or an ISO instant');
    if (start !== null && end !== null && end <= start) issue('end', 'end must be after start');
  })
  .transform((w): CalendarWindow => {
    const base = { id: w.id, name: w.name ?? w.id, kind: w.kind, timeZone: w.timeZone, services: w.services };
    if (w.days || w.cron !== undefined) {
      return {
        ...base,
        schedule: 'recurring',
        days: w.days ?? null,
        start: w.cron !== undefined ? null : (w.start ?? null),
        cron: w.cron ?? null,
        end: w.end ?? null,
        durationMs: w.duration ?? null,
        validFrom: w.validFrom ?? null,
        validUntil: w.validUntil ?? null,
      };
    }
    return { ...base, schedule: 'once', start: w.start as string, end: w.end as string };
  });

const RuleId = z.string().regex(/^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/, 'rule ids look like scope.name, e.g. custom.no-friday-deploys');

const CustomRuleSchema = z
  .object({
    id: RuleId,
    into: z.enum(CANONICAL_STATES).refine((s) => s !== 'new', 'no gate guards the way back to new'),
    expr: z.string().min(1),
    message: z.string().min(1),
  })
  .strict();

const RuleMap = z.record(z.string(), z.record(z.string(), z.unknown()).nullable());

const OverrideSchema = z
  .object({
    match: z
      .object({
        system: z.string().min(1).optional().describe('The ITSM system the change comes from: servicenow or jira.'),
        instance: z.string().min(1).optional(),
        type: z.enum(['standard', 'normal', 'emergency']).optional(),
        service: z.string().min(1).optional(),
        classification: z.enum(['major', 'minor', 'emergency']).optional(),
      })
      .strict()
      .refine((m) => Object.keys(m).length > 0, 'match needs at least one of system, instance, type, service, classification'),
    rules: RuleMap,
  })
  .strict();

export const PolicyFileSchema = z
  .object({
    /** `changegate mappings validate` picks the validator by this; optional when the file is loaded as the policy. */
    kind: z.literal('policy').optional(),
    version: z.union([z.string().min(1), z.number()]).transform(String),
    classification: ClassificationConfig.prefault({}),
    riskMatrix: z.object({ low: MatrixRow, medium: MatrixRow, high: MatrixRow, very_high: MatrixRow }).strict().default(DEFAULT_RISK_MATRIX),
    environments: z
      .object({ production: z.array(z.string().min(1)).min(1).default(['production', 'prod', 'prd']) })
      .strict()
      .prefault({}),
    scorecard: z
      .object({ maxRiskLevel: Level.default('high') })
      .strict()
      .prefault({}),
    rules: RuleMap.default({}),
    custom: z.array(CustomRuleSchema).default([]),
    overrides: z.array(OverrideSchema).default([]),
    calendar: z.array(WindowSchema).default([]),
    waivers: z.array(WaiverSchema).default([]),
    evidence: z
      .object({
        note: z
          .enum(['review-and-closed', 'each-state-change', 'on-demand', 'never'])
          .default('review-and-closed')
          .describe(
            'When the evidence summary (ledger entries, head hash) and the bundle are posted to the ticket: when the change enters Review or Closed, on each state move, only when `changegate evidence publish KEY` asks, or never (export only).',
          ),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const customIds = new Set<string>();
    policy.custom.forEach((rule, i) => {
      if (isBuiltInRule(rule.id)) ctx.addIssue({ code: 'custom', path: ['custom', i, 'id'], message: `rule "${rule.id}" is a built-in rule id; pick another` });
      if (customIds.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['custom', i, 'id'], message: `duplicate custom rule id "${rule.id}"` });
      customIds.add(rule.id);
      const compiled = compileCustomRule(rule);
      if ('error' in compiled) ctx.addIssue({ code: 'custom', path: ['custom', i, 'expr'], message: `rule "${rule.id}": ${compiled.error}` });
    });
    const checkRules = (rules: Record<string, Record<string, unknown> | null>, at: (string | number)[]) => {
      for (const [id, params] of Object.entries(rules)) {
        const schema = isBuiltInRule(id) ? RULES[id].params : customIds.has(id) ? CustomRuleParams : null;
        if (!schema) {
          const known = [...BUILT_IN_RULE_IDS, ...customIds];
          const guess = suggestKey(id, known);
          const scope = id.split('.')[0] ?? '';
          const near = known.filter((k) => k.startsWith(`${scope}.`));
          const hint = guess ? `; did you mean "${guess}"?` : near.length > 0 ? `; rules into ${scope}: ${near.join(', ')}` : '';
          ctx.addIssue({ code: 'custom', path: [...at, id], message: `unknown rule "${id}"${hint}` });
          continue;
        }
        const result = schema.safeParse(params ?? {});
        if (result.success) continue;
        for (const issue of result.error.issues) {
          const path = [...at, id, ...(issue.path as (string | number)[])];
          if (issue.code === 'unrecognized_keys') {
            for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...path, key], message: `rule "${id}": unknown parameter "${key}"` });
          } else {
            for (const plain of plainIssues(issue, params ?? {}, schema)) ctx.addIssue({ code: 'custom', path: [...at, id, ...(plain.path as (string | number)[])], message: `rule "${id}": ${plain.message}` });
          }
        }
      }
    };
    checkRules(policy.rules, ['rules']);
    policy.overrides.forEach((o, i) => checkRules(o.rules, ['overrides', i, 'rules']));
    policy.waivers.forEach((w, i) => {
      const at = ['waivers', i];
      if (!isBuiltInRule(w.gate) && !customIds.has(w.gate)) {
        const guess = suggestKey(w.gate, [...BUILT_IN_RULE_IDS, ...customIds]);
        ctx.addIssue({ code: 'custom', path: [...at, 'gate'], message: `unknown rule "${w.gate}"${guess ? `; did you mean "${guess}"?` : ''}` });
      } else if (policy.rules[w.gate]?.waivable === false) {
        ctx.addIssue({ code: 'custom', path: [...at, 'gate'], message: `rule "${w.gate}" is not waivable (rules.${w.gate}.waivable is false)` });
      }
      if (w.grantedAt !== undefined && w.grantedAt >= w.until) ctx.addIssue({ code: 'custom', path: [...at, 'until'], message: `the waiver ends (${w.until}) before it is granted (${w.grantedAt})` });
    });
    const windowIds = new Set<string>();
    policy.calendar.forEach((w, i) => {
      if (windowIds.has(w.id)) ctx.addIssue({ code: 'custom', path: ['calendar', i, 'id'], message: `duplicate calendar window id "${w.id}"` });
      windowIds.add(w.id);
    });
  });

/**
 * The policy file's schema for a build whose systems are known: an override matching any other system
 * (`system: JSM` where the system is named `jira`) would load and never apply, so it is refused.
 */
export function policyFileSchemaFor(systems: readonly string[] | undefined): z.ZodType<PolicyFile> {
  if (systems === undefined) return PolicyFileSchema;
  return PolicyFileSchema.superRefine((policy, ctx) => {
    policy.overrides.forEach((o, i) => {
      const system = o.match.system;
      if (system !== undefined && !systems.includes(system)) {
        ctx.addIssue({ code: 'custom', path: ['overrides', i, 'match', 'system'], message: `unknown system "${system}"; the systems are ${listText(systems)}` });
      }
    });
  });
}

export type PolicyFile = z.output<typeof PolicyFileSchema>;
export type PolicyOverride = PolicyFile['overrides'][number];
export type PolicyWaiver = PolicyFile['waivers'][number];
