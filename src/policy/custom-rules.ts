// Custom rules: CEL expressions over `change`, `events` and `now`, the same
// language Kubernetes admission policies use. Expressions are compiled and
// type-checked once at policy load; a rule that does not compile never loads.

import { Environment } from '@marcbachmann/cel-js';
import type { CanonicalState, MirroredChange } from '../domain/change.ts';
import type { CiEvent, MonitorEvent } from '../domain/events.ts';

export interface CustomRuleSpec {
  id: string;
  into: CanonicalState;
  /** CEL; true means the gate passes. */
  expr: string;
  /** The reason shown when the expression is false. */
  message: string;
}

export interface CustomRule extends CustomRuleSpec {
  evaluate(vars: CelVariables): boolean;
}

export interface CelVariables {
  change: Record<string, unknown>;
  events: { ci: CiEvent[]; monitor: MonitorEvent[] };
  now: Date;
}

// One environment for every rule: building it is the expensive part (cel-js README).
let environment: Environment | null = null;

function celEnvironment(): Environment {
  environment ??= new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
    .registerVariable('change', 'map', { description: 'The change: canonical fields plus approvals and journal' })
    .registerVariable('events', 'map', { description: '{ci: [...], monitor: [...]} known for the change' })
    .registerVariable('now', 'google.protobuf.Timestamp', { description: 'Evaluation instant' });
  return environment;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'error';
}

/** Compiles or returns the reason it cannot: a syntax error, a type error, or a non-boolean result. */
export function compileCustomRule(spec: CustomRuleSpec): { rule: CustomRule } | { error: string } {
  const env = celEnvironment();
  let checked: ReturnType<Environment['check']>;
  try {
    checked = env.check(spec.expr);
  } catch (err) {
    return { error: `expression does not compile: ${firstLine(err)}` };
  }
  if (!checked.valid) return { error: `expression does not compile: ${firstLine(checked.error)}` };
  if (checked.type !== 'bool' && checked.type !== 'dyn') return { error: `expression must yield a bool, not ${String(checked.type)}` };
  let program: ReturnType<Environment['parse']>;
  try {
    program = env.parse(spec.expr);
  } catch (err) {
    return { error: `expression does not compile: ${firstLine(err)}` };
  }
  return {
    rule: {
      ...spec,
      evaluate(vars) {
        const value: unknown = program(vars as unknown as Record<string, unknown>);
        if (typeof value !== 'boolean') throw new Error(`expression yielded ${typeof value}, not a bool`);
        return value;
      },
    },
  };
}

/** The `change` variable: canonical fields without `raw`, plus approvals and journal. */
export function celChange(mirrored: MirroredChange): Record<string, unknown> {
  const { raw: _raw, ...fields } = mirrored.change;
  return { ...fields, approvals: mirrored.approvals, journal: mirrored.journal };
}

export function runCustomRule(rule: CustomRule, vars: CelVariables): { result: 'pass' | 'fail'; reason: string } {
  try {
    return rule.evaluate(vars) ? { result: 'pass', reason: `custom rule ${rule.id} holds` } : { result: 'fail', reason: rule.message };
  } catch (err) {
    // A rule that cannot be evaluated (a missing key, a bad timestamp) fails closed and says why.
    return { result: 'fail', reason: `${rule.message} (rule ${rule.id} could not be evaluated: ${firstLine(err)})` };
  }
}
