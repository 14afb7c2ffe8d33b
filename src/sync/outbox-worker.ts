// Works the outbox: claims due items, hands each to its instance's writer, and
// settles it. The writer checks the item's marker before posting, so an item
// re-claimed after a crash or a timeout (its lease ran out) is not posted
// twice. The HTTP client already retried within the call (the shared
// classifier decides); what still fails is judged here by its error kind:
// transient and upstream failures come back later with full-jitter backoff,
// config and input failures (a business rule, a missing workflow transition,
// a gone ticket) are parked as failed at once, logged and counted.
//
// The worker tells nobody how an item ended: the outbox records it (status,
// result, last error), and whoever needs a settlement (enforcement, for its
// reverts) reads it from there. Data flows one way, from the queue to the ticket.

import type { ConnectorWriter, TicketNote, WriteOutcome } from '../kit/connector.ts';
import { asChangegateError, ChangegateError, type ErrorKind } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../observability/metrics.ts';
import { DEFAULT_OUTBOX_LEASE_MS, type NewOutboxItem, type OutboxError, type OutboxItem, type OutboxStore } from '../store/outbox-store.ts';
import { backoffMs, type RetryPolicy } from '../http/retry-classifier.ts';
import type { ClaimOwner } from '../store/claim-owner.ts';

export interface OutboxWorkerDeps {
  outbox: OutboxStore;
  writerFor: (instance: string) => ConnectorWriter | undefined;
  /** The instance's `writeBack` now (default: on). Items queued while it was on are not written once it is off. */
  writesBack?: (instance: string) => boolean;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
  leaseMs?: number;
  /** Recorded on every claim, so the next process releases this one's items at once if it dies. */
  owner?: ClaimOwner;
  batchSize?: number;
  /** Backoff between claims of a failing item (not within one call: the HTTP client does that). */
  retry?: Partial<RetryPolicy>;
  /** Poll interval of `start()`; `kick()` wakes it earlier. */
  pollMs?: number;
}

export interface DrainReport {
  claimed: number;
  written: number;
  alreadyDone: number;
  superseded: number;
  retried: number;
  failed: number;
}

export const OUTBOX_RETRY_POLICY: Readonly<RetryPolicy> = { baseMs: 5_000, maxMs: 15 * 60_000, maxAttempts: 12, maxWaitMs: 15 * 60_000 };

const PARKED_KINDS: ReadonlySet<ErrorKind> = new Set(['config', 'input']);

export type OutboxDecision = { action: 'retry'; waitMs: number } | { action: 'fail'; gaveUp: boolean };

/** Full jitter can draw zero; an item that just failed is not tried again within the same second. */
const MIN_RETRY_WAIT_MS = 1000;

/** Pure: what to do with an item whose write failed on its `attempts`-th claim. */
export function decideOutbox(error: ChangegateError, attempts: number, policy: RetryPolicy): OutboxDecision {
  if (PARKED_KINDS.has(error.kind)) return { action: 'fail', gaveUp: false };
  if (attempts >= policy.maxAttempts) return { action: 'fail', gaveUp: true };
  // A throttled write comes back no sooner than the ticket system asked (Retry-After, X-RateLimit-Reset): sooner only spends quota.
  const asked = error.details['retryAfterMs'];
  return { action: 'retry', waitMs: Math.max(MIN_RETRY_WAIT_MS, backoffMs(attempts, policy), typeof asked === 'number' ? asked : 0) };
}

function errorOf(error: ChangegateError): OutboxError {
  return { code: error.code, kind: error.kind, message: error.message };
}

/** The note posted when a move was refused carries what the ticket system said. */
function withRefusal(note: TicketNote, refusal: string): TicketNote {
  return { ...note, footer: [...(note.footer ?? []), `The ticket system said: ${refusal}`] };
}

export class OutboxWorker {
  readonly #deps: OutboxWorkerDeps;
  readonly #policy: RetryPolicy;
  #timer: NodeJS.Timeout | null = null;
  #draining: Promise<DrainReport> | null = null;
  #again = false;
  #stopped = true;
  /** The last drain ended on an error (a store fault mid-batch): items it had claimed may still be held under this owner. */
  #broken = false;

  constructor(deps: OutboxWorkerDeps) {
    this.#deps = deps;
    this.#policy = { ...OUTBOX_RETRY_POLICY, ...deps.retry };
  }

  #now(): Date {
    return this.#deps.clock?.() ?? new Date();
  }

  /** Works every item due now, claiming in batches, until none is due. One drain at a time; a call during one joins it and runs once more after. */
  drain(): Promise<DrainReport> {
    if (this.#draining) {
      this.#again = true;
      return this.#draining;
    }
    const run = (async () => {
      const total: DrainReport = { claimed: 0, written: 0, alreadyDone: 0, superseded: 0, retried: 0, failed: 0 };
      await this.#releaseStranded();
      do {
        this.#again = false;
        // Items due when this pass began: one retried during the pass waits for a later one.
        const at = this.#now();
        for (;;) {
          const items = await this.#deps.outbox.claim(this.#deps.batchSize ?? 20, at, this.#deps.leaseMs ?? DEFAULT_OUTBOX_LEASE_MS, this.#deps.owner);
          if (items.length === 0) break;
          total.claimed += items.length;
          for (const item of items) await this.#work(item, total);
        }
      } while (this.#again);
      await this.#gauge();
      return total;
    })();
    this.#draining = run;
    run.catch(() => {
      this.#broken = true;
    });
    return run.finally(() => {
      this.#draining = null;
    });
  }

  /**
   * A drain that failed midway (the store locked or full while settling an item)
   * leaves the rest of its batch claimed under this process for the whole lease,
   * and a live owner's claims are released by nobody else. Drains run one at a
   * time, so before the next one nothing of this owner is in hand: its claims go
   * back to pending. Posting again is safe: the writers look for their marker on
   * the ticket first.
   */
  async #releaseStranded(): Promise<void> {
    const owner = this.#deps.owner;
    if (!this.#broken || owner === undefined) return;
    const released = await this.#deps.outbox.releaseClaims(owner.id, this.#now());
    this.#broken = false;
    if (released > 0) this.#deps.logger.warn({ released }, `released ${released} outbox items this process claimed before a drain failed; they are worked again`);
  }

  /** Polls every `pollMs` (default 5 s) until `stop()`. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const tick = (): void => {
      this.#timer = null;
      if (this.#stopped) return;
      void this.#drainLogged().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#deps.pollMs ?? 5_000);
      });
    };
    tick();
  }

  /** Drains now rather than at the next poll (new items were queued). */
  kick(): void {
    if (!this.#stopped) void this.#drainLogged();
  }

  async #drainLogged(): Promise<void> {
    try {
      await this.drain();
    } catch (err) {
      const error = asChangegateError(err);
      this.#deps.logger.error({ code: error.code, err: error }, `outbox drain failed: ${error.message}`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#draining?.catch(() => undefined);
  }

  async #work(item: OutboxItem, total: DrainReport): Promise<void> {
    const { outbox, logger, metrics } = this.#deps;
    const token = item.claimToken as string;
    const where = { instance: item.instance, changeId: item.changeId, action: item.action, key: item.idempotencyKey, attempt: item.attempts };
    let outcome: WriteOutcome;
    try {
      const writer = this.#deps.writerFor(item.instance);
      if (writer === undefined) {
        throw new ChangegateError('CG_INSTANCE_UNKNOWN', `no writer for instance "${item.instance}": it is not configured any more`, { details: { instance: item.instance } });
      }
      if (this.#deps.writesBack?.(item.instance) === false) {
        // The operator turned it off to stop changegate writing to these tickets: what an earlier process queued is not posted either.
        throw new ChangegateError('CG_WRITE_BACK_OFF', `instance "${item.instance}" has writeBack off: this ${item.action} queued while it was on is not written to ${item.nativeId}`, {
          details: { instance: item.instance, nativeId: item.nativeId },
        });
      }
      outcome = await this.#perform(writer, item);
    } catch (err) {
      const error = asChangegateError(err);
      const decision = decideOutbox(error, item.attempts, this.#policy);
      if (decision.action === 'retry') {
        const at = new Date(this.#now().getTime() + decision.waitMs);
        await outbox.retryLater(item.id, token, at, errorOf(error), this.#now());
        total.retried += 1;
        metrics.outboxItems.inc({ instance: item.instance, action: item.action, outcome: 'retried' });
        logger.warn({ ...where, code: error.code, kind: error.kind, retryAt: at.toISOString() }, `write-back to ${item.instance} failed, retrying: ${error.message}`);
        return;
      }
      // The follow-up note is queued before the item is parked: a crash in between re-runs this, and its key keeps it single.
      if (!decision.gaveUp && error.code !== 'CG_WRITE_BACK_OFF' && item.payload.action === 'transition' && item.payload.noteIfRefused) {
        await this.#followUp(item, 'refused-note', withRefusal(item.payload.noteIfRefused, error.message));
      }
      await outbox.fail(item.id, token, errorOf(error), this.#now());
      total.failed += 1;
      metrics.outboxItems.inc({ instance: item.instance, action: item.action, outcome: decision.gaveUp ? 'gave-up' : 'failed' });
      logger.error({ ...where, code: error.code, kind: error.kind, err: error }, `write-back to ${item.instance} parked as failed: ${error.message}`);
      return;
    }
    if (item.payload.action === 'transition' && outcome !== 'superseded' && item.payload.noteAfter) {
      await this.#followUp(item, 'note', item.payload.noteAfter);
    }
    if (!(await outbox.complete(item.id, token, outcome, this.#now()))) {
      // The lease ran out and another worker holds the item: it will find the marker and settle it.
      logger.warn(where, 'outbox item was re-claimed while being written; leaving it to the new holder');
      return;
    }
    if (outcome === 'written') total.written += 1;
    else if (outcome === 'already-done') total.alreadyDone += 1;
    else total.superseded += 1;
    metrics.outboxItems.inc({ instance: item.instance, action: item.action, outcome });
    if (outcome === 'already-done') logger.info(where, 'write-back was already on the ticket (marker found); not posted again');
  }

  #perform(writer: ConnectorWriter, item: OutboxItem): Promise<WriteOutcome> {
    const p = item.payload;
    switch (p.action) {
      case 'set-verdict':
        return writer.setVerdict(item.nativeId, p.verdict, item.idempotencyKey);
      case 'comment':
        return writer.comment(item.nativeId, p.note, item.idempotencyKey, p.series === undefined ? {} : { series: p.series });
      case 'transition':
        return writer.transition(item.nativeId, p.toNativeState, item.idempotencyKey, { expectedNativeState: p.expectedNativeState });
      case 'attach':
        if (writer.attach === undefined) {
          throw new ChangegateError('CG_WRITE_REFUSED', `instance "${item.instance}" takes no attachments from changegate: ${p.file.name} is not attached`, {
            details: { instance: item.instance, nativeId: item.nativeId, file: p.file.name },
          });
        }
        return writer.attach(item.nativeId, p.file, item.idempotencyKey, p.evidence === undefined ? {} : { evidence: p.evidence });
    }
  }

  async #followUp(item: OutboxItem, suffix: string, note: TicketNote): Promise<void> {
    const next: NewOutboxItem = {
      instance: item.instance,
      changeId: item.changeId,
      nativeId: item.nativeId,
      source: item.source,
      idempotencyKey: `${item.idempotencyKey}:${suffix}`,
      payload: { action: 'comment', note },
    };
    await this.#deps.outbox.enqueue([next], this.#now());
    // This drain picks it up: a follow-up never waits for the next poll.
    this.#again = true;
  }

  async #gauge(): Promise<void> {
    const counts = await this.#deps.outbox.counts();
    for (const [status, n] of Object.entries(counts)) this.#deps.metrics.outboxQueued.set({ status }, n);
  }
}
