// Works the event inbox: each stored delivery is normalised again from its raw
// bytes, linked to the changes its events name, completed with its events in
// one step (a claimed batch together), and the linked changes re-assessed (through the runner and its
// outbox, so a ticket gets an updated note only when a decision moved), with
// the active changes the events reach by the correlator's commit and service
// rules (a run on a linked commit or a service's repository, an alert on a
// service), at most MAX_REACHED per delivery. Alerts
// on changes in hypercare are handed to the hypercare watch, which posts them
// and links them, so those changes are re-assessed too. Completed CI runs and
// deployments are recorded in the ledger of each change they are linked to.
// Triggered after every accepted delivery, on start (what a crash left stored
// but unprocessed) and on a timer (leases run out, retries due).

import { asChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ClaimOwner } from '../store/claim-owner.ts';
import { CHANGE_KEY_RULE, type EventDelivery, type EventLink, type EventStore, type StoredEvent } from '../store/event-store.ts';
import type { IngestedEvents } from './ingested-events.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';
import type { Correlator } from './correlate.ts';
import { recordEventEvidence } from './event-evidence.ts';
import { deliveryJson, type EventEnricher, type EventSourceKind } from './event-source-kit.ts';
import { isHeartbeat } from './heartbeat.ts';
import { normaliseResults, RESULTS_KIND } from './results/results-delivery.ts';

export interface EventProcessorDeps {
  events: EventStore;
  kindOf(kind: string): EventSourceKind | undefined;
  correlator: Correlator;
  /** Adds what the events point at (a GitHub run's artifacts) before they are stored; absent: nothing is added. */
  enrich?: EventEnricher | undefined;
  /** Re-assesses a change whose evidence moved. */
  reassess(changeId: string): Promise<unknown>;
  /** The ITSM instances whose active changes the events may reach by the correlator's rules; absent: only linked changes are re-assessed at once (the others at the clock pass). */
  instances?: readonly string[] | undefined;
  /** Posts and records alerts on changes in hypercare (src/assess/hypercare-watch.ts); returns the links it made. */
  hypercare?: { observe(stored: readonly StoredEvent[], now: Date): Promise<EventLink[]> };
  /** The evidence ledger completed CI runs and deployments are recorded in per linked change (src/events/event-evidence.ts); absent: nothing is recorded. */
  evidence?: Pick<EvidenceStore, 'append'> | undefined;
  logger: Logger;
  /** What this process's ingestion route already normalised (src/events/ingested-events.ts); absent: every delivery is normalised from its bytes. */
  ingested?: Pick<IngestedEvents, 'take'> | undefined;
  /** Recorded on every claim, so the next process (or a replica) releases this one's deliveries at once if it dies. */
  owner?: ClaimOwner | undefined;
  clock?: () => Date;
  pollMs?: number;
  maxAttempts?: number;
}

/** Changes re-assessed at once per delivery for what its events reach by rule; more wait for the clock pass. */
export const MAX_REACHED = 200;

export class EventProcessor {
  readonly #deps: EventProcessorDeps;
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(deps: EventProcessorDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.kick();
    this.#timer ??= setInterval(() => this.kick(), this.#deps.pollMs ?? 5_000);
    this.#timer.unref();
  }

  kick(): void {
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = this.drain()
      .then(() => undefined)
      .catch((err: unknown) => this.#deps.logger.error({ err }, 'processing event deliveries failed'))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#again = false;
    await this.#running;
  }

  /** Processes every delivery due now; returns how many were claimed. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await this.#deps.events.claim(50, this.#now(), this.#deps.owner === undefined ? {} : { owner: this.#deps.owner });
      if (batch.length === 0) return total;
      total += batch.length;
      await this.#processBatch(batch);
    }
  }

  #now(): Date {
    return this.#deps.clock?.() ?? new Date();
  }

  /**
   * Prepares each delivery of a claimed batch in order (normalised, linked) and
   * completes them together, then re-assesses each change they touched once
   * (linked, or reached by the correlator's rules).
   * Before a delivery with alerts is prepared, those before it are completed:
   * the hypercare watch reads what they stored (a production deploy, an earlier
   * state of the same alert).
   */
  async #processBatch(batch: readonly EventDelivery[]): Promise<void> {
    const now = this.#now();
    const ready: Prepared[] = [];
    const flush = async (): Promise<void> => {
      const done = ready.splice(0);
      if (done.length === 0) return;
      try {
        await this.#deps.events.completeAll(done.map((p) => ({ id: p.delivery.id, events: p.events })), now);
      } catch (err) {
        for (const p of done) await this.#failed(p.delivery, err, now);
        return;
      }
      const changeIds = new Set(done.flatMap((p) => p.changeIds));
      for (const changeId of await this.#reached(done, now)) changeIds.add(changeId);
      for (const changeId of changeIds) {
        await this.#deps.reassess(changeId).catch((err: unknown) => this.#deps.logger.error({ err, changeId }, `re-assessing ${changeId} after a new event failed`));
      }
    };
    for (const delivery of batch) {
      const prepared = await this.#prepare(delivery, now, flush);
      if (prepared !== null) ready.push(prepared);
    }
    await flush();
  }

  /**
   * The active changes the completed deliveries' events reach by the correlator's rules (not linked, so found
   * again here): one look-up for the flush, at most MAX_REACHED for each delivery with events.
   */
  async #reached(done: readonly Prepared[], now: Date): Promise<string[]> {
    const instances = this.#deps.instances;
    const withEvents = done.filter((p) => p.events.length > 0);
    if (instances === undefined || instances.length === 0 || withEvents.length === 0) return [];
    try {
      return await this.#deps.correlator.changesMatching(withEvents.flatMap((p) => p.events), instances, now, MAX_REACHED * withEvents.length);
    } catch (err) {
      // The deliveries are stored and their events are evidence already: the clock pass re-assesses those changes.
      const ids = withEvents.map((p) => p.delivery.id);
      this.#deps.logger.error({ err, deliveries: ids }, `finding the changes ${ids.length} event deliveries reach failed (${ids[0]} first); they wait for the clock pass`);
      return [];
    }
  }

  async #prepare(delivery: EventDelivery, now: Date, flush: () => Promise<void>): Promise<Prepared | null> {
    const { events, correlator } = this.#deps;
    try {
      const stored = { headers: delivery.headers, rawBody: delivery.rawBody };
      // A results upload (JUnit, SARIF) is read from its bytes whatever its source's kind.
      const kind = delivery.kind === RESULTS_KIND ? null : this.#deps.kindOf(delivery.kind);
      if (kind === undefined) {
        await events.fail(delivery.id, `no event source kind "${delivery.kind}" in this build`, null, now);
        return null;
      }
      const said =
        kind === null
          ? normaliseResults(delivery.source, stored)
          : (this.#deps.ingested?.take(delivery.id) ?? kind.normalise(delivery.source, stored, JSON.parse(deliveryJson(kind, stored).bytes.toString('utf8'))));
      const stamp = { source: delivery.source, deliveryId: delivery.deliveryId, receivedAt: delivery.receivedAt };
      const beats = said.monitor.filter(isHeartbeat);
      const normalised: StoredEvent[] = [
        ...said.ci.map((event): StoredEvent => ({ type: 'ci', id: event.id, ...stamp, event })),
        ...said.monitor.filter((e) => !isHeartbeat(e)).map((event): StoredEvent => ({ type: 'monitor', id: event.id, ...stamp, event })),
      ];
      const lastAttempt = delivery.attempts >= (this.#deps.maxAttempts ?? 8);
      const toStore = this.#deps.enrich === undefined ? normalised : await this.#deps.enrich(delivery.source, normalised, { final: lastAttempt });
      if (toStore.some((e) => e.type === 'monitor')) await flush();
      // Linked before completing: a crash in between processes the delivery again, and links are idempotent.
      const links = await correlator.linksFor(toStore, now);
      // Before completing too: its notes and ledger entries are keyed, so processing again posts nothing twice.
      if (this.#deps.hypercare !== undefined) links.push(...(await this.#deps.hypercare.observe(toStore, now)));
      if (this.#deps.evidence !== undefined) await recordEventEvidence(this.#deps.evidence, toStore, links);
      // A run stored before may name other keys now (it completed naming another change, a corrected payload):
      // the changes it named keep it only while it still does (linkHolds), so they are re-assessed too.
      const namedBefore = await this.#namedBefore(toStore);
      if (links.length > 0) await events.link(links);
      if (beats.length > 0) await events.heartbeat(delivery.source, delivery.receivedAt);
      return { delivery, events: toStore, changeIds: [...links.map((l) => l.changeId), ...namedBefore] };
    } catch (err) {
      await this.#failed(delivery, err, now);
      return null;
    }
  }

  /** The changes these CI events were linked to before by the change keys they named. */
  async #namedBefore(stored: readonly StoredEvent[]): Promise<string[]> {
    const ids: string[] = [];
    for (const e of stored) {
      if (e.type !== 'ci') continue;
      for (const link of await this.#deps.events.linkedChanges(e.id)) if (link.rule === CHANGE_KEY_RULE) ids.push(link.changeId);
    }
    return ids;
  }

  async #failed(delivery: EventDelivery, err: unknown, now: Date): Promise<void> {
    const e = asChangegateError(err);
    // A body its source cannot use will not become usable: give up at once. Anything else is retried with backoff.
    const final = e.code === 'CG_EVENT_INVALID' || err instanceof SyntaxError || delivery.attempts >= (this.#deps.maxAttempts ?? 8);
    const retryAt = final ? null : new Date(now.getTime() + Math.min(600_000, 2_000 * 2 ** (delivery.attempts - 1)));
    this.#deps.logger.warn({ err: e, delivery: delivery.id }, `event delivery ${delivery.id} ${final ? 'failed' : 'will be retried'}: ${e.message}`);
    await this.#deps.events.fail(delivery.id, `${e.code}: ${e.message}`, retryAt, now);
  }
}

interface Prepared {
  delivery: EventDelivery;
  events: StoredEvent[];
  changeIds: string[];
}
