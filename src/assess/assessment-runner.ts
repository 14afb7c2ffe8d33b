// Re-runs the policy for a change whenever the mirror holds something new
// about it (and on demand), stores the Assessment, and queues write-back only
// when the outcome differs from what the ticket already shows: re-syncing a
// revision, or a revision that changes nothing the policy reads (changegate's
// own verdict fields and notes among them), writes nothing to the ticket.
//
// Two hashes keep it quiet. The input hash covers what the policy reads from
// the mirror (the change without its bookkeeping fields, approvals, journal
// without changegate's notes, the policy version): when it is unchanged the
// change is not re-assessed at all, which also stops reasons that mention the
// clock ("3 h left") from turning an echo of our own write into a new outcome.
// The outcome hash covers the decision (gate results and reasons, allowed
// transitions, recommendation, violations): write-back follows its changes.

import type { KeyObject } from 'node:crypto';
import type { Assessment } from '../domain/assessment.ts';
import { instanceOfChangeId, type Change, type MirroredChange } from '../domain/change.ts';
import { asChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { assess, assessedStates } from '../policy/assess.ts';
import { isTerminal } from '../policy/lifecycle.ts';
import type { Calendar } from '../policy/calendar.ts';
import type { Policy } from '../policy/policy-config.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AssessmentStore, EnforcementMode, EnforcementRecord, StoredAssessment } from '../store/assessment-store.ts';
import { perItemAssessmentWriter, type AssessmentWriter, type AssessmentWrites } from '../store/assessment-writes.ts';
import type { ChangeStore } from '../store/change-store.ts';
import { contentHash } from '../store/content-hash.ts';
import type { NewOutboxItem, OutboxStore } from '../store/outbox-store.ts';
import { Enforcer } from './enforcement.ts';
import type { EvidenceDraft } from '../evidence/evidence-entry.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';
import { assessmentDraft, enforcementDraft, revisionDraft } from './evidence-drafts.ts';
import { approvalAndWaiverDrafts } from './approval-waiver-drafts.ts';
import { waiversFor } from '../policy/policy-config.ts';
import { queueEvidencePublication } from './evidence-publication.ts';
import { buildPolicyContext, judgedChange, readsNeighbours, type EventSource } from './policy-context.ts';
import type { StateNamer } from '../kit/ticket-note.ts';
import { assessmentNote, namerFor, ticketVerdict } from './verdict-text.ts';
import { saveClearance } from './save-clearance.ts';

export interface AssessmentRunnerDeps {
  store: ChangeStore;
  assessments: AssessmentStore;
  outbox: OutboxStore;
  policy: Policy;
  events?: EventSource;
  /** Calendars read from the ITSM (ServiceNow blackout and maintenance schedules), merged with the policy's. */
  calendars?: (instance: string) => Calendar | null;
  /** The instance's `enforcement` setting; reactive enforcement is off for an instance this answers null for. */
  modeOf: (instance: string) => EnforcementMode | null;
  /** How each instance's site names the states (its mapping), for notes and verdicts; canonical labels without it. */
  stateNames?: (instance: string) => StateNamer;
  /** The instance's `writeBack` setting (default: every instance writes back). Off: assess and store only, no verdict, note or enforcement. */
  writesBack?: (instance: string) => boolean;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
  /** Told after write-back was queued (wakes the outbox worker); a one-way notice, nothing comes back through it. */
  onEnqueued?: () => void;
  /** Told when assessing a change a sync wrote failed; the change stays owed (the owed pass retries it). */
  onFailed?: (changeId: string) => void;
  /** The evidence ledger: state moves, approval decisions, waiver steps, decisions that changed and enforcement actions are appended to it. */
  evidence?: EvidenceStore;
  /** The deployment's evidence signing key (`evidence.signingKey`): the bundles attached to tickets are signed with it. */
  evidenceSigningKey?: KeyObject | null;
  /** Stores several assessments' writes at once (the store bundle's; default: item by item through the ports above). */
  writer?: AssessmentWriter;
}

/**
 * How many of the changes a sync wrote are assessed before their writes are stored together (one transaction on SQLite).
 * A page's worth (1,000, the usual page size): each transaction rewrites the index pages its changes land on (the
 * ledger's and the assessments' are keyed by change id, so at random), and fewer, larger transactions rewrite them
 * less often. At 100,000 changes, 1,000 wrote 8% fewer bytes and took about 5% less CPU than 250.
 */
export const WRITE_BATCH = 1_000;

/** An assessment whose writes wait for its batch, and what to report once they are stored. */
interface Pending {
  writes: AssessmentWrites;
  result: RunResult;
  instance: string;
  outcome: 'unchanged' | 'changed' | 'same';
}

export interface AssessOptions {
  /** Assess even when nothing the policy reads from the mirror changed (new events, a policy reload). */
  force?: boolean;
  /**
   * Only time has passed (a window opened, hypercare elapsed, a freeze ended):
   * re-evaluate, but store and write back only when the decision changed (a
   * gate's result, the allowed transitions, the recommendation, the
   * violations), not when only a reason's wording moved with the clock
   * ("23 h away" → "22 h away"), so the ticket gets no comment every tick.
   */
  clockTick?: boolean;
  /**
   * The sync that wrote the change is still running: a change whose verdict
   * reads other changes (the overlap gate's neighbours, maybe on a later page)
   * is left owed, for the pass at the end of the run; the others are judged now.
   */
  midRun?: boolean;
}

export interface RunResult {
  changeId: string | null;
  /**
   * `assessed`: evaluated and stored; `unchanged`: inputs as last assessed, nothing done; `reverting`: a revert is queued,
   * assessment waits for it; `deferred`: left owed until the sync that wrote it ends (`midRun`); `missing`: no such change.
   */
  status: 'assessed' | 'unchanged' | 'reverting' | 'deferred' | 'missing';
  assessment: Assessment | null;
  outcomeChanged: boolean;
  /** Idempotency keys queued by this run (enforcement included). */
  enqueued: string[];
  enforcements: EnforcementRecord[];
}

/** Fields that move with every write, ours included, and tell the policy nothing. */
function decisionInputs(change: Change): Omit<Change, 'updatedAt' | 'nativeRevision' | 'raw'> {
  const { updatedAt: _u, nativeRevision: _n, raw: _r, ...rest } = change;
  return rest;
}

export function outcomeHash(a: Assessment): string {
  return contentHash({
    state: a.state,
    gates: a.gates.map((g) => ({ id: g.id, into: g.into, result: g.result, reason: g.reason })),
    allowedTransitions: a.allowedTransitions,
    recommendation: a.scorecard.recommendation,
    conditions: a.scorecard.conditions,
    violations: a.violations,
  });
}

/** The decision without its wording: what a clock tick must change before anything is stored or written. */
export function decisionHash(a: Assessment): string {
  return contentHash({
    state: a.state,
    gates: a.gates.map((g) => ({ id: g.id, into: g.into, result: g.result })),
    allowedTransitions: a.allowedTransitions,
    recommendation: a.scorecard.recommendation,
    violations: a.violations.map((v) => ({ gate: v.gate, state: v.state })),
  });
}

export function writeBackKey(changeId: string, revision: number, hash: string, action: 'set-verdict' | 'comment'): string {
  const [digest = '', again] = hash.split(RECURRENCE);
  return `${changeId}@${revision}:${digest.slice(0, 16)}${again === undefined ? '' : `${RECURRENCE}${again}`}:${action}`;
}

/**
 * Marks an outcome stored again at a revision that had it before a different one (`<hash>~<n>`): the approval
 * given and then reset, a neighbour booked into the window and moved out again, all without a new revision.
 * The assessment, its write-back and its ledger entry are keyed by (revision, outcome); under the plain hash
 * all three would be taken for the first time's, and the ticket would keep the outcome in between.
 */
const RECURRENCE = '~';

/** The outcome a stored hash stands for, with any recurrence mark dropped. */
function outcomeOf(stored: string | undefined): string | undefined {
  return stored?.split(RECURRENCE)[0];
}

export class AssessmentRunner {
  readonly #deps: AssessmentRunnerDeps;
  readonly #enforcer: Enforcer;
  /** One run per change at a time: the engine hook and an on-demand call must not interleave. */
  readonly #running = new Map<string, Promise<RunResult>>();
  readonly #writer: AssessmentWriter;

  constructor(deps: AssessmentRunnerDeps) {
    this.#deps = deps;
    this.#writer = deps.writer ?? perItemAssessmentWriter({ changes: deps.store, assessments: deps.assessments, outbox: deps.outbox, evidence: deps.evidence });
    this.#enforcer = new Enforcer({
      store: deps.store,
      assessments: deps.assessments,
      outbox: deps.outbox,
      policy: deps.policy,
      ...(deps.events ? { events: deps.events } : {}),
      ...(deps.calendars ? { calendars: deps.calendars } : {}),
      modeOf: (instance) => deps.modeOf(instance) ?? 'advisory',
      ...(deps.stateNames ? { stateNames: deps.stateNames } : {}),
      logger: deps.logger,
      metrics: deps.metrics,
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
  }

  /**
   * The sync engine's hook: assess every change a run wrote, once each, and store
   * the writes of each WRITE_BATCH of them together. Never throws; failures are
   * logged and counted per change, and a failed change stays owed.
   */
  async onChangesWritten(instance: string, changeIds: readonly string[], context?: { midRun: boolean }): Promise<void> {
    await this.assessAll(instance, changeIds, context?.midRun === true ? { midRun: true } : {});
  }

  /**
   * Assesses each of `changeIds` (of one instance) once, storing the writes of each
   * WRITE_BATCH together: the path of a sync's changes, a webhook's re-fetch and
   * the clock pass. Never throws; says how many got a new assessment and how many failed.
   */
  async assessAll(instance: string, changeIds: readonly string[], options: AssessOptions = {}): Promise<{ assessed: number; failed: number }> {
    // In one order for every caller. A batch holds each change it has assessed until the batch is
    // stored; two batches over the same changes in different orders (a sync's pages and the clock
    // pass) would each hold a change the other waits for, and neither would ever finish.
    const ids = [...new Set(changeIds)].toSorted();
    const report = { assessed: 0, failed: 0 };
    for (let at = 0; at < ids.length; at += WRITE_BATCH) await this.#assessBatch(instance, ids.slice(at, at + WRITE_BATCH), options, report);
    return report;
  }

  async #assessBatch(instance: string, ids: readonly string[], options: AssessOptions, report: { assessed: number; failed: number }): Promise<void> {
    const batch: Pending[] = [];
    let assessed = 0;
    const { promise: stored, resolve: release } = Promise.withResolvers<void>();
    try {
      for (const id of ids) {
        try {
          const result = await this.#serialised(id, () => this.#assess(id, options, batch), stored);
          if (result.status === 'assessed') assessed++;
        } catch (err) {
          report.failed++;
          this.#failed(instance, [id], err);
        }
        // Requests and webhooks are served between changes (node:sqlite answers synchronously).
        await new Promise((resolve) => setImmediate(resolve));
      }
      let queued: string[][];
      try {
        queued = await this.#writer.write(batch.map((p) => p.writes));
      } catch (err) {
        report.failed += batch.length;
        report.assessed += assessed - batch.filter((p) => p.result.status === 'assessed').length;
        this.#failed(instance, batch.map((p) => p.writes.changeId), err);
        return;
      }
      report.assessed += assessed;
      batch.forEach((p, i) => this.#settle(p, queued[i] ?? []));
      if (batch.some((p) => p.result.enqueued.length > 0)) this.#deps.onEnqueued?.();
    } finally {
      release();
    }
  }

  #failed(instance: string, changeIds: readonly string[], err: unknown): void {
    const error = asChangegateError(err);
    this.#deps.metrics.assessments.inc({ instance, outcome: 'error' }, changeIds.length);
    const what = changeIds.length === 1 ? (changeIds[0] as string) : `${changeIds.length} changes (${changeIds[0]} to ${changeIds.at(-1)})`;
    this.#deps.logger.error({ instance, changeIds, code: error.code, err: error }, `assessing ${what} failed: ${error.message}`);
    for (const id of changeIds) this.#deps.onFailed?.(id);
  }

  /** Stored: what the run queued is in its result, and it is counted. */
  #settle(pending: Pending, queued: readonly string[]): void {
    pending.result.enqueued.push(...queued);
    this.#deps.metrics.assessments.inc({ instance: pending.instance, outcome: pending.outcome });
  }

  /** Stores an assessment's writes now, or leaves them to its batch. */
  async #finish(batch: Pending[] | null, pending: Pending): Promise<RunResult> {
    if (batch !== null) {
      batch.push(pending);
      return pending.result;
    }
    const [queued = []] = await this.#writer.write([pending.writes]);
    this.#settle(pending, queued);
    if (pending.result.enqueued.length > 0) this.#deps.onEnqueued?.();
    return pending.result;
  }

  /**
   * Appends to the change's ledger in order; a replayed key (a run repeated after a crash) is kept once by the store.
   * Says whether a state move was among the drafts, appended now or by a run that died before queueing its summary
   * (the summary's key keeps it single either way).
   */
  async #record(changeId: string, drafts: readonly ({ draft: EvidenceDraft; key: string } | null)[]): Promise<boolean> {
    const ledger = this.#deps.evidence;
    if (ledger === undefined) return false;
    let moved = false;
    for (const item of drafts) {
      if (item === null) continue;
      await ledger.append(changeId, item.draft, item.key);
      moved ||= item.draft.kind === 'revision';
    }
    return moved;
  }

  /**
   * Queues the evidence summary and the bundle for the ticket when the policy asks
   * for them now: on each state move, or when the change has entered Review or
   * Closed; never by itself under `never` or `on-demand` (`changegate evidence
   * publish` queues it then). Keyed by the head hash (src/assess/evidence-publication.ts),
   * so the same summary and bundle are never posted twice.
   */
  async #queueEvidenceNote(change: Change, moved: boolean, now: Date): Promise<string[]> {
    const deps = this.#deps;
    const when = deps.policy.evidence.note;
    if (deps.evidence === undefined || when === 'never' || when === 'on-demand' || !moved) return [];
    if (when === 'review-and-closed' && change.state !== 'review' && change.state !== 'closed') return [];
    return queueEvidencePublication(deps.outbox, change, await deps.evidence.list(change.id), now, deps.evidenceSigningKey ?? null);
  }

  assessChange(idOrKey: string, options: AssessOptions = {}): Promise<RunResult> {
    return this.#serialised(idOrKey, () => this.#assess(idOrKey, options, null));
  }

  /** One run per change at a time. A batched run holds its change until the batch is stored: the next run must see its writes. */
  #serialised(idOrKey: string, fn: () => Promise<RunResult>, stored?: Promise<void>): Promise<RunResult> {
    const previous = this.#running.get(idOrKey) ?? Promise.resolve(null);
    const run = previous.then(fn, fn);
    const held = stored === undefined ? run : run.then((result) => stored.then(() => result));
    this.#running.set(idOrKey, held);
    void held.finally(() => {
      if (this.#running.get(idOrKey) === held) this.#running.delete(idOrKey);
    }).catch(() => undefined);
    return run;
  }

  /**
   * The change as mirrored, with the version of its instance's mirror read before it: what the assessment
   * read is at least that new, so a note taken as of it cannot cover a page stored after the read.
   */
  async #read(idOrKey: string): Promise<{ mirrored: MirroredChange; asOf: number } | null> {
    const store = this.#deps.store;
    const instance = instanceOfChangeId(idOrKey);
    // A ticket key names no instance: the change is found first, then read again after its instance's version.
    const id = instance === null ? (await store.getChange(idOrKey, { withoutRaw: true, keep: false, children: { approvals: false, journal: false } }))?.change.id : idOrKey;
    if (id === undefined) return null;
    const asOf = await store.mirrorVersion(instance ?? (instanceOfChangeId(id) as string));
    // Without the source payload: no gate, rule or note reads it. A change is read once per run: a kept entry
    // answers, but the read does not fill the cache (a sync's last pass would fill it with changes read once).
    const mirrored = await store.getChange(id, { withoutRaw: true, keep: false });
    return mirrored === null ? null : { mirrored, asOf };
  }

  /**
   * `outcome`, or `outcome~n` when this revision stored it before another (n: the revision's assessments so far,
   * so each recurrence is new, and a replay after a crash repeats it). Read only when the outcome moved within a revision.
   */
  async #recurrence(changeId: string, revision: number, outcome: string): Promise<string> {
    const atRevision = (await this.#deps.assessments.listAssessments(changeId)).filter((a) => a.revision === revision);
    return atRevision.some((a) => outcomeOf(a.outcomeHash) === outcome) ? `${outcome}${RECURRENCE}${atRevision.length}` : outcome;
  }

  async #assess(idOrKey: string, options: AssessOptions, batch: Pending[] | null): Promise<RunResult> {
    const deps = this.#deps;
    const read = await this.#read(idOrKey);
    if (read === null) return { changeId: null, status: 'missing', assessment: null, outcomeChanged: false, enqueued: [], enforcements: [] };
    const { mirrored, asOf } = read;
    const { change } = mirrored;
    if (options.midRun === true && readsNeighbours(change, assessedStates(change))) {
      return { changeId: change.id, status: 'deferred', assessment: null, outcomeChanged: false, enqueued: [], enforcements: [] };
    }
    const judged: MirroredChange = judgedChange(mirrored);
    // The latest revision's seq, not every revision with its diff: only enforcement reads diffs, and only the new ones.
    const revision = await deps.store.lastRevisionSeq(change.id);
    const last = await deps.assessments.latestAssessment(change.id);
    const result: RunResult = { changeId: change.id, status: 'unchanged', assessment: null, outcomeChanged: false, enqueued: [], enforcements: [] };

    const writesBack = deps.writesBack?.(change.instance) ?? true;
    const enforcing = last !== null && writesBack && deps.modeOf(change.instance) !== null;
    // The ledger records every instance's state moves, read-only ones and ones without enforcement too (a first revision moves nothing).
    const since = last?.revision ?? 1;
    const unseen = (enforcing || deps.evidence !== undefined) && revision > since ? await deps.store.listRevisions(change.id, { after: since }) : [];
    const moved = await this.#record(change.id, unseen.map((r) => revisionDraft(change, r)));
    // The first assessment of a change is its baseline: history before changegate watched it is not enforced.
    if (enforcing) {
      result.enforcements = await this.#enforcer.review(judged, unseen);
      const at = (deps.clock?.() ?? new Date()).toISOString();
      await this.#record(change.id, result.enforcements.map((e) => enforcementDraft(change, e, at)));
      result.enqueued.push(...result.enforcements.filter((e) => e.action !== 'own-revert' && e.idempotencyKey !== null).map((e) => e.idempotencyKey as string));
      if (await this.#enforcer.revertPending(change)) {
        // The ticket is about to move back; a verdict for where it is now would be stale on arrival.
        result.status = 'reverting';
        if (result.enqueued.length > 0) deps.onEnqueued?.();
        return result;
      }
    }

    // What the ticket shows (or is about to): write-back follows changes against it, not against the last run.
    const shown = last === null || last.wroteBack ? last : await deps.assessments.latestWrittenBack(change.id);
    // A change first seen already finished needs no verdict: nothing is left to block.
    const wanted = writesBack && !(shown === null && isTerminal(change.state));
    const inputHash = contentHash({ change: decisionInputs(change), approvals: judged.approvals, journal: judged.journal, policy: deps.policy.version });
    const settled = last !== null && last.inputHash === inputHash && (!wanted || shown?.outcomeHash === last.outcomeHash);
    const now = deps.clock?.() ?? new Date();
    // Stored with the assessment's own writes, in its batch: before its entry in the ledger, as they happened before it.
    const decided =
      deps.evidence === undefined
        ? []
        : await approvalAndWaiverDrafts(deps.evidence, {
            change,
            approvals: mirrored.approvals,
            waivers: waiversFor(deps.policy, change),
            inputsChanged: last?.inputHash !== inputHash,
            policyChanged: last !== null && last.policyVersion !== deps.policy.version,
            firstAssessment: last === null,
            now,
          });
    if (!options.force && !options.clockTick && settled) {
      // Looked at: the revision is no longer owed (an echo of our own write changes nothing the policy reads).
      const writes: AssessmentWrites = { changeId: change.id, outbox: [], queuedAt: now, evidence: decided, assessment: null, assessedRevision: revision, assessedAsOf: asOf };
      return this.#finish(batch, { writes, result, instance: change.instance, outcome: 'unchanged' });
    }

    const ctx = await buildPolicyContext(
      { store: deps.store, policy: deps.policy, ...(deps.events ? { events: deps.events } : {}), ...(deps.calendars ? { calendars: deps.calendars } : {}) },
      judged,
      now,
      // Only what the gates this change can meet read: a change that can enter no gated state looks up no neighbours.
      { states: assessedStates(change) },
    );
    const assessment = assess(judged, ctx);
    if (options.clockTick && !options.force && settled && last !== null && decisionHash(last.assessment) === decisionHash(assessment)) {
      // A waiver that reached its end: its entry is owed though the decision stands.
      if (decided.length > 0) await this.#record(change.id, decided);
      deps.metrics.assessments.inc({ instance: change.instance, outcome: 'unchanged' });
      if (result.enqueued.length > 0) deps.onEnqueued?.();
      return result;
    }
    const outcome = outcomeHash(assessment);
    result.status = 'assessed';
    result.assessment = assessment;
    result.outcomeChanged = outcomeOf(last?.outcomeHash) !== outcome;
    const write = wanted && outcomeOf(shown?.outcomeHash) !== outcome;
    // Within a revision: a new outcome may be one it had before (keyed again), the same one is the latest's row,
    // which then stands for these inputs too (so the next look with them is settled).
    const sameRevision = last !== null && last.revision === revision;
    const hash = !sameRevision ? outcome : result.outcomeChanged ? await this.#recurrence(change.id, revision, outcome) : last.outcomeHash;
    const outbox: NewOutboxItem[] = [];
    if (write) {
      const names = namerFor(change, deps.stateNames?.(change.instance));
      const verdict = ticketVerdict(assessment, change.type, names, saveClearance(deps.policy, change, assessment.classification));
      const base = { instance: change.instance, changeId: change.id, nativeId: change.nativeId, source: 'assessment' as const };
      outbox.push(
        { ...base, idempotencyKey: writeBackKey(change.id, revision, hash, 'set-verdict'), payload: { action: 'set-verdict', verdict } },
        { ...base, idempotencyKey: writeBackKey(change.id, revision, hash, 'comment'), payload: { action: 'comment', note: assessmentNote(assessment, verdict, change.type, names), series: { name: 'verdict', digest: decisionHash(assessment).slice(0, 16) } } },
      );
    }
    const stored: StoredAssessment = {
      changeId: change.id,
      revision,
      policyVersion: deps.policy.version,
      outcomeHash: hash,
      inputHash,
      evaluatedAt: assessment.evaluatedAt,
      // An unchanged outcome is already on the ticket: this assessment stands for it too.
      wroteBack: write || (wanted && outcomeOf(shown?.outcomeHash) === outcome),
      assessment,
    };
    // Stored in this order (assessment-writes.ts): write-back queued, then the ledger entry, then the assessment,
    // then the owed marker; a crash before the marker assesses again, and the keys keep each write single.
    const writes: AssessmentWrites = {
      changeId: change.id,
      outbox,
      queuedAt: now,
      evidence: result.outcomeChanged && deps.evidence !== undefined ? [...decided, assessmentDraft(change, assessment, revision, hash)] : decided,
      assessment: stored,
      assessedRevision: revision,
      assessedAsOf: asOf,
    };
    const pending: Pending = { writes, result, instance: change.instance, outcome: write ? 'changed' : 'same' };
    if (!(writesBack && moved)) return this.#finish(batch, pending);
    // A state move queues the evidence summary, which reads the ledger with this assessment's entry in it:
    // stored now, the summary queued, and only then the revision is no longer owed.
    const [queued = []] = await this.#writer.write([{ ...writes, assessedRevision: null }]);
    result.enqueued.push(...queued, ...(await this.#queueEvidenceNote(change, moved, now)));
    await deps.store.noteAssessed(change.id, revision, asOf);
    deps.metrics.assessments.inc({ instance: change.instance, outcome: write ? 'changed' : 'same' });
    if (result.enqueued.length > 0) deps.onEnqueued?.();
    return result;
  }
}
