// The Jira connector against the Jira simulator (in-process msw), driven by the
// real sync engine: bulk data with many issues per minute, edits landing in the
// cursor's minute, search lag, faults, a revoked token, and Data Center.

import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamCursor, StreamItem } from '../../src/kit/connector.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraSimulator, type JiraSimulatorOptions } from '../../connectors/jira/simulator/jira-simulator.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import type { Approval, Change, JournalEntry, MirroredChange } from '../../src/domain/change.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { ApplyResult, ChangePage, ChangeStore, HistoryApproval, RejectedRecord, Revision } from '../../src/store/change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const BASE = 'https://acme.atlassian.net';
const START = Date.parse('2026-03-12T10:00:00Z');

/** Just enough of a store for the engine: upserts by id with the stale rule, cursors saved with the page. */
class MemoryStore implements ChangeStore {
  readonly changes = new Map<string, Change>();
  readonly revisions = new Map<string, number>();
  /** Keyed like the real stores: by the row's own id within the instance. */
  readonly approvals = new Map<string, Approval & { changeNativeId: string }>();
  readonly journal = new Map<string, JournalEntry & { changeNativeId: string }>();
  readonly cursors = new Map<string, StreamCursor>();
  invalid: string[] = [];

  async applyPage(instance: string, stream: string, items: readonly StreamItem[], cursor: StreamCursor | null): Promise<ApplyResult> {
    const r: ApplyResult = { changesWritten: 0, changesUnchanged: 0, changesStale: 0, approvalsWritten: 0, journalWritten: 0, invalid: 0 };
    for (const item of items) {
      if (item.kind === 'change') {
        const head = this.changes.get(item.change.id);
        if (head && (head.nativeRevision > item.change.nativeRevision || (head.nativeRevision === item.change.nativeRevision && head.updatedAt > item.change.updatedAt))) r.changesStale++;
        else if (head && JSON.stringify(head) === JSON.stringify(item.change)) r.changesUnchanged++;
        else {
          this.changes.set(item.change.id, item.change);
          this.revisions.set(item.change.id, (this.revisions.get(item.change.id) ?? 0) + 1);
          r.changesWritten++;
        }
      } else if (item.kind === 'approval') {
        this.approvals.set(item.approval.id, { ...item.approval, changeNativeId: item.changeNativeId });
        r.approvalsWritten++;
      } else if (item.kind === 'journal') {
        this.journal.set(item.entry.id, { ...item.entry, changeNativeId: item.changeNativeId });
        r.journalWritten++;
      } else {
        this.invalid.push(`${item.ref}: ${item.error.message}`);
        r.invalid++;
      }
    }
    if (cursor !== null) this.cursors.set(`${instance}/${stream}`, cursor);
    return r;
  }

  async getCursor(instance: string, stream: string): Promise<StreamCursor | null> {
    return this.cursors.get(`${instance}/${stream}`) ?? null;
  }

  readonly synced = new Map<string, Date>();

  async noteSyncSucceeded(instance: string, at: Date): Promise<void> {
    this.synced.set(instance, at);
  }

  async lastSyncSucceeded(instance: string): Promise<Date | null> {
    return this.synced.get(instance) ?? null;
  }

  async resetCursors(): Promise<void> {
    this.cursors.clear();
  }

  async countChanges(): Promise<number> {
    return this.changes.size;
  }

  async getChange(id: string): Promise<MirroredChange | null> {
    const change = this.changes.get(id) ?? [...this.changes.values()].find((c) => c.key === id);
    if (!change) return null;
    const mine = <T extends { changeNativeId: string }>(m: Map<string, T>) => [...m.values()].filter((v) => v.changeNativeId === change.nativeId);
    return { change, approvals: mine(this.approvals), journal: mine(this.journal) };
  }

  async listChanges(): Promise<ChangePage> {
    return { items: [...this.changes.values()], nextCursor: null };
  }

  async listApprovalsForHistory(): Promise<HistoryApproval[]> {
    return [];
  }

  async countApprovals(): Promise<number> {
    return 0;
  }

  async listRevisions(): Promise<Revision[]> {
    return [];
  }

  async listRevisionsForHistory(): Promise<Revision[]> {
    return [];
  }

  async countRevisions(): Promise<number> {
    return 0;
  }

  async lastRevisionSeq(): Promise<number> {
    return 0;
  }

  async listActiveChangesTouching(): Promise<Change[]> {
    return [];
  }

  async listNeighbours(): Promise<Change[]> {
    return [];
  }

  async listActiveChangesIndexed(): Promise<Change[]> {
    return [];
  }

  async listRejected(): Promise<RejectedRecord[]> {
    return [];
  }

  async noteAssessed(): Promise<void> {}

  async mirrorVersion(): Promise<number> {
    return 0;
  }

  async listOwedAssessments(): Promise<string[]> {
    return [];
  }

  async close(): Promise<void> {}
}

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const mapping = loadJiraMapping();

function world(simOptions: Partial<JiraSimulatorOptions> = {}, instanceOverrides: Record<string, unknown> = {}) {
  let now = START;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const sim = new JiraSimulator({ baseUrl: BASE, clock: clock.now, auth: { basic: [{ email: 'ops@acme.example', apiToken: 't-ops' }], bearer: ['pat-ops'] }, ...simOptions });
  server.resetHandlers(...sim.handlers());
  const instance = JiraInstance.parse({
    id: 'jsm-sim',
    system: 'jira',
    baseUrl: BASE,
    auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' },
    projects: ['ITSM'],
    pageSize: 25,
    overlap: '2m',
    ...instanceOverrides,
  });
  const connector = createJiraConnector(instance, { mapping, logger: pino({ level: 'silent' }), retry: { baseMs: 1, maxMs: 2 }, responseValidation: 'throw' });
  const store = new MemoryStore();
  const engine = new SyncEngine({ store, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date(now) });
  engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  return { sim, store, engine, connector, clock };
}

describe('Jira connector × simulator × sync engine', () => {
  it('mirrors every change of a bulk site where many issues share a minute, through 429s and a 503', async () => {
    const { sim, store, engine } = world();
    const keys = sim.bulkCreateIssues(400, { seed: 11, days: 1 });
    sim.faults.every(9, { kind: 'rate-limit', retryAfterSec: 0, reason: 'jira-burst-based' }, { path: '/search/jql' });
    sim.faults.next({ kind: 'server-error', status: 503 }, { path: '/servicedeskapi/' });

    const report = await engine.sync('jsm-sim');

    expect(store.invalid).toEqual([]);
    expect(store.changes.size).toBe(400);
    expect(new Set([...store.changes.values()].map((c) => c.key))).toEqual(new Set(keys));
    for (const issue of sim.store.all) {
      const change = store.changes.get(`jira:jsm-sim:${issue.id}`);
      expect(change?.nativeRevision).toBe(issue.histories.length);
      expect(change?.nativeState).toBe(sim.workflow.status(issue.state.fields.status as string)?.name);
    }
    // Each change was written once: re-reading the cursor minute wrote nothing twice.
    expect([...store.revisions.values()].every((n) => n === 1)).toBe(true);
    expect(report.streams[0]?.written).toBe(400);
  });

  it('picks up edits that land in the minute of the saved cursor on the next run', async () => {
    const { sim, store, engine, clock } = world();
    sim.seedDemoData({ count: 30, seed: 3 });
    await engine.sync('jsm-sim');
    expect(store.changes.size).toBe(30);
    const cursor = (await store.getCursor('jsm-sim', 'changes')) as StreamCursor;

    clock.advance(5_000);
    const latest = sim.store.all.find((i) => i.id === cursor.id);
    const other = sim.store.all.find((i) => i.id !== cursor.id);
    sim.editIssue(latest?.key ?? '', { 'Change risk': 'Critical' });
    sim.editIssue(other?.key ?? '', { summary: 'Renamed in the same minute' });
    sim.addComment(other?.key ?? '', 'CAB notes attached', { internal: true });
    await engine.sync('jsm-sim');

    expect(store.changes.get(`jira:jsm-sim:${latest?.id}`)?.risk.level).toBe('very_high');
    const renamed = await store.getChange(`jira:jsm-sim:${other?.id}`);
    expect(renamed?.change.title).toBe('Renamed in the same minute');
    expect(renamed?.journal.find((j) => j.text === 'CAB notes attached')?.kind).toBe('work_note');
    expect(store.changes.size).toBe(30);
  });

  it('mirrors approvals per approver and comments as the site has them', async () => {
    const { sim, store, engine } = world();
    sim.seedDemoData({ count: 60, seed: 9 });
    await engine.sync('jsm-sim');
    // One row per approver; a step with nobody named yet is one row without an approver.
    const expectedApprovals = sim.store.all.flatMap((i) => i.approvals.flatMap((a) => (a.approvers.length === 0 ? [a.id] : a.approvers.map((x) => `${a.id}:${x.accountId}`))));
    const expectedComments = sim.store.all.flatMap((i) => i.comments.map((c) => c.id));
    expect(expectedApprovals.length).toBeGreaterThan(0);
    expect([...store.approvals.values()].map((a) => a.id).toSorted()).toEqual(expectedApprovals.toSorted());
    expect(store.journal.size).toBe(expectedComments.length);
  });

  it('misses a write still inside the search lag, then mirrors it on the next run (or at once through a webhook re-fetch)', async () => {
    const { sim, store, engine, clock } = world({ searchLagMs: 30_000 });
    sim.seedDemoData({ count: 6, seed: 2 });
    clock.advance(60_000);
    await engine.sync('jsm-sim');
    expect(store.changes.size).toBe(6);

    const fresh = sim.createIssue({ summary: 'Hotfix TLS', 'Change type': 'Emergency' });
    clock.advance(1_000);
    await engine.sync('jsm-sim');
    expect(store.changes.has(`jira:jsm-sim:${fresh.id}`)).toBe(false);

    // GET issue is consistent: the webhook path sees it at once.
    expect(await engine.syncOne('jsm-sim', fresh.id)).toMatchObject({ changesWritten: 1 });
    store.changes.delete(`jira:jsm-sim:${fresh.id}`);

    clock.advance(60_000);
    await engine.sync('jsm-sim');
    expect(store.changes.get(`jira:jsm-sim:${fresh.id}`)?.type).toBe('emergency');
  });

  it('stops with CG_JIRA_AUTH_REJECTED once the API token is revoked', async () => {
    const { sim, engine } = world();
    sim.seedDemoData({ count: 3, seed: 1 });
    sim.revokeToken('t-ops');
    await expect(engine.sync('jsm-sim')).rejects.toMatchObject({ code: 'CG_JIRA_AUTH_REJECTED', kind: 'config' });
  });
});

describe('Jira Data Center connector × simulator', () => {
  it('mirrors a Data Center server through REST v2 with a PAT, wiki text and users by key', async () => {
    const { sim, store, engine } = world({ flavor: 'datacenter', baseUrl: BASE }, { flavor: 'datacenter', auth: { kind: 'pat', token: 'pat-ops' } });
    sim.seedDemoData({ count: 40, seed: 5 });
    sim.resetRequests();
    await engine.sync('jsm-sim');

    expect(store.invalid).toEqual([]);
    expect(store.changes.size).toBe(40);
    const paths = new Set(sim.requests.map((r) => r.path.replace(/ITSM-\d+|\d{5}/g, '{id}')));
    expect(paths.has('/rest/api/2/search')).toBe(true);
    expect([...paths].some((p) => p.startsWith('/rest/api/3'))).toBe(false);
    expect(sim.requests.every((r) => r.auth === 'bearer')).toBe(true);
    const withPlan = [...store.changes.values()].find((c) => c.plans.implementation !== null);
    expect(withPlan?.plans.implementation).toContain('Drain traffic');
    const bob = sim.user('bob.implementer');
    expect([...store.changes.values()].find((c) => c.assignee !== null)?.assignee).toEqual({ id: bob.key, name: bob.displayName });
  });
});
