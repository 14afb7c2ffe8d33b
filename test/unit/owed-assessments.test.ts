// The start-up pass over changes owed an assessment: every one is handed to
// the runner once, in batches; one that fails stays owed for the next start
// without holding up the others or looping.

import { describe, expect, it, vi } from 'vitest';
import { OwedAssessments } from '../../src/assess/owed-assessments.ts';
import { createLogger } from '../../src/log.ts';
import type { RunResult } from '../../src/assess/assessment-runner.ts';

/** A mirror that owes `ids` until the runner assesses them. */
function world(ids: string[], failing: Set<string>, retry: { retryMs?: number; maxRetryMs?: number } = {}) {
  const owed = new Set(ids);
  const asked: string[] = [];
  const store = {
    async listOwedAssessments(query: { after?: string; limit: number }): Promise<string[]> {
      return [...owed].toSorted().filter((id) => query.after === undefined || id > query.after).slice(0, query.limit);
    },
  };
  const runner = {
    async assessChange(id: string): Promise<RunResult> {
      asked.push(id);
      if (failing.has(id)) throw new Error('disk I/O error');
      owed.delete(id);
      return { changeId: id, status: id.endsWith('echo') ? 'unchanged' : 'assessed', assessment: null, outcomeChanged: false, enqueued: [], enforcements: [] };
    },
  };
  return { owed, asked, failing, pass: new OwedAssessments({ store, runner, logger: createLogger({ level: 'silent' }), batchSize: 2, ...retry }) };
}

describe('owed assessments at start-up', () => {
  it('hands every owed change to the runner once, across batches, and counts what got a new assessment', async () => {
    const w = world(['c1', 'c2', 'c3-echo', 'c4', 'c5'], new Set());
    expect(await w.pass.run()).toEqual({ owed: 5, assessed: 4, failed: 0 });
    expect(w.asked).toEqual(['c1', 'c2', 'c3-echo', 'c4', 'c5']);
    expect(w.owed.size).toBe(0);
  });

  it('moves past a change that cannot be assessed, which stays owed for the next start', async () => {
    const w = world(['c1', 'c2', 'c3', 'c4'], new Set(['c2']));
    expect(await w.pass.run()).toEqual({ owed: 4, assessed: 3, failed: 1 });
    expect(w.asked).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect([...w.owed]).toEqual(['c2']);
  });

  it('joins a pass already running instead of starting a second', async () => {
    const w = world(['c1', 'c2', 'c3'], new Set());
    const [a, b] = await Promise.all([w.pass.run(), w.pass.run()]);
    expect(a).toBe(b);
    expect(w.asked).toEqual(['c1', 'c2', 'c3']);
  });

  it('passes again after the backoff while a change still fails, and assesses it once the store is back', async () => {
    const w = world(['c1', 'c2'], new Set(['c2']), { retryMs: 20, maxRetryMs: 40 });
    expect(await w.pass.run()).toEqual({ owed: 2, assessed: 1, failed: 1 });
    // Retried on its own, at 20 ms then 40 ms: still failing, still owed.
    await vi.waitFor(() => expect(w.asked.filter((id) => id === 'c2').length).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 5 });
    expect([...w.owed]).toEqual(['c2']);
    w.failing.delete('c2');
    await vi.waitFor(() => expect(w.owed.size).toBe(0), { timeout: 10_000, interval: 5 });
    // Nothing owed, no failure: no further pass is scheduled.
    const asked = w.asked.length;
    await new Promise((r) => setTimeout(r, 120));
    expect(w.asked.length).toBe(asked);
    await w.pass.stop();
  });

  it('retrySoon after a failed assessment elsewhere runs one pass, however often it is called', async () => {
    const w = world(['c1'], new Set(), { retryMs: 20 });
    for (let i = 0; i < 5; i++) w.pass.retrySoon();
    await vi.waitFor(() => expect(w.owed.size).toBe(0), { timeout: 10_000, interval: 5 });
    await new Promise((r) => setTimeout(r, 60));
    expect(w.asked).toEqual(['c1']);
  });

  it('stop cancels a scheduled pass', async () => {
    const w = world(['c1'], new Set(['c1']), { retryMs: 30 });
    await w.pass.run();
    await w.pass.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(w.asked).toEqual(['c1']);
  });
});
