// Copies the write-ahead log back into the database file on its own connection
// in a worker thread. A checkpoint writes and syncs pages to the file: run by
// whichever connection commits past SQLite's threshold, it would stall that
// commit (and the event loop) for tens of milliseconds. PASSIVE: it never waits
// for a reader or writer, and copies what it can. Answers each `checkpoint`
// message with the frames in the log and those copied; `close` ends it.

import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

export type CheckpointResult = { ok: true; logFrames: number; copiedFrames: number } | { ok: false; detail: string };

const db = new DatabaseSync((workerData as { path: string }).path);
const statement = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

function checkpoint(): CheckpointResult {
  try {
    const row = statement.get() as { busy: number; log: number; checkpointed: number };
    return { ok: true, logFrames: row.log, copiedFrames: row.checkpointed };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (message: unknown) => {
  if (message === 'checkpoint') {
    // A worker's port, not a window: there is no origin to name.
    // oxlint-disable-next-line unicorn/require-post-message-target-origin
    parentPort?.postMessage(checkpoint());
    return;
  }
  db.close();
  parentPort?.close();
});
