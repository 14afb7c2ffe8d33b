// Which reads of the event store found nothing, kept while the events, their
// links and the heartbeats stay as they were.
//
// A sync assesses every change it writes, and each assessment asks for the
// change's events several times (linked to it, naming its key, on its commits,
// on its services). Before a pipeline or a monitor has reported, and for most
// changes after, every answer is empty. On this connection each such query
// came after another connection's commit (the mirror's page, the assessments'
// batch), so SQLite re-read its pages through the write-ahead log: about 20 µs
// a query, 7% of a first sync's CPU.
//
// Only empty answers are kept, so memory is the keys alone, bounded. The
// owning store drops them at once on its own writes (`invalidate`); another
// connection's or process's write is seen through `event_generation`, which
// triggers bump on every write to events, links and heartbeats, read at most
// every `recheckMs`: the bound the mirror's read cache keeps too
// (mirror-read-cache.ts).

import { DEFAULT_RECHECK_MS } from '../mirror-read-cache.ts';

/**
 * Empty answers kept at most; the set starts over when full. The answers asked
 * again are the shared ones (the alerts on a busy service, its repositories'
 * runs); those naming one change are asked once per assessment. A small set
 * keeps the first while the second pass through.
 */
export const MAX_EMPTY_ANSWERS = 10_000;

export interface EmptyAnswersOptions {
  recheckMs?: number;
  max?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export class EmptyAnswers {
  readonly #keys = new Set<string>();
  readonly #generation: () => number;
  readonly #recheckMs: number;
  readonly #max: number;
  readonly #now: () => number;
  #seen: number | null = null;
  #checkedAt = 0;

  constructor(generation: () => number, options: EmptyAnswersOptions = {}) {
    this.#generation = generation;
    this.#recheckMs = Math.max(0, options.recheckMs ?? DEFAULT_RECHECK_MS);
    this.#max = Math.max(1, options.max ?? MAX_EMPTY_ANSWERS);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether `key` was answered empty since the data last moved. */
  has(key: string): boolean {
    this.#check();
    return this.#keys.has(key);
  }

  /** Records that `key` found nothing (call right after the query, in the same synchronous step). */
  add(key: string): void {
    if (this.#keys.size >= this.#max) this.#keys.clear();
    this.#keys.add(key);
  }

  /** The owning store wrote: nothing kept holds any more, and the generation is read again on the next look-up. */
  invalidate(): void {
    this.#keys.clear();
    this.#seen = null;
  }

  get size(): number {
    return this.#keys.size;
  }

  #check(): void {
    const now = this.#now();
    if (this.#seen !== null && now - this.#checkedAt < this.#recheckMs) return;
    this.#checkedAt = now;
    const generation = this.#generation();
    if (generation !== this.#seen) {
      this.#keys.clear();
      this.#seen = generation;
    }
  }
}
