// Which parameter values a change is judged by, and where each came from: the
// built-in default, the policy file's `rules:` section, or an override matching
// the change (by instance, type, service or classification). This is what
// `changegate check --explain` shows an ops team tuning the policy.

import type { Change, Classification } from '../domain/change.ts';
import { applicableOverrides, resolveRules, type Policy } from '../policy/policy-config.ts';
import type { PolicyOverride } from '../policy/policy-schema.ts';
import { isBuiltInRule, RULES } from '../policy/rule-catalog.ts';
import { formatDuration } from '../policy/zoned-time.ts';

export interface ParameterProvenance {
  /** `leadTime.normal`, `plans`, `major.groups`. */
  name: string;
  /** The value in force, as an operator writes it (`48 h`, `[implementation, backout, test]`). */
  value: string;
  /** `built-in default`, `policy file`, or `override #2 (type=emergency)`. */
  source: string;
}

export interface RuleProvenance {
  rule: string;
  /** What the rule checks (the catalogue's text; a custom rule's expression). */
  doc: string;
  params: ParameterProvenance[];
}

// Parameters held in milliseconds: shown as durations, not numbers.
const DURATION_PARAMS = new Set(['authorize.lead-time/leadTime', 'closed.hypercare/durations']);

type Raw = Record<string, unknown>;

function isPlainObject(value: unknown): value is Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function has(source: unknown, path: readonly string[]): boolean {
  let at: unknown = source;
  for (const key of path) {
    if (!isPlainObject(at) || !Object.hasOwn(at, key)) return false;
    at = at[key];
  }
  return true;
}

function describeMatch(override: PolicyOverride): string {
  return Object.entries(override.match)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

function formatValue(value: unknown, duration: boolean): string {
  if (duration && typeof value === 'number') return formatDuration(value);
  if (Array.isArray(value)) return `[${value.map((v) => formatValue(v, duration)).join(', ')}]`;
  if (isPlainObject(value)) return `{${Object.entries(value).map(([k, v]) => `${k}: ${formatValue(v, duration)}`).join(', ')}}`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Whether a resolved value equals what the rule has with no parameters set at all. */
function sameAsDefault(rule: string, path: readonly string[], value: unknown): boolean {
  if (!isBuiltInRule(rule)) return false;
  let fallback: unknown = RULES[rule].params.parse({});
  for (const key of path) fallback = isPlainObject(fallback) ? fallback[key] : undefined;
  return JSON.stringify(fallback) === JSON.stringify(value);
}

/** Parameters of the given rules (built-in or custom) in force for a change, each with its source. */
export function ruleProvenance(policy: Policy, change: Change, classification: Classification, ruleIds: readonly string[]): RuleProvenance[] {
  const resolved = resolveRules(policy, change, classification);
  const overrides = applicableOverrides(policy, change, classification);
  const sourceOf = (rule: string, path: readonly string[], value: unknown): string => {
    // Overrides apply least specific first, so the last that sets the path wins.
    const winner = overrides.findLast((o) => has(o.rules[rule], path));
    if (winner !== undefined) return `override #${policy.overrides.indexOf(winner) + 1} (${describeMatch(winner)})`;
    if (!has(policy.rules[rule], path)) return 'built-in default';
    return sameAsDefault(rule, path, value) ? 'policy file (same as the built-in default)' : 'policy file';
  };
  return [...new Set(ruleIds)].map((rule) => {
    const custom = policy.custom.find((c) => c.id === rule);
    const values: Raw = isBuiltInRule(rule) ? (resolved.builtIn[rule] as Raw) : (resolved.custom[rule] ?? {});
    const params: ParameterProvenance[] = [];
    for (const [key, value] of Object.entries(values)) {
      // A gate shown is enabled; whether it can be waived matters only when it cannot.
      if (key === 'enabled' || (key === 'waivable' && value === true)) continue;
      const duration = DURATION_PARAMS.has(`${rule}/${key}`);
      if (isPlainObject(value)) {
        for (const [sub, inner] of Object.entries(value)) {
          params.push({ name: `${key}.${sub}`, value: formatValue(inner, duration), source: sourceOf(rule, [key, sub], inner) });
        }
      } else {
        params.push({ name: key, value: formatValue(value, duration), source: sourceOf(rule, [key], value) });
      }
    }
    const doc = isBuiltInRule(rule) ? RULES[rule].doc : custom === undefined ? '' : `custom rule: ${custom.expr}`;
    return { rule, doc, params };
  });
}
