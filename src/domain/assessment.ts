// What the policy engine says about one change at one moment. An Assessment is
// stored, written back to the ticket and chained into the evidence ledger, so
// every field is plain data with a stable order.

import type { CanonicalState, Classification, Level } from './change.ts';

export type GateOutcome = 'pass' | 'fail' | 'pending' | 'waived';

/** What a verdict rests on: a field of the change, an event, an approval, a window. */
export interface EvidenceRef {
  kind: 'field' | 'ci' | 'monitor' | 'approval' | 'journal' | 'calendar' | 'change' | 'waiver' | 'rule';
  /** Field path, event id, approval id, journal id, window id, change key, gate id. */
  ref: string;
  /** One line a human reads. */
  summary: string;
  url: string | null;
  at: string | null;
}

export interface GateResult {
  /** Rule id, e.g. `authorize.lead-time` or a custom rule's id. */
  id: string;
  /** The state this gate guards: it must pass before the change enters `into`. */
  into: CanonicalState;
  result: GateOutcome;
  /** What a change manager reads on the ticket: what is wrong and what to do, in plain words. */
  reason: string;
  /** Advice for a policy administrator (a rule to switch off, a parameter), kept out of the ticket's body. */
  hint?: string;
  evidence: EvidenceRef[];
}

/** A time-boxed, attributable exception to one gate (seed §7.1: approvals are documented and traceable). */
export interface Waiver {
  /** Gate id the waiver applies to. */
  gate: string;
  /** When set, the waiver applies to this change id only. */
  changeId: string | null;
  by: string;
  reason: string;
  /** ISO-8601; the waiver no longer applies at or after this instant. */
  until: string;
  grantedAt: string | null;
}

export type CriterionOutcome = 'pass' | 'fail' | 'unknown';

export const SCORECARD_CRITERIA = ['risk', 'testing', 'businessImpact', 'rollback', 'operational'] as const;
export type ScorecardCriterionId = (typeof SCORECARD_CRITERIA)[number];

export interface ScorecardCriterion {
  id: ScorecardCriterionId;
  label: string;
  result: CriterionOutcome;
  reason: string;
  evidence: EvidenceRef[];
}

export type Recommendation = 'Go' | 'No-Go' | 'Conditional Go';

/** CAB scorecard (seed §7.3). */
export interface Scorecard {
  criteria: ScorecardCriterion[];
  recommendation: Recommendation;
  /** For Conditional Go: what must hold for the go to stand; for No-Go: what blocks. */
  conditions: string[];
}

export interface RiskAssessment {
  impact: Level | null;
  probability: Level | null;
  /** The level the source states. */
  stated: Level | null;
  /** The level the policy uses: from the matrix when impact and probability are set, else the stated level. */
  level: Level | null;
  /** impact rank × probability rank (1–16), `null` without both. */
  score: number | null;
  /** `impact×probability`, e.g. `high×medium`; `null` without both. */
  cell: string | null;
  source: 'matrix' | 'stated' | 'none';
}

export interface Violation {
  gate: string;
  /** The state the change is in while the gate fails. */
  state: CanonicalState;
  reason: string;
  /** The gate's advice for a policy administrator, if it gave one. */
  hint?: string;
}

export interface Assessment {
  changeId: string;
  key: string;
  /** The change's native revision (`sys_mod_count`, changelog length) this assessment read. */
  revision: number;
  policyVersion: string;
  evaluatedAt: string;
  state: CanonicalState;
  classification: Classification;
  risk: RiskAssessment;
  /** Every gate of every transition the lifecycle offers next, ordered by state then gate id. */
  gates: GateResult[];
  scorecard: Scorecard;
  /** Lifecycle edges from the current state whose gates all pass or are waived. */
  allowedTransitions: CanonicalState[];
  /** Gates of the state the change is already in that fail now. */
  violations: Violation[];
}

export interface TransitionVerdict {
  allow: boolean;
  /** Why not: one line per failing or pending gate (empty when allowed). */
  reasons: string[];
  /** What the allow rests on: waivers in force and Conditional Go conditions. */
  conditions: string[];
  policyVersion: string;
}
