import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';

const BASE = 'https://acme.atlassian.net';
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

function names(sim: JiraSimulator, keys: string[], pick: (fields: Record<string, unknown>, key: string) => string): Set<string> {
  return new Set(keys.map((k) => pick(sim.issue(k).state.fields, k)));
}

async function renderSeeded(seed: number): Promise<unknown> {
  const sim = new JiraSimulator({ baseUrl: BASE, clock: () => Date.UTC(2025, 5, 1) });
  sim.seedDemoData({ count: 40, seed });
  server.resetHandlers(...sim.handlers());
  const res = await fetch(`${BASE}/rest/api/3/search/jql?jql=project%3DITSM&fields=*all&expand=changelog&maxResults=100`);
  return res.json();
}

describe('seeded data', () => {
  it('demo data covers every change type, risk and status, with approvals and public and internal comments', () => {
    const sim = new JiraSimulator({ baseUrl: BASE, clock: () => Date.UTC(2025, 5, 1) });
    const keys = sim.seedDemoData();
    expect(keys).toHaveLength(200);
    const type = sim.fieldId('Change type');
    const risk = sim.fieldId('Change risk');
    const combos = names(sim, keys, (f) => `${(f[type] as { value: string }).value}/${(f[risk] as { value: string }).value}`);
    expect(combos.size).toBe(12);
    const statuses = names(sim, keys, (f) => sim.workflow.status(f.status as string)?.name ?? '?');
    expect([...statuses].toSorted()).toEqual(sim.workflow.def.statuses.map((s) => s.name).toSorted());
    const decisions = new Set(keys.flatMap((k) => sim.issue(k).approvals.map((a) => a.finalDecision)));
    expect([...decisions].toSorted()).toEqual(['approved', 'declined', 'pending']);
    const comments = keys.flatMap((k) => sim.issue(k).comments);
    expect(comments.some((c) => c.internal)).toBe(true);
    expect(comments.some((c) => !c.internal)).toBe(true);
    expect(keys.every((k) => (sim.issue(k).state.fields.updated as number) <= Date.UTC(2025, 5, 1))).toBe(true);
  });

  it('is deterministic for a seed', async () => {
    const a = await renderSeeded(9);
    expect(await renderSeeded(9)).toEqual(a);
    expect(await renderSeeded(10)).not.toEqual(a);
  });

  it('bulk-creates 50,000 issues whose updated minutes are shared, all reachable by id-only paging', async () => {
    const sim = new JiraSimulator({ baseUrl: BASE, clock: () => Date.UTC(2025, 5, 1) });
    server.resetHandlers(...sim.handlers());
    const keys = sim.bulkCreateIssues(50_000, { seed: 11 });
    expect(keys).toHaveLength(50_000);
    const perMinute = new Map<number, number>();
    for (const k of keys) {
      const m = Math.floor((sim.issue(k).state.fields.updated as number) / 60_000);
      perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
    }
    expect(Math.max(...perMinute.values())).toBeGreaterThan(3);
    const seen = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await fetch(`${BASE}/rest/api/3/search/jql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jql: 'project = ITSM ORDER BY updated ASC', fields: ['id'], maxResults: 5000, ...(token ? { nextPageToken: token } : {}) }) });
      const body = (await res.json()) as { issues: { id: string }[]; nextPageToken?: string };
      for (const i of body.issues) seen.add(i.id);
      token = body.nextPageToken;
      pages++;
    } while (token);
    expect(pages).toBe(10);
    expect(seen.size).toBe(50_000);
  });
});
