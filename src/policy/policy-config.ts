// Loading a policy file into a Policy, and resolving the parameters that apply
// to one change (defaults ← overrides by instance, type, service, class).
// Every failure is CG_POLICY_INVALID naming file, line and rule.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { parseYamlSource, validateYamlSource, type YamlPath, type YamlSource } from '../config/yaml-source.ts';
import type { Waiver } from '../domain/assessment.ts';
import type { Change, Classification, Level } from '../domain/change.ts';
import { ChangegateError } from '../errors.ts';
import type { Calendar } from './calendar.ts';
import { compileCustomRule, type CustomRule } from './custom-rules.ts';
import type { RiskMatrix } from './risk.ts';
import { BUILT_IN_RULE_IDS, CustomRuleParams, RULES, type BuiltInRuleId, type ClassificationConfig, type RuleParams } from './rule-catalog.ts';
import { policyFileSchemaFor, type PolicyOverride, type PolicyWaiver } from './policy-schema.ts';
import { unknownInstanceWarnings } from './unknown-instances.ts';

export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../mappings/policy.default.yaml', import.meta.url));

type RawParams = Record<string, unknown>;

export interface Policy {
  /** The file's `version:` plus a short hash of its content, e.g. `2026.1+3f9a2c1b`. */
  version: string;
  file: string;
  classification: ClassificationConfig;
  riskMatrix: RiskMatrix;
  productionEnvironments: string[];
  scorecard: { maxRiskLevel: Level };
  /** Raw parameters per rule id as the file sets them; resolved per change by `resolveRules`. */
  rules: Record<string, RawParams>;
  custom: CustomRule[];
  overrides: PolicyOverride[];
  /** The calendar the file declares; callers put it (merged with any ITSM schedules) into the context. */
  calendar: Calendar;
  /** Waivers the file grants; callers put a change's own into the context (`waiversFor`). */
  waivers: PolicyWaiver[];
  /** When the evidence summary goes to the ticket. */
  evidence: { note: 'review-and-closed' | 'each-state-change' | 'on-demand' | 'never' };
  /** What is valid but probably a mistake (an override on an instance the configuration lacks), as `file:line:col path: message` lines. */
  warnings?: readonly string[];
}

export interface ResolvedRules {
  builtIn: RuleParams;
  custom: Record<string, CustomRuleParams>;
}

/** JSON with sorted keys, so the hash follows meaning, not formatting or comments. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Points an error about a map entry at its key's line when the value is a
 * block on the lines below (`authorize.leadtime:` then its parameters), so an
 * unknown rule id is reported on the line that names it.
 */
function atKeys(source: YamlSource, text: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return {
    ...source,
    positionOf(path: YamlPath) {
      const fallback = source.positionOf(path);
      const parent = path.length === 0 ? null : doc.getIn(path.slice(0, -1) as unknown[], true);
      if (!isMap(parent)) return fallback;
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === path[path.length - 1]);
      if (!pair || !isScalar(pair.key) || !pair.key.range) return fallback;
      const key = lines.linePos(pair.key.range[0]);
      return key.line < fallback.line ? { line: key.line, column: key.col } : fallback;
    },
  };
}

export const POLICY_KIND = 'policy';

export interface PolicyLoadOptions {
  /** The systems this build has (the registry's): an override matching another system is refused. Absent: not checked. */
  systems?: readonly string[];
  /** The configured instance ids: an override or waiver naming another is a warning (`Policy.warnings`). Absent: not checked. */
  instances?: readonly string[];
}

export function parsePolicy(text: string, file: string, options: PolicyLoadOptions = {}): Policy {
  return policyFromSource(atKeys(parseYamlSource(text, file, 'CG_POLICY_INVALID'), text), options);
}

/** For `changegate mappings validate`: throws CG_POLICY_INVALID listing every issue, as loading would; returns the warnings. */
export function validatePolicySource(source: YamlSource, options: PolicyLoadOptions = {}): readonly string[] {
  return policyFromSource(atKeys(source, readFileSync(source.file, 'utf8')), options).warnings ?? [];
}

function policyFromSource(source: YamlSource, options: PolicyLoadOptions): Policy {
  const file = source.file;
  const parsed = validateYamlSource(source, policyFileSchemaFor(options.systems), 'CG_POLICY_INVALID');
  const custom = parsed.custom.map((spec, i) => {
    const compiled = compileCustomRule(spec);
    if ('error' in compiled) {
      // Unreachable after validation; kept so a future schema change cannot load a broken rule silently.
      const line = source.positionOf(['custom', i, 'expr']).line;
      throw new ChangegateError('CG_POLICY_INVALID', `${file}:${line} custom[${i}] rule "${spec.id}": ${compiled.error}`, { details: { file, line, rule: spec.id } });
    }
    return compiled.rule;
  });
  const hash = createHash('sha256').update(stableJson(source.data)).digest('hex').slice(0, 8);
  return {
    version: `${parsed.version}+${hash}`,
    file,
    classification: parsed.classification,
    riskMatrix: parsed.riskMatrix,
    productionEnvironments: parsed.environments.production,
    scorecard: parsed.scorecard,
    rules: Object.fromEntries(Object.entries(parsed.rules).map(([id, params]) => [id, params ?? {}])),
    custom,
    overrides: parsed.overrides,
    calendar: { windows: parsed.calendar },
    waivers: parsed.waivers,
    evidence: parsed.evidence,
    warnings: options.instances === undefined ? [] : unknownInstanceWarnings(source, parsed, options.instances),
  };
}

export function loadPolicy(file: string = DEFAULT_POLICY_FILE, options: PolicyLoadOptions = {}): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ChangegateError('CG_POLICY_INVALID', `${file}: cannot read policy file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err, details: { file } });
  }
  return parsePolicy(text, file, options);
}

function isPlainObject(value: unknown): value is RawParams {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Objects merge key by key; lists and scalars replace. */
function deepMerge(base: RawParams, over: RawParams): RawParams {
  const out: RawParams = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

function matches(override: PolicyOverride, change: Change, classification: Classification): boolean {
  const { system, instance, type, service, classification: cls } = override.match;
  if (system !== undefined && system !== change.system) return false;
  if (instance !== undefined && instance !== change.instance) return false;
  if (type !== undefined && type !== change.type) return false;
  if (cls !== undefined && cls !== classification) return false;
  if (service !== undefined) {
    const wanted = service.trim().toLowerCase();
    const named = [...change.services, ...change.cis].some((ref) => ref.id.toLowerCase() === wanted || (ref.name ?? '').toLowerCase() === wanted);
    if (!named) return false;
  }
  return true;
}

/** Overrides that apply to the change, least specific first, so the most specific wins; file order breaks ties. */
export function applicableOverrides(policy: Policy, change: Change, classification: Classification): PolicyOverride[] {
  return policy.overrides
    .map((override, index) => ({ override, index, weight: Object.keys(override.match).length }))
    .filter(({ override }) => matches(override, change, classification))
    .toSorted((a, b) => a.weight - b.weight || a.index - b.index)
    .map(({ override }) => override);
}

// Resolved parameters depend only on the policy and which overrides apply, and
// parsing every rule's parameters is most of an evaluation's cost (the validate
// endpoint evaluates on every call): remember them per override combination.
const RESOLVED_PER_POLICY = 256;
const resolvedCache = new WeakMap<Policy, Map<string, ResolvedRules>>();

/** The parameters in force for a change; the result is shared between calls and must not be mutated. */
export function resolveRules(policy: Policy, change: Change, classification: Classification): ResolvedRules {
  const overrides = policy.overrides.length === 0 ? [] : applicableOverrides(policy, change, classification);
  const key = overrides.length === 0 ? '' : overrides.map((o) => policy.overrides.indexOf(o)).join(',');
  let cache = resolvedCache.get(policy);
  if (cache === undefined) resolvedCache.set(policy, (cache = new Map()));
  const known = cache.get(key);
  if (known !== undefined) return known;
  const merged = (id: string): RawParams => overrides.reduce((acc, o) => deepMerge(acc, o.rules[id] ?? {}), policy.rules[id] ?? {});
  const builtIn = Object.fromEntries(BUILT_IN_RULE_IDS.map((id: BuiltInRuleId) => [id, RULES[id].params.parse(merged(id))])) as RuleParams;
  const custom = Object.fromEntries(policy.custom.map((rule) => [rule.id, CustomRuleParams.parse(merged(rule.id))]));
  const resolved = { builtIn, custom };
  if (cache.size < RESOLVED_PER_POLICY) cache.set(key, resolved);
  return resolved;
}

/** The policy file's waivers for one change (by key, any case, or by id; on its instance when the waiver names one), as the engine reads them. */
export function waiversFor(policy: Policy, change: Pick<Change, 'id' | 'key' | 'instance'>): Waiver[] {
  if (policy.waivers.length === 0) return [];
  const key = change.key.toLowerCase();
  return policy.waivers
    .filter((w) => (w.instance === undefined || w.instance === change.instance) && (w.change === change.id || w.change.toLowerCase() === key))
    .map((w) => ({ gate: w.gate, changeId: change.id, by: w.by, reason: w.reason, until: w.until, grantedAt: w.grantedAt ?? null }));
}
