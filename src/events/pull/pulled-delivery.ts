// A pulled item enters the event store the way a webhook does: as a delivery
// of its source (the body a webhook of the same state would carry), normalised
// later by the same source module and processor. Before it is recorded, it is
// normalised once here and compared with what the store already holds: an
// event a webhook (or an earlier pull) already stored in the same state is not
// recorded again, so a run seen both ways is stored once.

import type { EventStore } from '../../store/event-store.ts';
import type { EventSourceKind } from '../event-source-kit.ts';

export interface PulledItem {
  /** The webhook headers the normaliser reads (`x-github-event`). */
  headers: Record<string, string>;
  /** A body in the source's webhook shape. */
  body: unknown;
  /** `pull:<what>:<id>:<state>`: the same item in the same state is one delivery, however often it is pulled. */
  deliveryId: string;
}

export type PulledOutcome = 'recorded' | 'known';

/**
 * A stored event says the same as a pulled one when their status agrees, and
 * for a run its end too (a re-run's new end is news). An alert's end is not
 * compared: a pull sees it gone only later than the webhook said it resolved.
 */
function sameState(stored: { status: string; finishedAt?: string | null }, pulled: typeof stored): boolean {
  return stored.status === pulled.status && (!('finishedAt' in pulled) || (stored.finishedAt ?? null) === (pulled.finishedAt ?? null));
}

export async function recordPulled(events: EventStore, kind: EventSourceKind, sourceId: string, item: PulledItem, receivedAt: Date): Promise<PulledOutcome> {
  const rawBody = Buffer.from(JSON.stringify(item.body));
  const said = kind.normalise(sourceId, { headers: item.headers, rawBody }, item.body);
  const all = [...said.ci, ...said.monitor];
  if (all.length === 0) return 'known';
  let news = false;
  for (const event of all) {
    const stored = await events.getEvent(event.id);
    if (stored === null || !sameState(stored.event, event)) news = true;
  }
  if (!news) return 'known';
  const { duplicate } = await events.record({ source: sourceId, kind: kind.kind, deliveryId: item.deliveryId, receivedAt: receivedAt.toISOString(), headers: item.headers, rawBody });
  return duplicate ? 'known' : 'recorded';
}
