// Copies the write-ahead log back into the database file on its own connection
// in a worker thread. A checkpoint writes and syncs pages to the file: run by
// whichever connection commits past SQLite's threshold, it would stall that
// commit (and the event loop) for tens of milliseconds. PASSIVE: it never waits
// for a reader or writer, and copies what it can. Answers each `checkpoint`
// message with a `CheckpointResult` (sqlite-checkpointer.ts); `close` ends it.
//
// Plain JavaScript, as the quick-check worker: a worker is an isolate of its own,
// and a TypeScript entry would load Node's type stripper into it, some 22 MB of
// resident memory for the life of the process (37 MB for this worker, 15 MB as
// JavaScript).

import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const db = new DatabaseSync(workerData.path);
const statement = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

/** @returns {{ ok: true, logFrames: number, copiedFrames: number } | { ok: false, detail: string }} */
function checkpoint() {
  try {
    const row = statement.get();
    return { ok: true, logFrames: Number(row.log), copiedFrames: Number(row.checkpointed) };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (message) => {
  if (message === 'checkpoint') {
    // A worker's port, not a window: there is no origin to name.
    // oxlint-disable-next-line unicorn/require-post-message-target-origin
    parentPort?.postMessage(checkpoint());
    return;
  }
  db.close();
  parentPort?.close();
});
