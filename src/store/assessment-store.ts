// The assessment port: every Assessment the runner stores, with the hashes that
// tell whether a later one changed anything, and the enforcement record of
// every observed transition the policy denied. (Enforcements move to the
// evidence ledger in a later issue.) Adapters pass one contract suite
// (test/contract/assessment-store.contract.ts).

import type { Assessment } from '../domain/assessment.ts';
import type { CanonicalState } from '../domain/change.ts';

export interface StoredAssessment {
  changeId: string;
  /** The mirror revision (`Revision.seq`) the assessment read. */
  revision: number;
  policyVersion: string;
  /** sha256 of the decision: gate results and reasons, allowed transitions, recommendation, violations. */
  outcomeHash: string;
  /** sha256 of what the policy read from the mirror (change without bookkeeping fields, approvals, journal) and the policy version. */
  inputHash: string;
  evaluatedAt: string;
  /** Its verdict and note were queued for the ticket (false when write-back is off or there was nothing new to write). */
  wroteBack: boolean;
  assessment: Assessment;
}

export type EnforcementMode = 'advisory' | 'enforce';

/**
 * `revert`: the transition is to be moved back (enforce mode); `comment`: only
 * explained (advisory mode, or the ticket moved on); `own-revert`: the
 * transition was changegate's own revert, recognised and left alone.
 */
export type EnforcementAction = 'revert' | 'comment' | 'own-revert';

/**
 * `pending` until enforcement reads how the outbox settled the revert; then
 * `reverted`, `refused` (the ticket system cannot go back: explained instead) or
 * `superseded` (someone moved the ticket first). `commented` and `recognised`
 * are final at once.
 */
export type EnforcementOutcome = 'pending' | 'reverted' | 'refused' | 'superseded' | 'commented' | 'recognised';

export interface EnforcementRecord {
  changeId: string;
  /** The mirror revision that showed the transition. */
  revision: number;
  from: CanonicalState;
  to: CanonicalState;
  /** The observed move, natively. A `revert` causes the opposite move (toNative → fromNative): that is how changegate knows its own revert when it shows up. */
  fromNative: string | null;
  toNative: string;
  mode: EnforcementMode;
  action: EnforcementAction;
  outcome: EnforcementOutcome;
  /** Why the policy denied the transition (empty for own-revert). */
  reasons: string[];
  policyVersion: string;
  /** The outbox item carrying the enforcement (the revert or the comment); for own-revert, the revert item recognised. */
  idempotencyKey: string | null;
  /** When the source says the transition happened. */
  observedAt: string;
  recordedAt: string;
  /** What the ticket system said when it refused, or who moved the ticket first. */
  detail: string | null;
}

/**
 * A page of one change's assessments in the order its history lists them (src/assess/history-page.ts): by
 * `evaluatedAt` (always an ISO instant in UTC with milliseconds, so text order is time order), then by the
 * revision compared as text, then in the order they were stored, as the history's entry ids
 * (`assessment:<evaluatedAt>:<revision>`, then `#<seq>` for a repeat) compare.
 */
export interface AssessmentHistoryQuery {
  /** `asc`: oldest first; `desc`: the reverse. */
  order: 'asc' | 'desc';
  /**
   * Only assessments strictly after this position in that order. `revision` is text: `ASSESSMENT_REVISION_FIRST`
   * comes before every revision at that time and `ASSESSMENT_REVISION_LAST` after every one (all or none at that time).
   * `seq` places it among the assessments of that revision at that time: null is the first of them stored (the one
   * whose id carries no seq).
   */
  after?: { evaluatedAt: string; revision: string; seq: number | null };
  limit: number;
}

/** An assessment as the history pages it: with what tells it from another of its revision evaluated at the same instant. */
export interface HistoryAssessment extends StoredAssessment {
  /** The order the store kept it in (never reused). */
  seq: number;
  /** Another assessment of its revision with the same `evaluatedAt` was stored before it (two runs within a millisecond). */
  repeat: boolean;
}

/** Text before every revision number. */
export const ASSESSMENT_REVISION_FIRST = '';
/** Text after every revision number: `:` sorts right after the digits. */
export const ASSESSMENT_REVISION_LAST = ':';

/** The history's order of two assessments or of one and a position (`AssessmentHistoryQuery`, its seq resolved), oldest first. */
export function compareForHistory(a: { evaluatedAt: string; revision: number | string; seq: number }, b: { evaluatedAt: string; revision: number | string; seq: number }): number {
  if (a.evaluatedAt !== b.evaluatedAt) return a.evaluatedAt < b.evaluatedAt ? -1 : 1;
  const [ra, rb] = [String(a.revision), String(b.revision)];
  if (ra !== rb) return ra < rb ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * A page of one change's enforcement records in the order its history lists them: by `recordedAt` (an ISO instant
 * in UTC with milliseconds, as enforcement records it, so text order is time order), then by revision, as the
 * history's entry ids (`enforcement:<revision>`, 8 digits) compare.
 */
export interface EnforcementHistoryQuery {
  /** `asc`: oldest first; `desc`: the reverse. */
  order: 'asc' | 'desc';
  /** Only records strictly after this position in that order (revision 0 comes before every record at that time). */
  after?: { recordedAt: string; revision: number };
  limit: number;
}

export interface AssessmentStore {
  /**
   * Stores one assessment; false (nothing new stored) when the same revision already has an assessment
   * with the same outcome hash. That one then stands for this one: it takes this one's input hash and
   * policy version (a later look with the same inputs is settled), and is marked written back if this one was.
   */
  saveAssessment(assessment: StoredAssessment): Promise<boolean>;
  /** The most recently stored assessment of a change. */
  latestAssessment(changeId: string): Promise<StoredAssessment | null>;
  /** The most recent assessment whose verdict was queued for the ticket: what the ticket shows, or is about to. */
  latestWrittenBack(changeId: string): Promise<StoredAssessment | null>;
  /** Oldest first. */
  listAssessments(changeId: string): Promise<StoredAssessment[]>;
  /**
   * One change's assessments, `limit` at a time, in the order its history lists them from `after`: a keyset
   * page by an index, so a change assessed any number of times is read a page at a time, and every one is reached.
   */
  listAssessmentsForHistory(changeId: string, query: AssessmentHistoryQuery): Promise<HistoryAssessment[]>;
  /** How many assessments one change has. */
  countAssessments(changeId: string): Promise<number>;
  /** One record per (change, revision): false when that revision already has one. */
  recordEnforcement(record: EnforcementRecord): Promise<boolean>;
  /** Moves the pending record carrying `idempotencyKey` to its final outcome; false when none is pending. */
  settleEnforcement(idempotencyKey: string, outcome: EnforcementOutcome, detail: string | null): Promise<boolean>;
  /** Oldest revision first. */
  listEnforcements(changeId: string): Promise<EnforcementRecord[]>;
  /**
   * One change's enforcement records, `limit` at a time, in the order its history lists them from `after`: a keyset
   * page by an index, so a change whose moves were enforced any number of times is read a page at a time.
   */
  listEnforcementsForHistory(changeId: string, query: EnforcementHistoryQuery): Promise<EnforcementRecord[]>;
  /** The records of these revisions of one change (one at most each), oldest revision first. */
  enforcementsOf(changeId: string, revisions: readonly number[]): Promise<EnforcementRecord[]>;
  /** How many enforcement records one change has. */
  countEnforcements(changeId: string): Promise<number>;
  close(): Promise<void>;
}
