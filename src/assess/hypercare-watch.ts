// The hypercare watch (seed §8.8): from a change's production deploy until its
// hypercare ends, each alert or incident on one of its services is posted to
// the ticket (a ServiceNow work note, a Jira comment) once when it fires and
// once when it resolves (again for each time it fires again, such as a
// reopened PagerDuty incident), recorded in the change's evidence ledger, and linked
// to the change so it is re-assessed (a critical alert holds closure through
// `closed.no-alerts` until it resolves).
//
// Called by the event processor before it completes the delivery: a crash in
// between processes the delivery again, and every write here is keyed (the
// outbox item and the ledger entry per change, alert and status; the link per
// event and change), so nothing is posted or recorded twice.

import type { Change } from '../domain/change.ts';
import type { MonitorEvent, Severity } from '../domain/events.ts';
import type { EvidenceDraft } from '../evidence/evidence-entry.ts';
import type { Correlator } from '../events/correlate.ts';
import { serviceKey, type ServicesMapping } from '../events/services-mapping.ts';
import type { TicketNote } from '../kit/connector.ts';
import type { Logger } from '../log.ts';
import { hypercareWindow, type HypercareWindow } from '../policy/hypercare.ts';
import { resolveRules, type Policy } from '../policy/policy-config.ts';
import { assessRisk, classify } from '../policy/risk.ts';
import { formatDuration, formatUtc } from '../policy/zoned-time.ts';
import type { ChangeStore } from '../store/change-store.ts';
import { settle, type EventLink, type EventStore, type StoredEvent } from '../store/event-store.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';
import type { NewOutboxItem, OutboxStore } from '../store/outbox-store.ts';

export interface HypercareWatchDeps {
  changes: Pick<ChangeStore, 'listActiveChangesTouching'>;
  events: Pick<EventStore, 'getEvent'>;
  correlator: Pick<Correlator, 'eventsFor'>;
  services: ServicesMapping;
  policy: Policy;
  outbox: OutboxStore;
  evidence?: EvidenceStore;
  /** The configured ITSM instances, searched for changes on the alert's services. */
  instances: readonly string[];
  /** The instance's `writeBack` setting: off, the alert is recorded and linked, nothing is posted. */
  writesBack: (instance: string) => boolean;
  logger: Logger;
  /** Told after a note was queued (wakes the outbox worker). */
  onEnqueued?: () => void;
}

/** Changes on one service in hypercare at once: more than this on one service is a report for a human, not for notes. */
const PER_SERVICE = 200;
/** Labels an alert names its service by, besides the source's own `service` (as `firingOn` reads them). */
const SERVICE_LABELS = ['service', 'app', 'application', 'component', 'ci'];

/** The service names an alert may go by: its own, and those the services mapping gives for its labels. */
export function alertServiceNames(event: MonitorEvent, services: ServicesMapping): string[] {
  const own = [event.service, ...SERVICE_LABELS.map((k) => event.labels[k])].filter((v): v is string => typeof v === 'string' && v.trim() !== '');
  const mapped = Object.entries(services)
    .filter(([, entry]) => Object.entries(entry.alertLabels).some(([label, value]) => event.labels[label] === value || event.service === value))
    .map(([name]) => name);
  return [...new Set([...own, ...mapped])];
}

/**
 * Per change, alert and status: the same alert firing again later (a new start: Alertmanager's `startsAt`, a reopened
 * PagerDuty incident's reopening) is a new firing, posted and recorded again, as is its resolution.
 */
export function hypercareKey(changeId: string, event: MonitorEvent): string {
  return `hypercare:${changeId}:${event.source}:${event.fingerprint}@${event.startsAt}:${event.status}`;
}

function alertTime(event: MonitorEvent): number {
  return Date.parse(event.startsAt);
}

/** Whether the alert was active at some instant of the watched span: it began before hypercare ended and had not resolved before it began. */
function duringHypercare(event: MonitorEvent, window: HypercareWindow): boolean {
  const began = alertTime(event);
  const ended = event.endsAt === null ? Number.POSITIVE_INFINITY : Date.parse(event.endsAt);
  return began <= window.ends && !(ended < window.watchFrom);
}

function what(event: MonitorEvent): string {
  return `${event.severity ?? 'unrated'} ${event.kind} "${event.title ?? event.fingerprint}"`;
}

export function hypercareNote(change: Change, event: MonitorEvent, window: HypercareWindow, holding: readonly Severity[]): TicketNote {
  const on = event.service ?? 'an affected service';
  const holds = event.severity !== null && holding.includes(event.severity);
  const link = event.url === null ? [] : [`Source: ${event.url}`];
  const span = `Hypercare of ${change.key} runs until ${formatUtc(window.ends)}.`;
  if (event.status === 'resolved') {
    const ended = event.endsAt === null ? 'now' : formatUtc(Date.parse(event.endsAt));
    return {
      title: `Hypercare: ${what(event)} on ${on} resolved`,
      tone: 'success',
      lines: [
        `The ${event.kind} on ${on} fired at ${formatUtc(alertTime(event))} and resolved at ${ended} (reported by ${event.source}).`,
        holds ? 'It no longer holds closure.' : 'It did not hold closure.',
      ],
      footer: [span, ...link],
    };
  }
  return {
    title: `Hypercare: ${what(event)} firing on ${on}`,
    tone: holds ? 'error' : 'warning',
    lines: [
      `A ${what(event)} has been firing on ${on} since ${formatUtc(alertTime(event))} (reported by ${event.source}), during the hypercare of ${change.key}.`,
      holds
        ? `It holds closure until it resolves: ${event.severity} alerts and incidents block the move to Closed (rule closed.no-alerts).`
        : `It does not hold closure (only ${holding.join(' or ')} alerts do), but it is recorded as evidence.`,
    ],
    footer: [span, ...link],
  };
}

function evidenceDraft(change: Change, event: MonitorEvent, now: Date): EvidenceDraft {
  const status = event.status === 'resolved' ? `resolved${event.endsAt === null ? '' : ` at ${formatUtc(Date.parse(event.endsAt))}`}` : `firing since ${formatUtc(alertTime(event))}`;
  return {
    kind: 'event',
    at: event.status === 'resolved' ? (event.endsAt ?? now.toISOString()) : event.startsAt,
    actor: null,
    source: event.source,
    summary: `hypercare of ${change.key}: ${what(event)} on ${event.service ?? 'an affected service'} ${status}`,
    payload: event,
  };
}

export class HypercareWatch {
  readonly #deps: HypercareWatchDeps;

  constructor(deps: HypercareWatchDeps) {
    this.#deps = deps;
  }

  /** Posts and records what the new monitoring events say about changes in hypercare; returns the links to store (their changes get re-assessed). */
  async observe(stored: readonly StoredEvent[], now: Date): Promise<EventLink[]> {
    const links: EventLink[] = [];
    for (const e of stored) {
      if (e.type !== 'monitor') continue;
      // The alert as the store will keep it: a late `firing` of an alert already resolved (deliveries out of order)
      // changes nothing, and the resolution note says when it fired; an update of a reopened incident keeps the
      // reopened start, so its resolution is keyed (and posted) apart from the first one's.
      const known = await this.#deps.events.getEvent(e.id);
      const settled = settle(known, e);
      if (settled === known || settled.type !== 'monitor') continue;
      const event = settled.event;
      const names = alertServiceNames(event, this.#deps.services);
      if (names.length === 0) continue;
      for (const change of await this.#candidates(names)) {
        if (await this.#watch(change, event, names, now)) links.push({ eventId: event.id, changeId: change.id, rule: `hypercare:${event.service ?? names[0]}`, linkedAt: now.toISOString() });
      }
    }
    return links;
  }

  async #candidates(names: readonly string[]): Promise<Change[]> {
    const found = new Map<string, Change>();
    for (const instance of this.#deps.instances) {
      for (const change of await this.#deps.changes.listActiveChangesTouching({ instance, refs: names, limit: PER_SERVICE })) found.set(change.id, change);
    }
    return [...found.values()];
  }

  async #watch(change: Change, event: MonitorEvent, names: readonly string[], now: Date): Promise<boolean> {
    const { policy, outbox, evidence } = this.#deps;
    const refs = new Set([...change.services, ...change.cis].flatMap((r) => [r.id, r.name ?? '']).filter((n) => n !== '').map(serviceKey));
    if (!names.some((n) => refs.has(serviceKey(n)))) return false;
    const classification = classify(change, assessRisk(change, policy.riskMatrix), policy.classification);
    const rules = resolveRules(policy, change, classification).builtIn;
    const { ci } = await this.#deps.correlator.eventsFor(change, now);
    const window = hypercareWindow(change, ci, policy.productionEnvironments, rules['closed.hypercare'].durations[classification], now.getTime());
    if (window === null || !duringHypercare(event, window)) return false;
    const key = hypercareKey(change.id, event);
    if (evidence !== undefined) await evidence.append(change.id, evidenceDraft(change, event, now), key);
    if (this.#deps.writesBack(change.instance)) {
      const item: NewOutboxItem = {
        instance: change.instance,
        changeId: change.id,
        nativeId: change.nativeId,
        // Its own source: an assessment's next note never supersedes an alert's.
        source: 'hypercare',
        idempotencyKey: key,
        payload: { action: 'comment', note: hypercareNote(change, event, window, rules['closed.no-alerts'].severities) },
      };
      const { inserted } = await outbox.enqueue([item], now);
      if (inserted.length > 0) {
        this.#deps.onEnqueued?.();
        this.#deps.logger.info({ changeId: change.id, alert: event.id, status: event.status }, `hypercare: ${what(event)} ${event.status} on ${change.key} queued for its ticket (${formatDuration(Math.max(0, window.ends - now.getTime()))} of hypercare left)`);
      }
    }
    return true;
  }
}
