// Whether what a process keeps of the store (parsed changes, answers that found
// nothing) may still hold: a counter that every write bumps, from any
// connection or process, read at most every `recheckMs` (a statement costs as
// much as the read it would save). Another process's write reaches the keeper
// within that bound; its own writes call `reset`, so the next look reads the
// counter at once.

/** How stale a kept read may be against another process's write. */
export const DEFAULT_RECHECK_MS = 100;

export class GenerationCheck {
  readonly #read: () => number;
  readonly #recheckMs: number;
  readonly #clock: () => number;
  #generation: number | null = null;
  #checkedAt = Number.NEGATIVE_INFINITY;

  /** `clock`: monotonic milliseconds. */
  constructor(read: () => number, recheckMs = DEFAULT_RECHECK_MS, clock: () => number = () => performance.now()) {
    this.#read = read;
    this.#recheckMs = Math.max(0, recheckMs);
    this.#clock = clock;
  }

  /** Whether the store moved since the last look that read the counter (always, the first time and after `reset`). */
  moved(): boolean {
    const now = this.#clock();
    if (now - this.#checkedAt < this.#recheckMs) return false;
    this.#checkedAt = now;
    const generation = this.#read();
    if (generation === this.#generation) return false;
    this.#generation = generation;
    return true;
  }

  /** The owner wrote: the next look reads the counter and reports a move. */
  reset(): void {
    this.#generation = null;
    this.#checkedAt = Number.NEGATIVE_INFINITY;
  }
}
