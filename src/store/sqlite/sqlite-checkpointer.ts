// Keeps a store file's write-ahead log short without stalling the connections
// that write it. Every connection's own checkpoint threshold is raised to
// FALLBACK_AUTOCHECKPOINT_PAGES (sqlite-schema.ts), so commits only append; this
// watches the log's size and, once it passes `thresholdBytes`, has a worker
// thread copy it back into the file (sqlite-checkpoint-worker.js). The worker
// starts on the first need: a short command that writes little never starts it.
// SQLite reuses the log file from its start rather than shrinking it, so once
// it has passed the threshold every look runs a checkpoint; one with nothing
// new to copy reads a few pages and writes none.
// Should the worker fail, the raised threshold still bounds the log.

import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

/** A worker's answer to `checkpoint`: the frames in the log and those copied back, or why it could not. */
export type CheckpointResult = { ok: true; logFrames: number; copiedFrames: number } | { ok: false; detail: string };

export interface CheckpointerOptions {
  /** How often the log's size is looked at (default 1 s). */
  everyMs?: number;
  /** The log size from which a checkpoint is run (default 4 MiB, SQLite's own default of 1,000 pages). */
  thresholdBytes?: number;
}

export class SqliteCheckpointer {
  readonly #path: string;
  readonly #thresholdBytes: number;
  readonly #timer: NodeJS.Timeout;
  #worker: Worker | null = null;
  #running: Promise<void> | null = null;
  /** Resolves the checkpoint in flight (one at a time). */
  #answer: ((result: CheckpointResult) => void) | null = null;
  #closed = false;
  #failed = false;
  /** Checkpoints run, for tests and metrics. */
  runs = 0;

  private constructor(path: string, options: CheckpointerOptions) {
    this.#path = path;
    this.#thresholdBytes = options.thresholdBytes ?? 4 * 1024 * 1024;
    this.#timer = setInterval(() => void this.tick(), options.everyMs ?? 1_000);
    // Nothing to keep a process alive for: a process that ends leaves the log to the next connection.
    this.#timer.unref();
  }

  static start(path: string, options: CheckpointerOptions = {}): SqliteCheckpointer {
    return new SqliteCheckpointer(path, options);
  }

  /** One look at the log (the timer's); resolves when a checkpoint it started has finished. */
  tick(): Promise<void> {
    if (this.#closed || this.#failed) return Promise.resolve();
    this.#running ??= this.#checkpointIfLong().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #checkpointIfLong(): Promise<void> {
    const size = (await stat(`${this.#path}-wal`).catch(() => null))?.size ?? 0;
    if (size < this.#thresholdBytes || this.#closed) return;
    const worker = this.#worker ?? this.#spawn();
    const answer = new Promise<CheckpointResult>((resolve) => {
      this.#answer = resolve;
    });
    // Held while it works: an awaited answer from an unreferenced worker would let the process end under it.
    worker.ref();
    // oxlint-disable-next-line unicorn/require-post-message-target-origin
    worker.postMessage('checkpoint');
    const result = await answer;
    worker.unref();
    this.runs += 1;
    // A worker that cannot checkpoint is not asked again; the connections' own threshold takes over.
    if (!result.ok) this.#failed = true;
  }

  #settle(result: CheckpointResult): void {
    const answer = this.#answer;
    this.#answer = null;
    answer?.(result);
  }

  #spawn(): Worker {
    const worker = new Worker(new URL('./sqlite-checkpoint-worker.js', import.meta.url), { workerData: { path: this.#path } });
    worker.unref();
    worker.on('message', (result: CheckpointResult) => this.#settle(result));
    worker.on('error', (err: Error) => {
      this.#failed = true;
      this.#settle({ ok: false, detail: err.message });
    });
    worker.on('exit', () => this.#settle({ ok: false, detail: 'the checkpoint worker exited' }));
    this.#worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
    const worker = this.#worker;
    this.#worker = null;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Its connection closed before it ends (a thread ended under an open connection would leave its locks to this process).
    worker.ref();
    // oxlint-disable-next-line unicorn/require-post-message-target-origin
    worker.postMessage('close');
    await exited;
  }
}
