// What the ingestion route already normalised, handed to the event processor of
// the same process so it need not parse and normalise the same bytes again. The
// route normalises every delivery before storing it (to refuse with a 4xx what
// could never be processed); the processor normalises from the stored bytes
// only when this process did not receive the delivery (a replica's, a restart's)
// or it fell out of this bounded map. Normalising is a function of the stored
// bytes and headers, so both paths give the same events.

import type { NormalisedEvents } from './event-source-kit.ts';

/** Deliveries held at most: a burst the processor trails by more than this is normalised again from the store. */
export const INGESTED_HELD = 4_096;

export class IngestedEvents {
  readonly #held = new Map<string, NormalisedEvents>();
  readonly #max: number;

  constructor(max = INGESTED_HELD) {
    this.#max = max;
  }

  /** The delivery stored under `deliveryKey` (`source:deliveryId`) normalises to `events`. */
  put(deliveryKey: string, events: NormalisedEvents): void {
    this.#held.set(deliveryKey, events);
    if (this.#held.size > this.#max) this.#held.delete(this.#held.keys().next().value as string);
  }

  /** Its events once, or undefined: then they are normalised from the stored bytes. */
  take(deliveryKey: string): NormalisedEvents | undefined {
    const events = this.#held.get(deliveryKey);
    this.#held.delete(deliveryKey);
    return events;
  }

  get size(): number {
    return this.#held.size;
  }
}
