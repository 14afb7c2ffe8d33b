// The start-up pass over changes owed an assessment: every one is handed to
// the runner once, in batches; one that fails stays owed for the next start
// without holding up the others or looping.

import { describe, expect, it } from 'vitest';
import { OwedAssessments } from '../../src/assess/owed-assessments.ts';
import { createLogger } from '../../src/log.ts';
import type { RunResult } from '../../src/assess/assessment-runner.ts';

/** A mirror that owes `ids` until the runner assesses them. */
function world(ids: string[], failing: ReadonlySet<string>) {
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
  return { owed, asked, pass: new OwedAssessments({ store, runner, logger: createLogger({ level: 'silent' }), batchSize: 2 }) };
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
});
