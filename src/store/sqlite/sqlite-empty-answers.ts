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
// triggers bump on every write to events, links and heartbeats, checked as the
// mirror's read cache checks its own (generation-check.ts).
//
// A store with no events at all (a new installation's first sync, or one that
// takes no CI or monitoring events) answers every look-up empty, each with its
// own key, asked once: so whenever the generation is read, the store is also
// asked which kinds of look-up cannot find anything (`wholly empty`), and those
// are answered empty without a key of their own.

import { GenerationCheck } from '../generation-check.ts';

/**
 * Empty answers kept at most; the set starts over when full. The answers asked
 * again are the shared ones (the alerts on a busy service, its repositories'
 * runs); those naming one change are asked once per assessment. A small set
 * keeps the first while the second pass through.
 */
export const MAX_EMPTY_ANSWERS = 10_000;

/** The kind of a key: what precedes its first NUL (`find`, `linked`). */
function kindOf(key: string): string {
  const end = key.indexOf('\u0000');
  return end === -1 ? key : key.slice(0, end);
}

export interface EmptyAnswersOptions {
  recheckMs?: number;
  max?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export class EmptyAnswers {
  readonly #keys = new Set<string>();
  readonly #generation: GenerationCheck;
  readonly #max: number;
  readonly #readWhollyEmpty: () => ReadonlySet<string>;
  /** The kinds of look-up that find nothing whatever they ask, as of the generation last read. */
  #whollyEmpty: ReadonlySet<string> = new Set();

  /**
   * `generation` reads the counter; `whollyEmpty` the kinds of key (the text
   * before the first NUL) that cannot find anything now, read with it.
   */
  constructor(generation: () => number, options: EmptyAnswersOptions = {}, whollyEmpty: () => ReadonlySet<string> = () => new Set()) {
    this.#generation = new GenerationCheck(generation, options.recheckMs, options.now);
    this.#max = Math.max(1, options.max ?? MAX_EMPTY_ANSWERS);
    this.#readWhollyEmpty = whollyEmpty;
  }

  /** Whether `key` was answered empty since the data last moved, or cannot find anything now. */
  has(key: string): boolean {
    if (this.#generation.moved()) {
      this.#keys.clear();
      this.#whollyEmpty = this.#readWhollyEmpty();
    }
    return this.#keys.has(key) || (this.#whollyEmpty.size > 0 && this.#whollyEmpty.has(kindOf(key)));
  }

  /** Records that `key` found nothing (call right after the query, in the same synchronous step). */
  add(key: string): void {
    if (this.#keys.size >= this.#max) this.#keys.clear();
    this.#keys.add(key);
  }

  /** The owning store wrote: nothing kept holds any more, and the generation is read again on the next look-up. */
  invalidate(): void {
    this.#keys.clear();
    this.#whollyEmpty = new Set();
    this.#generation.reset();
  }

  get size(): number {
    return this.#keys.size;
  }
}
