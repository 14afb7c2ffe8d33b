// End to end over real HTTP, once per system: a `changegate serve` child mirrors
// a change in Implement and writes its first verdict; the change moves to Review,
// so a second child queues the evidence bundle for the ticket and is killed
// (SIGKILL) the moment the simulator has stored the upload, before the answer
// can reach it and the outbox can settle the item. A third child must find the
// file on the ticket by its name and settle the item as already done: the
// ticket ends with exactly one copy, which `changegate evidence verify` accepts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVIDENCE_PROPERTY } from '../../connectors/jira/jira-writer.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import { freePort, spawnServe, until, type ServeChild } from '../support/serve-child.ts';

interface Ticket {
  /** `instances:` entry of the configuration, without the id. */
  instance(url: string): string;
  /** Moves the change from Implement to Review, as a person would. */
  toReview(): void;
  /** Calls `kill` once the ticket system has stored an uploaded file. */
  onStored(kill: () => void): void;
  /** The files on the ticket: name and text. */
  files(): { name: string; text: string }[];
  /** The head the ticket names outside the file (Jira's issue property); null where the system keeps none. */
  recordedHead(): unknown;
  readonly recordsHead: boolean;
}

function serviceNowTicket(sim: ServiceNowSimulator): Ticket {
  const sysId = sim.createChange({ short_description: 'Patch the web tier', type: 'normal', state: '-1' }).sys_id as string;
  return {
    instance: (url) => `system: servicenow, baseUrl: "${url}", auth: { kind: basic, username: admin, password: admin }`,
    toReview: () => void sim.updateChange(sysId, { state: '0' }),
    onStored: (kill) => {
      sim.onWrite((e) => {
        if (e.table === 'sys_attachment' && e.operation === 'insert') kill();
      });
    },
    files: () => sim.attachmentsFor(sysId).map((a) => ({ name: a.file_name as string, text: Buffer.from(sim.attachmentContent(a.sys_id as string) ?? []).toString('utf8') })),
    recordedHead: () => null,
    recordsHead: false,
  };
}

function jiraTicket(sim: JiraSimulator): Ticket {
  const issue = sim.createIssue({ summary: 'Rotate the payments HSM keys', 'Change type': 'Normal' }, { issueType: '[System] Change' });
  const actorId = sim.user('alice.requester').accountId;
  // Seeded straight into Implementing, as a site's history would have it.
  sim.store.moveTo(issue, sim.workflow.status('Implementing') as NonNullable<ReturnType<typeof sim.workflow.status>>, { actorId });
  return {
    instance: (url) => `system: jira, baseUrl: "${url}", auth: { kind: basic, email: ops@acme.example, apiToken: t-ops }, projects: [ITSM]`,
    toReview: () => void sim.transitionIssue(issue.key, 'Peer review', { as: 'alice.requester' }),
    onStored: (kill) =>
      sim.store.onEvent((e) => {
        if (e.type === 'updated' && e.history.items.some((item) => item.fieldId === 'attachment')) kill();
      }),
    files: () => sim.issue(issue.key).attachments.map((a) => ({ name: a.filename, text: Buffer.from(a.content).toString('utf8') })),
    recordedHead: () => sim.issue(issue.key).properties.get(EVIDENCE_PROPERTY) ?? null,
    recordsHead: true,
  };
}

const systems = [
  ['ServiceNow', (url: string) => new ServiceNowSimulator({ baseUrl: url, customFields: Object.values(VERDICT_FIELDS) }), serviceNowTicket],
  ['Jira', (url: string) => new JiraSimulator({ baseUrl: url }), jiraTicket],
] as const;

describe.each(systems)('the evidence bundle on a %s ticket after a SIGKILL between upload and acknowledgement', (_name, makeSim, makeTicket) => {
  let server: SimulatorServer;
  let sim: ServiceNowSimulator | JiraSimulator;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-e2e-attach-'));
    server = await startSimulatorServer(() => sim.handlers());
    sim = makeSim(server.url);
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves exactly one copy, settled as already done by the next process', async () => {
    const ticket = (makeTicket as (s: typeof sim) => Ticket)(sim);
    const db = join(dir, 'attach.db');
    const config = join(dir, 'changegate.yaml');
    const port = await freePort();
    writeFileSync(
      config,
      [
        `store: { kind: sqlite, path: ${db} }`,
        `server: { listen: "127.0.0.1:${port}" }`,
        'log: { level: warn }',
        'reassess: "0 0 1 1 *"',
        'instances:',
        `  - { id: itsm, ${ticket.instance(server.url)}, retries: 2, writeBack: true, schedule: "0 0 1 1 *" }`,
        '',
      ].join('\n'),
    );
    const open = (): { n: number; done: number } => {
      const outbox = new DatabaseSync(db, { readOnly: true });
      try {
        return outbox.prepare(`SELECT COUNT(*) FILTER (WHERE status IN ('pending', 'claimed')) AS n, COUNT(*) FILTER (WHERE status = 'done') AS done FROM outbox`).get() as { n: number; done: number };
      } finally {
        outbox.close();
      }
    };
    const settled = async (child: ServeChild, what: string): Promise<void> => {
      await until(what, 60_000, async () => {
        const { n, done } = open();
        return n === 0 && done > 0 ? true : undefined;
      }, { stillRunning: () => expect(child.child.exitCode).toBeNull() });
    };

    // The first process mirrors the change in Implement and writes its first verdict: the ledger's baseline.
    const first = spawnServe({ configFile: config, port });
    await first.ready;
    await settled(first, 'the first verdict to be written');
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(ticket.files()).toEqual([]);

    // Moved to Review: the second process records the move and queues the summary and the bundle; it dies once the upload is stored.
    ticket.toReview();
    const second = spawnServe({ configFile: config, port });
    ticket.onStored(() => second.child.kill('SIGKILL'));
    expect((await second.exited).signal).toBe('SIGKILL');
    const outbox = new DatabaseSync(db, { readOnly: true });
    const attach = outbox.prepare(`SELECT status, result, json_extract(payload, '$.file.name') AS name FROM outbox WHERE action = 'attach'`);
    try {
      const [held] = attach.all() as { status: string; result: string | null; name: string }[];
      // The ticket has the file; the outbox never heard so.
      expect(held?.status).toBe('claimed');
      expect(ticket.files().map((f) => f.name)).toEqual([held?.name]);

      const third = spawnServe({ configFile: config, port });
      await third.ready;
      await settled(third, 'the outbox to be worked after the restart');
      third.child.kill('SIGTERM');
      expect(await third.exited).toEqual({ code: 0, signal: null });

      expect(attach.all()).toEqual([{ status: 'done', result: 'already-done', name: held?.name }]);
      const files = ticket.files();
      expect(files.map((f) => f.name)).toEqual([held?.name]);
      const report = verifyBundle(JSON.parse(files[0]?.text ?? '{}'));
      expect(report.ok).toBe(true);
      expect(report.entries).toBeGreaterThan(0);
      expect(held?.name).toContain(`-${report.entries}-${(report.head ?? '').slice(0, 8)}.json`);
      expect(ticket.recordedHead()).toEqual(ticket.recordsHead ? { seq: report.entries, hash: report.head, file: held?.name } : null);
    } finally {
      outbox.close();
    }
  });
});
