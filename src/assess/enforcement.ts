// Reactive enforcement: the second layer, for tickets without a plugin or moved
// through the API. Every mirrored revision that shows a state change is judged
// as the transition it was: `validateTransition` on the change as submitted
// (the new revision's fields, in the state it left), at the instant the source
// says it happened. A denied move is moved back in `enforce` mode and explained;
// in `advisory` mode it is only explained. Either way it is recorded.
//
// changegate's own revert shows up as a state change too. It is recognised
// from the enforcement's own record (a `revert` record of the move A → B
// causes B → A), recorded as `own-revert` and never judged, so enforcement
// never ping-pongs.
//
// Data flows one way: this module queues reverts in the outbox and later reads
// how the outbox settled them (by the record's idempotency key); the outbox
// worker never calls back.

import type { TransitionVerdict } from '../domain/assessment.ts';
import type { CanonicalState, MirroredChange } from '../domain/change.ts';
import type { Logger } from '../log.ts';
import { judgeTransition } from '../policy/assess.ts';
import type { Calendar } from '../policy/calendar.ts';
import type { Policy } from '../policy/policy-config.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AssessmentStore, EnforcementMode, EnforcementOutcome, EnforcementRecord } from '../store/assessment-store.ts';
import type { ChangeStore, Revision } from '../store/change-store.ts';
import type { NewOutboxItem, OutboxItem, OutboxStore } from '../store/outbox-store.ts';
import { approvalsAt, changeAtRevision } from './change-as-of.ts';
import { buildPolicyContext, type EventSource } from './policy-context.ts';
import type { StateNamer } from '../kit/ticket-note.ts';
import { advisoryNote, revertedNote, revertRefusedNote, type DeniedMove, type ObservedTransition } from './enforcement-notes.ts';

export interface EnforcementDeps {
  store: ChangeStore;
  assessments: AssessmentStore;
  outbox: OutboxStore;
  policy: Policy;
  events?: EventSource;
  /** Calendars read from the ITSM (ServiceNow blackout and maintenance schedules), merged with the policy's. */
  calendars?: (instance: string) => Calendar | null;
  /** The instance's `enforcement` setting. */
  modeOf: (instance: string) => EnforcementMode;
  /** How each instance's site names the states (its mapping); canonical labels without it. */
  stateNames?: (instance: string) => StateNamer;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
}

interface StateMove {
  from: CanonicalState;
  to: CanonicalState;
  fromNative: string | null;
  toNative: string;
  fromLabel: string | null;
  toLabel: string | null;
}

function valueAt(revision: Revision, path: string): { from?: unknown; to?: unknown } | undefined {
  return revision.diff.find((d) => d.path === path);
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

/** The state change a revision shows, or null (no state change, or the change's first revision). */
export function stateMove(revision: Revision, currentNative: string): StateMove | null {
  const state = valueAt(revision, 'state');
  if (state === undefined || !('from' in state) || typeof state.from !== 'string' || typeof state.to !== 'string') return null;
  const native = valueAt(revision, 'nativeState');
  const label = valueAt(revision, 'nativeStateLabel');
  return {
    from: state.from as CanonicalState,
    to: state.to as CanonicalState,
    fromNative: native === undefined ? null : text(native.from),
    toNative: native === undefined ? currentNative : (text(native.to) ?? currentNative),
    fromLabel: label === undefined ? null : text(label.from),
    toLabel: label === undefined ? null : text(label.to),
  };
}

export function enforcementKey(changeId: string, revision: number, action: 'transition' | 'comment'): string {
  return `${changeId}@${revision}:enforce:${action}`;
}

export class Enforcer {
  readonly #deps: EnforcementDeps;

  constructor(deps: EnforcementDeps) {
    this.#deps = deps;
  }

  /**
   * Judges each revision's state change that has no enforcement record yet.
   * `mc` is the change as mirrored now, with changegate's own notes removed.
   * Returns the records made by this call.
   */
  async review(mc: MirroredChange, revisions: readonly Revision[]): Promise<EnforcementRecord[]> {
    const { change } = mc;
    const known = await this.#settle(change);
    const seen = new Set(known.map((r) => r.revision));
    const recognised = new Set(known.filter((r) => r.action === 'own-revert').map((r) => r.idempotencyKey));
    const reverts = known.filter(causesMove);
    const made: EnforcementRecord[] = [];
    for (const revision of revisions) {
      if (seen.has(revision.seq)) continue;
      const move = stateMove(revision, change.nativeState);
      if (move === null) continue;
      const own = reverts.find((r) => isRevertOf(r, move) && !recognised.has(r.idempotencyKey));
      if (own !== undefined) {
        recognised.add(own.idempotencyKey);
        made.push(await this.#record(mc, revision, move, 'own-revert', 'recognised', [], own.idempotencyKey, null));
        continue;
      }
      const record = await this.#judge(mc, revision, move, revisions);
      if (record === null) continue;
      made.push(record);
      // A later revision of this same batch may already show this revert.
      if (causesMove(record)) reverts.push(record);
    }
    return made;
  }

  /** A revert of this change is queued or in flight (settled first from what the outbox recorded). */
  async revertPending(change: { id: string; instance: string }): Promise<boolean> {
    return (await this.#settle(change)).some((r) => r.action === 'revert' && r.outcome === 'pending');
  }

  /**
   * Moves each pending revert record of the change to the outcome the outbox
   * recorded for its item (found by the record's idempotency key): written or
   * already done → reverted, superseded → superseded, parked as failed →
   * refused (with what the ticket system said). Returns every record, settled.
   */
  async #settle(change: { id: string; instance: string }): Promise<EnforcementRecord[]> {
    const { assessments, outbox, metrics } = this.#deps;
    const records = await assessments.listEnforcements(change.id);
    const settled: EnforcementRecord[] = [];
    for (const record of records) {
      if (record.action !== 'revert' || record.outcome !== 'pending' || record.idempotencyKey === null) {
        settled.push(record);
        continue;
      }
      const item = await outbox.get(record.idempotencyKey);
      const outcome = item === null ? null : revertOutcome(item);
      if (outcome === null || item === null) {
        settled.push(record);
        continue;
      }
      const detail = outcome === 'refused' ? (item.lastError?.message ?? null) : null;
      // False when a concurrent run settled it first: counted once, by that run.
      if (await assessments.settleEnforcement(record.idempotencyKey, outcome, detail)) {
        metrics.enforcements.inc({ instance: change.instance, action: `revert-${outcome}` });
      }
      settled.push({ ...record, outcome, detail });
    }
    return settled;
  }

  /** `later`: the revisions being reviewed, from which edits made after this one are undone. */
  async #judge(mc: MirroredChange, revision: Revision, move: StateMove, later: readonly Revision[]): Promise<EnforcementRecord | null> {
    const { change } = mc;
    const deps = this.#deps;
    // The change as submitted with the move (this revision's fields, not a later edit's), in the state it left:
    // what a before-update rule would have judged.
    // Approvals as they stood then: one decided after the move (a sync sees both at once) did not authorise it,
    // and one requested after it did not exist yet.
    const movedAt = Date.parse(revision.updatedAt);
    const submitted = changeAtRevision(change, later, revision.seq);
    const before: MirroredChange = {
      ...mc,
      change: { ...submitted, state: move.from, nativeState: move.fromNative ?? submitted.nativeState, nativeStateLabel: move.fromLabel },
      approvals: approvalsAt(mc.approvals, movedAt),
    };
    const ctx = await buildPolicyContext(
      { store: deps.store, policy: deps.policy, ...(deps.events ? { events: deps.events } : {}), ...(deps.calendars ? { calendars: deps.calendars } : {}) },
      before,
      new Date(movedAt),
    );
    const { verdict, blocking } = judgeTransition(before, move.to, ctx);
    if (verdict.allow) return null;

    const mode = deps.modeOf(change.instance);
    const observed: ObservedTransition = { key: change.key, type: change.type, from: move.from, to: move.to, fromLabel: move.fromLabel, toLabel: move.toLabel, at: revision.updatedAt };
    const names = deps.stateNames?.(change.instance);
    const denied: DeniedMove = { verdict, blocking, ...(names ? { names } : {}) };
    // Only a ticket still where the move left it is moved back; one that moved on is not fought over.
    const stillThere = change.state === move.to && change.nativeState === move.toNative;
    const base = { instance: change.instance, changeId: change.id, nativeId: change.nativeId, source: 'enforcement' as const };
    let item: NewOutboxItem;
    let record: Promise<EnforcementRecord>;
    if (mode === 'enforce' && stillThere && move.fromNative !== null) {
      const key = enforcementKey(change.id, revision.seq, 'transition');
      item = {
        ...base,
        idempotencyKey: key,
        payload: {
          action: 'transition',
          toNativeState: move.fromNative,
          expectedNativeState: move.toNative,
          noteAfter: revertedNote(observed, denied),
          noteIfRefused: revertRefusedNote(observed, denied),
        },
      };
      record = this.#record(mc, revision, move, 'revert', 'pending', verdict.reasons, key, null, verdict);
    } else {
      const key = enforcementKey(change.id, revision.seq, 'comment');
      const why = mode === 'advisory' ? 'advisory' : 'moved-on';
      item = { ...base, idempotencyKey: key, payload: { action: 'comment', note: advisoryNote(observed, denied, why) } };
      const detail = why === 'moved-on' ? `the ticket is in ${change.nativeStateLabel ?? change.nativeState} now` : null;
      record = this.#record(mc, revision, move, 'comment', 'commented', verdict.reasons, key, detail, verdict);
    }
    // Outbox first: a crash before the record re-runs this and the key keeps the write single.
    await deps.outbox.enqueue([item], deps.clock?.() ?? new Date());
    const made = await record;
    deps.logger.warn(
      { changeId: change.id, key: change.key, from: move.from, to: move.to, mode, action: made.action, reasons: verdict.reasons },
      `${change.key}: ${move.from} → ${move.to} was not allowed; ${made.action === 'revert' ? 'moving it back' : 'commenting'}`,
    );
    return made;
  }

  async #record(
    mc: MirroredChange,
    revision: Revision,
    move: StateMove,
    action: EnforcementRecord['action'],
    outcome: EnforcementOutcome,
    reasons: string[],
    key: string | null,
    detail: string | null,
    verdict?: TransitionVerdict,
  ): Promise<EnforcementRecord> {
    const deps = this.#deps;
    const record: EnforcementRecord = {
      changeId: mc.change.id,
      revision: revision.seq,
      from: move.from,
      to: move.to,
      fromNative: move.fromNative,
      toNative: move.toNative,
      mode: deps.modeOf(mc.change.instance),
      action,
      outcome,
      reasons,
      policyVersion: verdict?.policyVersion ?? deps.policy.version,
      idempotencyKey: key,
      observedAt: revision.updatedAt,
      recordedAt: (deps.clock?.() ?? new Date()).toISOString(),
      detail,
    };
    await deps.assessments.recordEnforcement(record);
    deps.metrics.enforcements.inc({ instance: mc.change.instance, action });
    return record;
  }
}

/** What a settled revert item means for its enforcement record; null while it is still to be written. */
function revertOutcome(item: OutboxItem): EnforcementOutcome | null {
  switch (item.status) {
    case 'pending':
    case 'claimed':
      return null;
    case 'done':
      return item.result === 'superseded' ? 'superseded' : 'reverted';
    case 'superseded':
      return 'superseded';
    case 'failed':
      // Refused, or given up on after retries: either way the ticket was not (knowingly) moved back.
      return 'refused';
  }
}

/**
 * A revert record that may have moved the ticket: every one but those the ticket
 * had moved away from first. One given up on after a timeout may still have
 * happened, so it counts too.
 */
function causesMove(record: EnforcementRecord): boolean {
  return record.action === 'revert' && record.outcome !== 'superseded' && record.idempotencyKey !== null && record.fromNative !== null;
}

/** Is `move` the one the revert `record` causes (it moves the ticket from where it was judged back to where it came from)? */
function isRevertOf(record: EnforcementRecord, move: StateMove): boolean {
  return move.fromNative === record.toNative && move.toNative === record.fromNative;
}
