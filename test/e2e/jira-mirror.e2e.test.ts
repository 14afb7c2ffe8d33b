// End to end over real HTTP: the Jira simulator holds 5,000 change issues and
// sends signed admin webhooks (10% dropped, 10% duplicated, reordered) to a real
// `changegate serve` child process that also syncs on a 5-second schedule.
// Issues are edited, transitioned and created while it syncs, the process is
// killed once (SIGKILL) with deliveries in hand and restarted, and the mirror
// must then equal what the simulator serves, field by field.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { http } from 'msw';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamCursor, StreamItem } from '../../src/kit/connector.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { seededRandom } from '../../connectors/jira/simulator/seeded-random.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import type { Change } from '../../src/domain/change.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { freePort, spawnServe, until } from '../support/serve-child.ts';

const INSTANCE = 'jsm-e2e';
const SECRET = 'whsec-e2e';
const ISSUES = 5000;

async function metric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function ignorePage(): void {}

describe('Jira mirror with webhooks, end to end', () => {
  let sim: JiraSimulator;
  let server: SimulatorServer;
  let dir: string;
  let searchPages = 0;
  let onSearchPage: (n: number) => void = ignorePage;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-jira-e2e-'));
    port = await freePort();
    const hook = http.all(/\/rest\/api\/3\/search\/jql/, () => {
      searchPages += 1;
      onSearchPage(searchPages);
      return undefined; // fall through to the simulator
    });
    server = await startSimulatorServer(() => [hook, ...sim.handlers()]);
    sim = new JiraSimulator({
      baseUrl: server.url,
      webhook: { url: `http://127.0.0.1:${port}/v1/webhooks/jira/${INSTANCE}`, secret: SECRET, dropRate: 0.1, duplicateRate: 0.1, reorder: true, random: seededRandom(7) },
    });
    const keys = sim.bulkCreateIssues(ISSUES, { seed: 42, days: 20 });
    // Some issues carry approvals and comments before the first sync (no webhooks for these).
    for (const key of keys.slice(0, 300)) {
      sim.addApproval(key, { name: 'CAB approval', approvers: ['dan.cab', 'erin.cab'] });
      sim.addComment(key, 'Reviewed the implementation plan.', { emit: false, as: 'carol.changemgr' });
    }
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('equals the simulator after edits, transitions and creates during the sync, lossy webhooks and a SIGKILL', async () => {
    const started = Date.now();
    const db = join(dir, 'mirror.db');
    const config = join(dir, 'changegate.yaml');
    writeFileSync(
      config,
      [
        `store: { kind: sqlite, path: ${db} }`,
        `server: { listen: "127.0.0.1:${port}" }`,
        'log: { level: warn }',
        'instances:',
        `  - { id: ${INSTANCE}, system: jira, baseUrl: "${server.url}", auth: { kind: basic, email: ops@acme.example, apiToken: t-ops }, projects: [ITSM],`,
        `      webhookSecret: ${SECRET}, schedule: "*/5 * * * * *", pageSize: 100, overlap: 2m, retries: 2 }`,
        '',
      ].join('\n'),
    );
    const keys = sim.store.all.map((issue) => issue.key);
    let next = 0;
    let created = 0;
    const drive = (edits: number, transitions: number, creates: number) => {
      for (let i = 0; i < edits; i++) {
        const key = keys[(next++ * 37) % keys.length] as string;
        sim.editIssue(key, i % 3 === 0 ? { summary: `edited during sync #${next}`, 'Change risk': 'High' } : { summary: `edited during sync #${next}` });
      }
      for (let moved = 0; moved < transitions; next++) {
        const issue = sim.issue(keys[(next * 53) % keys.length] as string);
        const step = sim.workflow.available(issue.state.fields.status as string)[0];
        if (!step) continue;
        sim.transitionIssue(issue.key, step.to);
        moved++;
      }
      for (let i = 0; i < creates; i++) sim.createIssue({ summary: `created during sync ${++created}`, 'Change type': 'Normal' });
    };

    // First process: edits at its 8th search page; killed once deliveries from them are arriving.
    // Hooks are armed before the child starts, so a quick first sync cannot outrun them.
    let driven = false;
    onSearchPage = (n) => {
      if (n === 8) {
        drive(100, 25, 10);
        driven = true;
      }
    };
    const first = spawnServe({ configFile: config, port });
    await first.ready;
    // Killed the moment the inbox holds deliveries it accepted and has not finished.
    const inbox = new DatabaseSync(db, { readOnly: true });
    const inboxCount = inbox.prepare(`SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE status = 'pending') AS pending FROM webhook_deliveries`);
    let pendingAtKill = 0;
    await until('deliveries accepted and not yet worked', 30_000, async () => {
      const { total, pending } = inboxCount.get() as { total: number; pending: number };
      if (!driven || total < 20 || pending === 0) return undefined;
      first.child.kill('SIGKILL');
      pendingAtKill = pending;
      return true;
    }, { everyMs: 5 });
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(pendingAtKill).toBeGreaterThan(0);
    const pagesBefore = searchPages;

    // Restarted: more edits at its 3rd search page, then it runs on.
    let drivenAgain = false;
    onSearchPage = (n) => {
      if (n === pagesBefore + 3) {
        drive(100, 25, 10);
        drivenAgain = true;
      }
    };
    const second = spawnServe({ configFile: config, port });
    await second.ready;
    await until('the second edits', 30_000, async () => (drivenAgain ? true : undefined));
    await sim.flushWebhooks();
    const okRuns = (): Promise<number> => metric(second.url, 'changegate_sync_runs_total', `instance="${INSTANCE}",outcome="ok"`);
    const runsAfterEdits = await okRuns();
    // A whole run that started after the last edit, and an empty inbox.
    await until('a full sync after the last edit', 60_000, async () => ((await okRuns()) >= runsAfterEdits + 2 ? true : undefined));
    // Deliveries the killed process had claimed are released when the next process starts (its pid is gone).
    try {
      await until('every accepted delivery to be worked', 60_000, async () => ((inboxCount.get() as { pending: number }).pending === 0 ? true : undefined));
    } finally {
      inbox.close();
    }
    const accepted = await metric(second.url, 'changegate_webhook_deliveries_total', 'outcome="accepted"');
    const duplicates = await metric(second.url, 'changegate_webhook_deliveries_total', 'outcome="duplicate"');
    const errors = second.lines().filter((l) => (l['level'] as number) >= 50);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    const syncedIn = Date.now() - started;

    expect(errors).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
    expect(duplicates).toBeGreaterThan(0);
    expect(sim.webhookStats.dropped).toBeGreaterThan(0);

    // Every delivery the site got through was stored once and worked to the end.
    const check = new DatabaseSync(db, { readOnly: true });
    const byStatus = check.prepare('SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status').all() as { status: string; n: number }[];
    check.close();
    expect(byStatus.map((r) => r.status)).toEqual(['done']);
    const stored = byStatus[0]?.n ?? 0;
    expect(stored).toBeGreaterThan(pendingAtKill);
    // Duplicates were answered 202 but stored once.
    expect(stored).toBeLessThan(sim.webhookStats.delivered);

    // What the simulator serves now, through the connector's own reading and mapping.
    const instance = JiraInstance.parse({ id: INSTANCE, system: 'jira', baseUrl: server.url, auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' }, projects: ['ITSM'] });
    const reader = createJiraConnector(instance, { mapping: loadJiraMapping(), logger: pino({ level: 'silent' }), concurrency: 16 });
    const served = new Map<string, { change: Change; approvals: string[]; journal: string[] }>();
    let after: StreamCursor | null = null;
    for (;;) {
      const page = await reader.readPage({ stream: 'changes', after, offset: 0, pageSize: 100 });
      let current: { change: Change; approvals: string[]; journal: string[] } | undefined;
      for (const item of page.items as StreamItem[]) {
        if (item.kind === 'change') served.set(item.change.nativeId, (current = { change: item.change, approvals: [], journal: [] }));
        else if (item.kind === 'approval') current?.approvals.push(`${item.approval.id}=${item.approval.state}`);
        else if (item.kind === 'journal') current?.journal.push(item.entry.id);
        else throw new Error(`the simulator served an invalid record: ${item.ref}`);
      }
      if (!page.hasMore || page.last === null) break;
      after = page.last;
    }
    expect(served.size).toBe(ISSUES + 20);

    const store = SqliteChangeStore.open(db);
    try {
      expect(await store.countChanges(INSTANCE)).toBe(ISSUES + 20);
      let revisions = 0;
      for (const [nativeId, expected] of served) {
        const id = `jira:${INSTANCE}:${nativeId}`;
        const mirrored = await store.getChange(id);
        expect(mirrored?.change.key).toBe(expected.change.key);
        expect(mirrored?.change).toEqual(expected.change);
        expect(mirrored?.approvals.map((a) => `${a.id}=${a.state}`).toSorted()).toEqual(expected.approvals.toSorted());
        expect(mirrored?.journal.map((j) => j.id).toSorted()).toEqual(expected.journal.toSorted());
        expect(mirrored?.journal).toHaveLength(sim.issue(expected.change.key).comments.length);
        // No version recorded twice: each revision differs from the one before and moves forward,
        // in revision and in time (an older version recorded under a newer revision goes back in time).
        // Instants are compared as such: a revision's updatedAt may be written with or without milliseconds.
        const history = await store.listRevisions(id);
        revisions += history.length;
        expect(new Set(history.map((r) => r.hash)).size).toBe(history.length);
        for (let i = 1; i < history.length; i++) {
          const [a, b] = [history[i - 1], history[i]];
          const [from, to] = [Date.parse(a?.updatedAt ?? ''), Date.parse(b?.updatedAt ?? '')];
          expect(to).toBeGreaterThanOrEqual(from);
          expect((b?.nativeRevision ?? 0) > (a?.nativeRevision ?? 0) || (b?.nativeRevision === a?.nativeRevision && to > from)).toBe(true);
        }
        expect(history.at(-1)?.nativeRevision).toBe(expected.change.nativeRevision);
      }
      // 5,020 first versions plus the versions observed after an edit or a transition.
      expect(revisions).toBeGreaterThan(ISSUES + 20);
    } finally {
      await store.close();
    }
    process.stdout.write(`jira e2e: kill (${pendingAtKill} deliveries pending), restart and convergence in ${(syncedIn / 1000).toFixed(1)} s; ${stored} deliveries stored, ${accepted} deliveries accepted and ${duplicates} duplicates acknowledged without reprocessing by the restarted process; site stats ${JSON.stringify(sim.webhookStats)}\n`);
  }, 240_000);
});
