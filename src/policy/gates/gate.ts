// A gate is a pure function from the change and its context to a verdict.
// Gate files declare them; `assess.ts` evaluates, waives and orders them.

import type { EvidenceRef, RiskAssessment, Scorecard } from '../../domain/assessment.ts';
import type { Change, Classification, MirroredChange } from '../../domain/change.ts';
import type { PolicyContext } from '../context.ts';
import type { ResolvedRules } from '../policy-config.ts';
import type { BuiltInRuleId, RuleParams } from '../rule-catalog.ts';

export interface Verdict {
  result: 'pass' | 'fail' | 'pending';
  /** For the ticket's readers: what is wrong and what to do. */
  reason: string;
  /** For a policy administrator only (see GateResult.hint). */
  hint?: string;
  evidence: EvidenceRef[];
}

/** What every gate reads: the change, the context, and what the engine derived once. */
export interface GateInput {
  mirrored: MirroredChange;
  change: Change;
  ctx: PolicyContext;
  /** `ctx.now` in epoch ms. */
  now: number;
  classification: Classification;
  risk: RiskAssessment;
  scorecard: Scorecard;
  rules: ResolvedRules;
}

export type ChildRecords = 'approvals' | 'journal';

export interface GateDef<K extends BuiltInRuleId = BuiltInRuleId> {
  id: K;
  /**
   * True for checks that only mean something at the moment of entering the
   * state (lead time shrinks as the start nears): they never become violations
   * of a change already in that state.
   */
  atEntryOnly?: boolean;
  /**
   * The mirrored child records the check reads. A caller that evaluates only
   * some states (validate) reads from the store only what their gates declare,
   * so a gate that reads `mirrored.approvals` or `mirrored.journal` must say so.
   */
  reads?: readonly ChildRecords[];
  /**
   * Whether the check reads `ctx.moves` (the change's state moves, from its
   * revision history) for this change under these parameters. The history is
   * read from the store only for a change a gate evaluated says this of, so
   * say it only where the moves can decide the verdict.
   */
  readsMoves?(mirrored: MirroredChange, classification: Classification, params: RuleParams[K]): boolean;
  check(input: GateInput, params: RuleParams[K]): Verdict;
}

export const pass = (reason: string, evidence: EvidenceRef[] = []): Verdict => ({ result: 'pass', reason, evidence });
export const fail = (reason: string, evidence: EvidenceRef[] = []): Verdict => ({ result: 'fail', reason, evidence });
export const pending = (reason: string, evidence: EvidenceRef[] = []): Verdict => ({ result: 'pending', reason, evidence });

/** `a`, `a and b`, `a, b and c` (or `or`). */
export function listText(items: readonly string[], conjunction: 'and' | 'or' = 'and'): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items[items.length - 1]}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Erases the parameter type so gates of every rule fit one list. */
export function defineGate<K extends BuiltInRuleId>(def: GateDef<K>): GateDef {
  return def as unknown as GateDef;
}

/** The planned window in epoch ms, or what is wrong with it. */
export function plannedWindow(change: Change): { start: number; end: number } | { problem: string } {
  const missing = [change.plannedStart ? null : 'planned start', change.plannedEnd ? null : 'planned end'].filter((m): m is string => m !== null);
  if (missing.length > 0) return { problem: `${listText(missing)} ${missing.length > 1 ? 'are' : 'is'} not set` };
  const start = Date.parse(change.plannedStart as string);
  const end = Date.parse(change.plannedEnd as string);
  if (Number.isNaN(start) || Number.isNaN(end)) return { problem: 'planned start or end is not a valid date' };
  return { start, end };
}
