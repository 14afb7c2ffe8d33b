// A process killed during write-back leaves claims and unassessed changes
// behind. The next process starts with nothing waiting for the clock: the
// dead process's outbox items, webhook deliveries and event deliveries are
// worked at once (not when their ten-minute and thirty-second leases run
// out), every change whose latest revision was never assessed is assessed (a
// canceled one too, which the clock pass skips), each ticket gets its note
// once, and what a live process holds is left to it.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import { ChangegateConfig, registry } from '../../src/app/registry.ts';
import type { ClaimOwner } from '../../src/store/claim-owner.ts';
import { SqliteEventStore } from '../../src/store/sqlite/sqlite-event-store.ts';

const LEASE_MS = 10 * 60_000;

/** The pid of a process that ran and exited: the owner a SIGKILL leaves behind. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

const owner = (id: string, pid: number): ClaimOwner => ({ id, host: hostname(), pid, startedAt: new Date().toISOString() });

let dir: string;
let snServer: SimulatorServer;
let jiraServer: SimulatorServer;
let sn: ServiceNowSimulator;
let jira: JiraSimulator;

function configFor(path: string) {
  return {
    config: ChangegateConfig.parse({
      store: { kind: 'sqlite', path },
      server: { listen: '127.0.0.1:0' },
      instances: [
        { id: 'sn', system: 'servicenow', baseUrl: snServer.url, auth: { kind: 'basic', username: 'admin', password: 'admin' }, schedule: '0 0 1 1 *', retries: 1, writeBack: true },
        {
          id: 'jsm',
          system: 'jira',
          baseUrl: jiraServer.url,
          auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' },
          projects: ['ITSM'],
          webhookSecret: 'whsec-crash',
          schedule: '0 0 1 1 *',
          retries: 1,
          writeBack: true,
        },
      ],
      // Never during the test: what happens must not be the clock pass's doing.
      reassess: '0 0 1 1 *',
    }),
    file: join(dir, 'changegate.yaml'),
    registry,
  };
}

const workNotes = (sysId: string): string[] =>
  sn
    .journalFor(sysId)
    .filter((row) => row.element === 'work_notes' && String(row.value).includes('[changegate:'))
    .map((row) => String(row.value));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-crash-'));
  snServer = await startSimulatorServer(() => sn.handlers());
  jiraServer = await startSimulatorServer(() => jira.handlers());
  // The update set's verdict fields: without them ServiceNow ignores the verdict and the outbox parks it.
  sn = new ServiceNowSimulator({ baseUrl: snServer.url, customFields: Object.values(VERDICT_FIELDS) });
  jira = new JiraSimulator({ baseUrl: jiraServer.url });
});

afterAll(async () => {
  await snServer.close();
  await jiraServer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('start-up after a killed process', () => {
  it('works what the dead process held and assesses what it left unassessed at once, and leaves a live process its claims', async () => {
    const path = join(dir, 'crash.db');
    const issues = [1, 2, 3].map((i) => jira.createIssue({ summary: `upgrade the database cluster ${i}`, 'Change type': 'Normal' }).key);
    const assessedBefore = [1, 2].map((i) => sn.createChange({ short_description: `patch the web tier ${i}`, type: 'normal' }).sys_id as string);
    const dead = owner('dead-epoch', deadPid());
    const live = owner('live-epoch', process.ppid);

    // The process that is killed: it synced and queued write-back, its worker claimed items, then it died.
    const first = await createApp(configFor(path), { logger: pino({ level: 'silent' }) });
    await first.engine.sync('jsm');
    await first.engine.sync('sn');
    const queued = await first.outbox.list({ status: 'pending' });
    expect(queued).toHaveLength(2 * (issues.length + assessedBefore.length));
    // Jira's items first (queued first): two issues' verdict and note held by the dead worker, the third's by a live one.
    const heldByDead = await first.outbox.claim(4, new Date(), LEASE_MS, dead);
    const heldByLive = await first.outbox.claim(2, new Date(), LEASE_MS, live);
    expect(new Set(heldByDead.map((i) => i.instance))).toEqual(new Set(['jsm']));
    expect(heldByLive.map((i) => i.instance)).toEqual(['jsm', 'jsm']);
    const liveIssue = heldByLive[0]?.nativeId;

    // It mirrored more but died before assessing: a new change, a canceled one and an edit of an assessed one.
    first.runner.onChangesWritten = async () => undefined;
    const fresh = sn.createChange({ short_description: 'rotate certificates', type: 'normal' }).sys_id as string;
    const canceled = sn.createChange({ short_description: 'abandoned migration', type: 'normal', state: '4' }).sys_id as string;
    sn.updateChange(assessedBefore[0] as string, { short_description: 'patch the web tier, second wave' });
    await first.engine.sync('sn');

    // And it had leased two webhook deliveries: one now held by a dead owner, one by a live one.
    const [deadIssue, otherIssue] = issues;
    jira.editIssue(deadIssue as string, { summary: 'edited while the process was down' });
    const issueId = (key: string): string => jira.issue(key).id;
    await first.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'd-dead', receivedAt: new Date().toISOString(), body: { issue: { id: issueId(deadIssue as string) } } });
    await first.deliveries.claim(1, new Date(), { leaseMs: 30_000, owner: dead });
    await first.deliveries.record({ system: 'jira', instance: 'jsm', deliveryId: 'd-live', receivedAt: new Date().toISOString(), body: { issue: { id: issueId(otherIssue as string) } } });
    await first.deliveries.claim(1, new Date(), { leaseMs: 30_000, owner: live });
    // And two CI event deliveries, one leased by each.
    const events = SqliteEventStore.open(path);
    for (const run of ['run-dead', 'run-live']) {
      await events.record({ source: 'ci', kind: 'generic', deliveryId: run, receivedAt: new Date().toISOString(), headers: {}, rawBody: Buffer.from(JSON.stringify({ ci: [{ id: run, status: 'success' }] })) });
    }
    await events.claim(1, new Date(), { owner: dead });
    await events.claim(1, new Date(), { owner: live });
    const mirrored = (await first.store.listChanges({ limit: 100 })).items;
    expect(await first.store.listOwedAssessments({ limit: 100 })).toHaveLength(3);
    // Closing only releases connections; a SIGKILL would leave the file the same.
    await first.close();

    const said: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) said.push(String((JSON.parse(line) as { msg: unknown }).msg));
        done();
      },
    });
    const second: ChangegateApp = await createApp(configFor(path), { logger: pino({ level: 'info' }, sink) });
    try {
      // No sync runs (runNow off, schedules far away): whatever gets done is start-up's doing.
      await second.serve({ runNow: false });
      expect(said).toContain('released 4 outbox items, 1 webhook deliveries and 1 event deliveries held by 1 process(es) that died');
      await vi.waitFor(() => expect(said).toContain('assessed 3 of 3 changes owed an assessment'), { timeout: 10_000, interval: 20 });
      await second.outboxWorker.drain();

      // Every change has an assessment of its latest revision, the canceled one included.
      const assessedAt = async (id: string): Promise<[string, number | null]> => [id, (await second.assessments.latestAssessment(id))?.revision ?? null];
      const latestAt = async (id: string): Promise<[string, number | null]> => [id, (await second.store.listRevisions(id)).at(-1)?.seq ?? null];
      expect(await Promise.all(mirrored.map((c) => assessedAt(c.id)))).toEqual(await Promise.all(mirrored.map((c) => latestAt(c.id))));
      expect(await second.store.listOwedAssessments({ limit: 100 })).toEqual([]);
      expect(await second.assessments.latestAssessment(`servicenow:sn:${canceled}`)).not.toBeNull();

      // The dead worker's items are done well inside their lease; each ServiceNow ticket has its verdict note once.
      for (const item of heldByDead) expect(await second.outbox.get(item.idempotencyKey)).toMatchObject({ status: 'done', attempts: 2 });
      const snTickets = [...assessedBefore, fresh];
      expect(snTickets.map((sysId) => [sysId, workNotes(sysId).length])).toEqual(snTickets.map((sysId) => [sysId, 1]));
      // A change first seen already finished needs no verdict on its ticket.
      expect(workNotes(canceled)).toEqual([]);
      const notes = (key: string): number => jira.issue(key).comments.filter((c) => JSON.stringify(c.body).includes('changegate')).length;
      const jiraTickets = issues.filter((k) => jira.issue(k).id !== liveIssue);
      expect(jiraTickets.map((key) => [key, notes(key)])).toEqual(jiraTickets.map((key) => [key, 1]));

      // The live process's claims are still its own: not stolen, not written.
      for (const item of heldByLive) expect(await second.outbox.get(item.idempotencyKey)).toMatchObject({ status: 'claimed', attempts: 1, claimOwner: live });
      expect(await second.outbox.counts()).toMatchObject({ claimed: 2, pending: 0, failed: 0 });

      // The dead owner's delivery is worked now (its 30 s lease would still run); the live owner's waits.
      await vi.waitFor(async () => expect(await second.deliveries.get('jira:jsm:d-dead')).toMatchObject({ status: 'done', attempts: 2 }), { timeout: 10_000, interval: 50 });
      expect((await second.store.getChange(deadIssue as string, { instance: 'jsm' }))?.change.title).toBe('edited while the process was down');
      expect(await second.deliveries.get('jira:jsm:d-live')).toMatchObject({ status: 'pending', attempts: 1 });

      // Likewise the event deliveries: the dead owner's CI run is stored now, the live owner's still waits.
      await vi.waitFor(async () => expect(await events.getDelivery('ci:run-dead')).toMatchObject({ status: 'done', attempts: 2 }), { timeout: 10_000, interval: 50 });
      expect(await events.getEvent('ci:run-dead')).toMatchObject({ type: 'ci', event: { status: 'success' } });
      expect(await events.getDelivery('ci:run-live')).toMatchObject({ status: 'pending', attempts: 1 });
      expect(await events.getEvent('ci:run-live')).toBeNull();
    } finally {
      await second.close();
      await events.close();
    }
  });
});
