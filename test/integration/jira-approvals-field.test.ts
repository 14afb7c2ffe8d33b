// JSM approvals ride in the search when the Cloud site has the Approvals field
// (schema type sd-approvals): the mirror holds the same approvals as when they
// are read per issue, without one request per issue. The Jira simulator runs
// in-process (msw) behind the real sync engine and an in-memory SQLite store.

import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

const BASE = 'https://acme.atlassian.net';
const USER = { email: 'ops@acme.example', apiToken: 't-ops' };
// One clock for both sites, so their seeded data is identical.
const NOW = Date.parse('2026-03-12T10:00:00Z');
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const APPROVALS_PATH = /^\/rest\/servicedeskapi\/request\/[^/]+\/approval$/;

/** A full sync of a seeded site; returns every mirrored approval (by change key) and the approvals requests made. */
async function mirror(approvalsField: boolean) {
  const sim = new JiraSimulator({ baseUrl: BASE, auth: { basic: [USER] }, approvalsField, clock: () => NOW });
  const keys = sim.seedDemoData({ count: 40, seed: 3 });
  server.use(...sim.handlers());
  const instance = JiraInstance.parse({ id: 'jsm', system: 'jira', baseUrl: BASE, auth: { kind: 'basic', ...USER }, projects: ['ITSM'], pageSize: 15 });
  const logger = pino({ level: 'silent' });
  const store = SqliteChangeStore.open(':memory:');
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  engine.register({ connector: createJiraConnector(instance, { mapping: loadJiraMapping(), logger, retry: { baseMs: 1, maxMs: 2 } }), pageSize: 15, overlapMs: instance.overlap });
  await engine.sync('jsm', { full: true });
  const approvals: Record<string, string[]> = {};
  const changes: Record<string, unknown> = {};
  for (const key of keys) {
    const got = await store.getChange(key, { instance: 'jsm' });
    approvals[key] = (got?.approvals ?? []).map((a) => `${a.id} ${a.approver?.name ?? '-'} ${a.state} ${a.decidedAt ?? '-'}`).toSorted();
    changes[key] = got?.change;
  }
  await store.close();
  const approvalReads = sim.requests.filter((r) => APPROVALS_PATH.test(r.path)).length;
  return { sim, keys, approvals, changes, approvalReads };
}

describe('JSM approvals through the Approvals field', () => {
  it('mirrors the same approvals as per-issue reads, with no approvals request per issue', async () => {
    const viaField = await mirror(true);
    server.resetHandlers();
    const perIssue = await mirror(false);

    expect(viaField.approvalReads).toBe(0);
    expect(perIssue.approvalReads).toBe(perIssue.keys.length);
    expect(viaField.approvals).toEqual(perIssue.approvals);
    // The change itself (its payload included) is the same either way: approvals live in their own rows.
    expect(viaField.changes).toEqual(perIssue.changes);
    // The seeded site has decided and pending CAB approvals: one mirrored row per approver (one for an approval nobody was asked for).
    const seeded = viaField.keys.reduce((sum, key) => sum + viaField.sim.issue(key).approvals.reduce((n, a) => n + Math.max(1, a.approvers.length), 0), 0);
    expect(seeded).toBeGreaterThan(10);
    expect(Object.values(viaField.approvals).flat()).toHaveLength(seeded);
  });
});
