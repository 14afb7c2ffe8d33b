// The decision behind `POST /v1/validate`: may this change go from → to now?
// The caller (a ServiceNow business rule, a Jira workflow validator) holds the
// true current state, so `from` replaces the mirrored one. When the mirror
// cannot be trusted (stale) or lacks the change, the instance's fail mode
// decides, and the answer says so: the plugin only ever reads a decision.

import type { CanonicalState, JournalEntry, MirroredChange, System } from '../domain/change.ts';
import { childRecordsRead, validateTransition } from '../policy/assess.ts';
import { gatedStates, isEdge } from '../policy/lifecycle.ts';
import type { Policy } from '../policy/policy-config.ts';
import { isChangegateError } from '../errors.ts';
import { STORE_FAULT_TEXT, type StoreFaultReason, type StoreHealthState } from '../store/store-health.ts';
import { buildPolicyContext, judgedChange, type PolicyContextDeps } from './policy-context.ts';
import { withoutOwnNotes } from './verdict-text.ts';

export type FailMode = 'open' | 'closed';

/** What validation needs to know about one configured instance. */
export interface ValidationInstance {
  id: string;
  system: System;
  failMode: FailMode;
  maxStalenessMs: number;
  /** Native state value (ServiceNow choice value, Jira status name or id) → canonical state. */
  states: ReadonlyMap<string, CanonicalState>;
}

/**
 * What the save being validated carries besides the state, typed in the same
 * form save as the move (a cancellation reason in the close notes or a work
 * note). Only fields a save can carry and a user types: never approvals, state
 * or risk, which the mirror alone vouches for.
 */
export interface ProposedValues {
  /** Replaces the mirrored close code; blank clears it. */
  closeCode?: string;
  /** Replaces the mirrored close notes; blank clears them. */
  closeNotes?: string;
  /** A work note typed in this save, judged as a journal entry written now. */
  workNote?: string;
  /** An additional comment typed in this save, judged as a journal entry written now. */
  comment?: string;
  /** Who is saving (the note's author); absent: the note is unattributed. */
  by?: string;
}

/** The proposed fields a decision is judged with, in this order. */
export const PROPOSED_FIELDS = ['closeCode', 'closeNotes', 'workNote', 'comment'] as const;
export type ProposedField = (typeof PROPOSED_FIELDS)[number];

export interface ValidationRequest {
  instance: ValidationInstance;
  key: string;
  from: CanonicalState;
  to: CanonicalState;
  proposed?: ProposedValues;
}

export interface ValidationDeps extends PolicyContextDeps {
  /** When the instance's last sync succeeded; null when none has since start-up. */
  lastSyncAt(instance: string): Date | null;
  /** The store's health as the monitor last found it; absent: taken as healthy. */
  storeHealth?(): StoreHealthState;
}

export interface ValidationAnswer {
  allow: boolean;
  /** Why not, or, when the fail mode decided, why the policy was not consulted. */
  reasons: string[];
  conditions: string[];
  policyVersion: string;
  /** The mirrored change the answer is about; null when the mirror lacks it. */
  change: { id: string; key: string; revision: number } | null;
  stale: boolean;
  /** Present when the fail mode, not the policy, made the decision. */
  failMode?: FailMode;
  /**
   * Present when the policy judged the change with values the caller proposed:
   * their names, so a decision made on typed text is told apart from one made
   * on the stored record. Absent when the fail mode decided (nothing was judged).
   */
  proposed?: ProposedField[];
}

/** Low-cardinality label for `changegate_validations_total{reason}`. */
export type ValidationBasis = 'policy' | 'no_transition' | 'stale' | 'not_mirrored' | 'store';

export interface ValidationOutcome {
  answer: ValidationAnswer;
  basis: ValidationBasis;
}

/** `1h 5m`, `20m`, `45s`: how an operator reads a staleness. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}

/** Why the mirror of an instance is stale at `now`, or null when it is fresh. */
export function staleness(instance: ValidationInstance, lastSync: Date | null, now: Date): string | null {
  if (lastSync === null) return `the mirror of ${instance.id} has not completed a sync since changegate started`;
  const age = now.getTime() - lastSync.getTime();
  if (age <= instance.maxStalenessMs) return null;
  return `the mirror of ${instance.id} was last synced at ${lastSync.toISOString()} (${formatDuration(age)} ago, more than the ${formatDuration(instance.maxStalenessMs)} allowed)`;
}

function byFailMode(instance: ValidationInstance, why: string): Pick<ValidationAnswer, 'allow' | 'reasons' | 'failMode'> {
  const allow = instance.failMode === 'open';
  return { allow, reasons: [`${why}; ${allow ? 'allowed' : 'denied'} because ${instance.id} fails ${instance.failMode}`], failMode: instance.failMode };
}

const NO_CHILDREN = { approvals: false, journal: false } as const;
const childrenPerPolicy = new WeakMap<Policy, Map<string, { approvals: boolean; journal: boolean }>>();

/** Which child records the gates of one step read (the edge's states are a superset of what is evaluated); fixed per policy, so computed once. */
function childrenFor(policy: Policy, from: CanonicalState, to: CanonicalState): { approvals: boolean; journal: boolean } {
  let known = childrenPerPolicy.get(policy);
  if (known === undefined) childrenPerPolicy.set(policy, (known = new Map()));
  const edge = `${from}>${to}`;
  let children = known.get(edge);
  if (children === undefined) {
    const reads = childRecordsRead(policy, gatedStates(from, to));
    children = { approvals: reads.has('approvals'), journal: reads.has('journal') };
    known.set(edge, children);
  }
  return children;
}

/** Why a store fault decides instead of the policy: a store that cannot keep data cannot be trusted to hold the change as it is. */
function storeFaultAnswer(instance: ValidationInstance, policyVersion: string, reason: StoreFaultReason, since?: string, change: ValidationAnswer['change'] = null): ValidationOutcome {
  const why = `${STORE_FAULT_TEXT[reason]}${since === undefined ? '' : ` (since ${since})`}, so the mirror of ${instance.id} cannot be trusted`;
  return { answer: { conditions: [], policyVersion, change, stale: true, ...byFailMode(instance, why) }, basis: 'store' };
}

/** A store fault (the monitor may not have seen it yet) as its reason; anything else is not one. */
function storeFaultOf(err: unknown): StoreFaultReason | null {
  if (!isChangegateError(err, 'CG_STORE_UNAVAILABLE') && !isChangegateError(err, 'CG_STORE_BUSY')) return null;
  return (err.details['reason'] as StoreFaultReason | undefined) ?? 'locked';
}

/** Who wrote a proposed note when the caller did not say. */
export const UNATTRIBUTED = '(unattributed)';

const blankToNull = (text: string): string | null => (text.trim() === '' ? null : text);

/** The change as it would be saved: close fields replaced, typed notes added as entries of `now`. */
function withProposed(mc: MirroredChange, proposed: ProposedValues, now: Date): { subject: MirroredChange; used: ProposedField[] } {
  const used = PROPOSED_FIELDS.filter((f) => proposed[f] !== undefined);
  const change = { ...mc.change };
  if (proposed.closeCode !== undefined) change.closeCode = blankToNull(proposed.closeCode);
  if (proposed.closeNotes !== undefined) change.closeNotes = blankToNull(proposed.closeNotes);
  const at = now.toISOString();
  const author = proposed.by ?? UNATTRIBUTED;
  const typed: JournalEntry[] = [];
  if (proposed.workNote !== undefined) typed.push({ id: 'proposed:work_note', kind: 'work_note', author, at, text: proposed.workNote });
  if (proposed.comment !== undefined) typed.push({ id: 'proposed:comment', kind: 'comment', author, at, text: proposed.comment });
  // Judged as the mirror will hold it after the save: a note carrying changegate's marker counts for nothing there either.
  return { subject: { ...mc, change, journal: [...mc.journal, ...withoutOwnNotes(typed)] }, used };
}

export async function validateChangeTransition(deps: ValidationDeps, request: ValidationRequest, now: Date): Promise<ValidationOutcome> {
  const { instance, key, from, to } = request;
  const policyVersion = deps.policy.version;
  const health = deps.storeHealth?.() ?? { ok: true };
  if (!health.ok && from !== to) return storeFaultAnswer(instance, policyVersion, health.reason, health.since);
  const children = from === to ? NO_CHILDREN : childrenFor(deps.policy, from, to);
  let mc: MirroredChange | null = null;
  try {
    mc = await deps.store.getChange(key, { instance: instance.id, withoutRaw: true, children });
  } catch (err) {
    // A fault the monitor has not seen yet decides the same way (a no-op move needs no mirror).
    const reason = storeFaultOf(err);
    if (reason === null) throw err;
    if (from !== to) return storeFaultAnswer(instance, policyVersion, reason);
  }
  const stale = staleness(instance, deps.lastSyncAt(instance.id), now);
  const change = mc === null ? null : { id: mc.change.id, key: mc.change.key, revision: mc.change.nativeRevision };
  const base = { conditions: [], policyVersion, change, stale: stale !== null };
  if (from === to) {
    // Two native states can share a canonical one (a Jira site's "Review" and "Peer review"): moving between them is no lifecycle step.
    return { answer: { ...base, allow: true, reasons: [`from and to are both ${to}: not a lifecycle transition, nothing to check`] }, basis: 'no_transition' };
  }
  if (mc === null) {
    const why = `${key} is not in the mirror of ${instance.id}${stale === null ? '' : ` (and ${stale})`}`;
    return { answer: { ...base, ...byFailMode(instance, why) }, basis: 'not_mirrored' };
  }
  if (stale !== null) return { answer: { ...base, ...byFailMode(instance, stale) }, basis: 'stale' };
  const judged = judgedChange(mc);
  const placed = judged.change.state === from ? judged : { ...judged, change: { ...judged.change, state: from } };
  const { subject, used } = request.proposed === undefined ? { subject: placed, used: undefined } : withProposed(placed, request.proposed, now);
  const states = isEdge(subject.change.type, from, to) ? gatedStates(from, to) : [];
  try {
    // The gates read more of the store (neighbours, events, waivers): a fault there decides as one reading the change does.
    const ctx = await buildPolicyContext(deps, subject, now, { states });
    const verdict = validateTransition(subject, to, ctx);
    const judgedOn = used === undefined ? {} : { proposed: used };
    return { answer: { ...base, allow: verdict.allow, reasons: verdict.reasons, conditions: verdict.conditions, ...judgedOn }, basis: 'policy' };
  } catch (err) {
    const reason = storeFaultOf(err);
    if (reason === null) throw err;
    return storeFaultAnswer(instance, policyVersion, reason, undefined, change);
  }
}
