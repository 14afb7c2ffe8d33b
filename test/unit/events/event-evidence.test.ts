// Which linked CI events become ledger entries and the one line each is
// summarised by: final runs only, one entry per event and change however
// often it is linked, deployments as their own kind.

import { describe, expect, it } from 'vitest';
import type { CiEvent } from '../../../src/domain/events.ts';
import { eventSummary, recordEventEvidence } from '../../../src/events/event-evidence.ts';
import { gitlabSource } from '../../../src/events/sources/gitlab.ts';
import type { EventLink, StoredEvent } from '../../../src/store/event-store.ts';
import { openSqliteStores } from '../../../src/store/sqlite/sqlite-store-adapter.ts';
import { ciEvent } from '../policy/policy-fixtures.ts';
import { delivery, fixtureJson } from '../../support/source-delivery.ts';

const stored = (event: CiEvent): StoredEvent => ({ type: 'ci', id: event.id, source: event.source, deliveryId: `d-${event.id}`, receivedAt: '2026-03-09T08:11:00Z', event });
const link = (event: CiEvent, changeId: string, rule = 'change-key'): EventLink => ({ eventId: event.id, changeId, rule, linkedAt: '2026-03-09T08:11:00Z' });

/** The real GitLab pipeline hook in another status and end. */
function pipelineHook(status: string, finishedAt: string): CiEvent {
  const body = fixtureJson('gitlab_pipeline_hook.json');
  const attrs = body['object_attributes'] as Record<string, unknown>;
  Object.assign(attrs, { status, finished_at: finishedAt });
  const [event] = gitlabSource.normalise('gitlab', delivery('{}'), body).ci;
  return event as CiEvent;
}

describe('CI events in the evidence ledger', () => {
  it('summarises tests, scans, deployments and other runs in one line each', () => {
    expect(eventSummary(ciEvent({ kind: 'test', name: null, tests: { passed: 120, failed: 2, skipped: 0 } }))).toBe('tests on 9fceb02: 120 passed, 2 failed');
    expect(eventSummary(ciEvent({ kind: 'scan', name: 'trivy', findings: { medium: 3, info: 0 } }))).toBe('scan "trivy" on 9fceb02: 0 critical, 0 high, 3 medium');
    expect(eventSummary(ciEvent({ kind: 'deploy', environment: 'UAT', status: 'success' }))).toBe('deployed 9fceb02 to UAT: success');
    expect(eventSummary(ciEvent({ kind: 'deploy', environment: null, commit: null, status: 'failure' }))).toBe('deployed an unnamed commit to an unnamed environment: failure');
    expect(eventSummary(ciEvent({ kind: 'build', status: 'cancelled' }))).toBe('build "build-and-test" on 9fceb02: cancelled');
  });

  it('appends final runs once per event and change, deployments as `deployment`, and skips runs still queued or running', async () => {
    const stores = openSqliteStores(':memory:');
    try {
      const done = ciEvent({ kind: 'deploy', environment: 'production' });
      const running = ciEvent({ status: 'running' });
      const tests = ciEvent({ kind: 'test', tests: { passed: 4, failed: 0, skipped: 0 } });
      const events = [done, running, tests].map(stored);
      // The deployment linked twice to chg-a (two rules) and once to chg-b.
      const links = [link(done, 'chg-a'), link(done, 'chg-a', 'commit'), link(done, 'chg-b'), link(running, 'chg-a'), link(tests, 'chg-a')];
      expect(await recordEventEvidence(stores.evidence, events, links)).toBe(3);
      expect(await recordEventEvidence(stores.evidence, events, links)).toBe(0);
      const a = await stores.evidence.list('chg-a');
      expect(a.map((e) => [e.kind, e.source, e.actor, e.at, e.summary])).toEqual([
        ['deployment', 'github', 'build-and-test', '2026-03-09T08:10:00Z', 'deployed 9fceb02 to production: success'],
        ['event', 'github', 'build-and-test', '2026-03-09T08:10:00Z', 'tests "build-and-test" on 9fceb02: 4 passed, 0 failed'],
      ]);
      expect(a[0]?.payload).toEqual(done);
      expect((await stores.evidence.list('chg-b')).map((e) => e.summary)).toEqual(['deployed 9fceb02 to production: success']);
    } finally {
      await stores.close();
    }
  });

  it('records a retried GitLab pipeline that ends green, so the ledger ends on what holds, and each final state once', async () => {
    const stores = openSqliteStores(':memory:');
    try {
      // The same pipeline (GitLab's Retry keeps its id): failed, then retried and green.
      const failed = pipelineHook('failed', '2016-08-12 15:26:29 UTC');
      const green = pipelineHook('success', '2016-08-12 15:40:02 UTC');
      expect(failed.id).toBe(green.id);
      expect(await recordEventEvidence(stores.evidence, [stored(failed)], [link(failed, 'chg-a')])).toBe(1);
      expect(await recordEventEvidence(stores.evidence, [stored(green)], [link(green, 'chg-a')])).toBe(1);
      // Processed again (a crash before completing): nothing twice.
      expect(await recordEventEvidence(stores.evidence, [stored(failed)], [link(failed, 'chg-a')])).toBe(0);
      expect(await recordEventEvidence(stores.evidence, [stored(green)], [link(green, 'chg-a')])).toBe(0);
      expect((await stores.evidence.list('chg-a')).map((e) => [e.at, e.summary])).toEqual([
        ['2016-08-12T15:26:29.000Z', 'build on bcbb5ec: failure'],
        ['2016-08-12T15:40:02.000Z', 'build on bcbb5ec: success'],
      ]);
    } finally {
      await stores.close();
    }
  });
});
