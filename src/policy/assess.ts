// The one entry point: what may this change do next, and why not. `assess`
// evaluates every gate of every transition the lifecycle offers; validate
// answers for one target state. Both depend only on their inputs: no clock,
// no randomness, stable ordering, so the same inputs give deep-equal output.

import type { Assessment, GateResult, Scorecard, TransitionVerdict, Violation } from '../domain/assessment.ts';
import { CANONICAL_STATES, type CanonicalState, type Change, type MirroredChange } from '../domain/change.ts';
import { activeWaiver, type PolicyContext } from './context.ts';
import { celChange, runCustomRule } from './custom-rules.ts';
import { BUILT_IN_GATES, gateInto } from './gates/gate-registry.ts';
import type { ChildRecords, GateDef, GateInput, Verdict } from './gates/gate.ts';
import { gatedStates, isEdge, nextStates } from './lifecycle.ts';
import { resolveRules, type Policy } from './policy-config.ts';
import { assessRisk, classify } from './risk.ts';
import { scorecard } from './scorecard.ts';
import { formatUtc } from './zoned-time.ts';

/**
 * What many gates read, derived once per call. A class, not an object literal
 * with a getter: the validate endpoint builds one per request, and V8 builds a
 * literal with an accessor far more slowly than a class instance.
 */
class PreparedInput implements GateInput {
  readonly mirrored: MirroredChange;
  readonly change: MirroredChange['change'];
  readonly ctx: PolicyContext;
  readonly now: number;
  readonly classification: GateInput['classification'];
  readonly risk: GateInput['risk'];
  readonly rules: GateInput['rules'];
  #card: Scorecard | undefined;

  constructor(mirrored: MirroredChange, ctx: PolicyContext) {
    const { change } = mirrored;
    this.mirrored = mirrored;
    this.change = change;
    this.ctx = ctx;
    this.now = ctx.now.getTime();
    this.risk = assessRisk(change, ctx.policy.riskMatrix);
    this.classification = classify(change, this.risk, ctx.policy.classification);
    this.rules = resolveRules(ctx.policy, change, this.classification);
  }

  // Only the CAB gate (into scheduled) and a full assessment read the scorecard:
  // validating any other transition must not pay for it. Computed once, on first read.
  get scorecard(): Scorecard {
    this.#card ??= scorecard({
      change: this.change,
      risk: this.risk,
      ci: this.ctx.events.ci,
      monitor: this.ctx.events.monitor,
      watch: this.ctx.events.watch,
      now: this.now,
      maxRiskLevel: this.ctx.policy.scorecard.maxRiskLevel,
      placeholders: this.rules.builtIn['authorize.plans'].placeholders,
    });
    return this.#card;
  }
}

function prepare(mirrored: MirroredChange, ctx: PolicyContext): GateInput {
  return new PreparedInput(mirrored, ctx);
}

function stateOrder(a: CanonicalState, b: CanonicalState): number {
  return CANONICAL_STATES.indexOf(a) - CANONICAL_STATES.indexOf(b);
}

function waive(input: GateInput, id: string, into: CanonicalState, verdict: Verdict, waivable: boolean): GateResult {
  const base: GateResult = { id, into, result: verdict.result, reason: verdict.reason, ...(verdict.hint === undefined ? {} : { hint: verdict.hint }), evidence: verdict.evidence };
  if (verdict.result === 'pass' || !waivable) return base;
  const waiver = activeWaiver(input.ctx, input.change.id, id);
  if (!waiver) return base;
  return {
    ...base,
    result: 'waived',
    reason: `waived by ${waiver.by} until ${formatUtc(Date.parse(waiver.until))}: ${waiver.reason} (was: ${verdict.reason})`,
    evidence: [...verdict.evidence, { kind: 'waiver', ref: id, summary: `${waiver.by}: ${waiver.reason}`, url: null, at: waiver.grantedAt }],
  };
}

interface Evaluated extends GateResult {
  atEntryOnly: boolean;
}

/** The built-in gates into each state, in catalogue order, grouped once: every validation walks one state's list, not the catalogue. */
const GATES_BY_STATE: ReadonlyMap<CanonicalState, readonly GateDef[]> = Map.groupBy(BUILT_IN_GATES, (gate) => gateInto(gate.id));
const NO_GATES: readonly GateDef[] = [];

/** The enabled gates guarding entry into one state: built-ins in catalogue order, then custom rules in file order. */
function gatesInto(input: GateInput, state: CanonicalState): Evaluated[] {
  const out: Evaluated[] = [];
  for (const gate of GATES_BY_STATE.get(state) ?? NO_GATES) {
    const params = input.rules.builtIn[gate.id];
    if (!params.enabled) continue;
    const verdict = gate.check(input, params as never);
    out.push({ ...waive(input, gate.id, state, verdict, params.waivable), atEntryOnly: gate.atEntryOnly === true });
  }
  // Built once, and only when a custom rule into this state runs (most states have none).
  let vars: Parameters<typeof runCustomRule>[1] | undefined;
  for (const rule of input.ctx.policy.custom) {
    const params = input.rules.custom[rule.id];
    if (rule.into !== state || !params?.enabled) continue;
    vars ??= { change: celChange(input.mirrored), events: input.ctx.events, now: input.ctx.now };
    const verdict = runCustomRule(rule, vars);
    out.push({ ...waive(input, rule.id, state, { ...verdict, evidence: [{ kind: 'rule', ref: rule.id, summary: rule.expr, url: null, at: null }] }, params.waivable), atEntryOnly: false });
  }
  return out;
}

function strip({ atEntryOnly: _drop, ...result }: Evaluated): GateResult {
  return result;
}

const clears = (g: GateResult): boolean => g.result === 'pass' || g.result === 'waived';

/** The states whose gates guard the change's next transitions, in lifecycle order. */
function guardedStates(change: Change): CanonicalState[] {
  return [...new Set(nextStates(change.type, change.state).flatMap((to) => gatedStates(change.state, to)))].toSorted(stateOrder);
}

/**
 * Every state whose gates `assess` evaluates for this change: those guarding its
 * next transitions, and its own (violations). A fact no gate of these reads is
 * not needed: a finished change, which can enter nothing, has no neighbours to look up.
 */
export function assessedStates(change: Change): CanonicalState[] {
  const states = guardedStates(change);
  if (change.state !== 'new' && !states.includes(change.state)) states.push(change.state);
  return states;
}

export function assess(mirrored: MirroredChange, ctx: PolicyContext): Assessment {
  const input = prepare(mirrored, ctx);
  const { change } = mirrored;
  const targets = nextStates(change.type, change.state);
  const states = guardedStates(change);
  const byState = new Map(states.map((s) => [s, gatesInto(input, s)] as const));
  const allowedTransitions = targets.filter((to) => gatedStates(change.state, to).every((s) => (byState.get(s) ?? []).every(clears)));
  const violations: Violation[] =
    change.state === 'new'
      ? []
      : gatesInto(input, change.state)
          .filter((g) => g.result === 'fail' && !g.atEntryOnly)
          .map((g) => ({ gate: g.id, state: change.state, reason: g.reason, ...(g.hint === undefined ? {} : { hint: g.hint }) }));
  return {
    changeId: change.id,
    key: change.key,
    revision: change.nativeRevision,
    policyVersion: ctx.policy.version,
    evaluatedAt: ctx.now.toISOString(),
    state: change.state,
    classification: input.classification,
    risk: input.risk,
    gates: states.flatMap((s) => (byState.get(s) ?? []).map(strip)),
    scorecard: input.scorecard,
    allowedTransitions: [...allowedTransitions].toSorted(stateOrder),
    violations,
  };
}

/**
 * The child records (approvals, journal) the gates into `states` may read under
 * `policy`: what a caller evaluating only those states must load. Custom rules
 * see both (CEL's `change` carries them), enabled or not, since an override can
 * enable one per change.
 */
export function childRecordsRead(policy: Policy, states: readonly CanonicalState[]): Set<ChildRecords> {
  const read = new Set<ChildRecords>();
  for (const state of states) {
    for (const gate of GATES_BY_STATE.get(state) ?? NO_GATES) for (const r of gate.reads ?? []) read.add(r);
  }
  if (policy.custom.some((rule) => states.includes(rule.into))) read.add('approvals').add('journal');
  return read;
}

/**
 * Whether a gate into `states` reads the change's state moves (`ctx.moves`) for
 * this change under `policy`: what a caller must then read from the revision
 * history. Most changes' gates never ask (see GateDef.readsMoves).
 */
export function readsStateMoves(mirrored: MirroredChange, policy: Policy, states: readonly CanonicalState[]): boolean {
  let resolved: { classification: GateInput['classification']; rules: GateInput['rules'] } | undefined;
  for (const state of states) {
    for (const gate of GATES_BY_STATE.get(state) ?? NO_GATES) {
      if (gate.readsMoves === undefined) continue;
      if (resolved === undefined) {
        const classification = classify(mirrored.change, assessRisk(mirrored.change, policy.riskMatrix), policy.classification);
        resolved = { classification, rules: resolveRules(policy, mirrored.change, classification) };
      }
      const params = resolved.rules.builtIn[gate.id];
      if (params.enabled && gate.readsMoves(mirrored, resolved.classification, params as never)) return true;
    }
  }
  return false;
}

/** Every enabled gate into one state, whatever state the change is in (for `check --explain` and tests). */
export function evaluateState(mirrored: MirroredChange, state: CanonicalState, ctx: PolicyContext): GateResult[] {
  return gatesInto(prepare(mirrored, ctx), state).map(strip);
}

/** Gates guarding one edge, for `check --explain`; empty when the edge does not exist. */
export function gatesForTransition(mirrored: MirroredChange, to: CanonicalState, ctx: PolicyContext): GateResult[] {
  const { change } = mirrored;
  if (!isEdge(change.type, change.state, to)) return [];
  const input = prepare(mirrored, ctx);
  return gatedStates(change.state, to).flatMap((s) => gatesInto(input, s).map(strip));
}

export function validateTransition(mirrored: MirroredChange, to: CanonicalState, ctx: PolicyContext): TransitionVerdict {
  return judgeTransition(mirrored, to, ctx).verdict;
}

/** The verdict on one move and the gates that keep it from being allowed (empty when the move is no lifecycle edge), for notes that group and name them. */
export function judgeTransition(mirrored: MirroredChange, to: CanonicalState, ctx: PolicyContext): { verdict: TransitionVerdict; blocking: GateResult[] } {
  const { change } = mirrored;
  const policyVersion = ctx.policy.version;
  if (!isEdge(change.type, change.state, to)) {
    const next = nextStates(change.type, change.state);
    const offer = next.length > 0 ? `allowed next: ${next.join(', ')}` : `${change.state} is a final state`;
    const what = to === change.state ? `the change is already in ${to}` : `${change.state} → ${to} is not a transition of the ${change.type} change lifecycle`;
    return { verdict: { allow: false, reasons: [`${what}; ${offer}`], conditions: [], policyVersion }, blocking: [] };
  }
  const input = prepare(mirrored, ctx);
  const gates = gatedStates(change.state, to).flatMap((s) => gatesInto(input, s));
  const blocking = gates.filter((g) => !clears(g));
  const reasons = blocking.map((g) => `${g.reason} (${g.id}${g.result === 'pending' ? ', pending' : ''})`);
  const conditions = gates.filter((g) => g.result === 'waived').map((g) => `${g.id}: ${g.reason}`);
  if (gates.some((g) => g.id === 'scheduled.cab-scorecard') && input.scorecard.recommendation === 'Conditional Go') {
    conditions.push(...input.scorecard.conditions.map((c) => `CAB Conditional Go: ${c}`));
  }
  return { verdict: { allow: reasons.length === 0, reasons, conditions, policyVersion }, blocking: blocking.map(strip) };
}
