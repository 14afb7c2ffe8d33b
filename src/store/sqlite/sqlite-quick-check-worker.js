// Runs `PRAGMA quick_check` on its own read-only connection in a worker thread:
// the check reads every page, seconds on a large mirror, which must never hold
// up the event loop. Posts one `QuickCheckResult` (sqlite-store-health.ts).
//
// Plain JavaScript, as the checkpoint worker: a TypeScript entry would load
// Node's type stripper into this isolate too (some 22 MB while it runs).

import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * @param {string} path
 * @returns {{ ok: true } | { ok: false, corrupt: boolean, detail: string }}
 */
function quickCheck(path) {
  try {
    // Waiting for a lock is fine here: this thread serves nothing else.
    const db = new DatabaseSync(path, { readOnly: true, timeout: 1_000 });
    try {
      const rows = db.prepare('PRAGMA quick_check(5)').all();
      const problems = rows.map((r) => String(r.quick_check)).filter((line) => line !== 'ok');
      return problems.length === 0 ? { ok: true } : { ok: false, corrupt: true, detail: problems.join('; ') };
    } finally {
      db.close();
    }
  } catch (err) {
    const errcode = err?.errcode;
    // SQLITE_CORRUPT and SQLITE_NOTADB say the file is damaged; anything else (a lock, a vanished file) is another check's business.
    const corrupt = typeof errcode === 'number' && ((errcode & 0xff) === 11 || (errcode & 0xff) === 26);
    return { ok: false, corrupt, detail: err instanceof Error ? err.message : String(err) };
  }
}

// A worker's port, not a window: there is no origin to name.
// oxlint-disable-next-line unicorn/require-post-message-target-origin
parentPort?.postMessage(quickCheck(workerData.path));
