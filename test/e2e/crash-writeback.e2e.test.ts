// End to end over real HTTP: `changegate serve` child processes sync the
// ServiceNow simulator with write-back on. The first is killed (SIGKILL) after
// it mirrored every approval and note and before it stored any change (the
// changes stream is read last); the second is killed in
// the middle of writing verdicts and notes. The third must assess what is still
// owed and finish the write-back at once, not at the next clock pass or when
// the dead worker's ten-minute lease runs out, and every ticket must end with
// exactly one verdict note.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { http } from 'msw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { freePort, spawnServe, until } from '../support/serve-child.ts';

const INSTANCE = 'sn-crash';
const CHANGES = 60;
const ignore = (): void => undefined;

describe('write-back after a SIGKILL, end to end', () => {
  let sim: ServiceNowSimulator;
  let server: SimulatorServer;
  let dir: string;
  let patches = 0;
  let onPatch: (n: number) => void = ignore;
  let onChangesRead: () => void = ignore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-e2e-crash-'));
    // Every ticket write (verdict fields, work notes) is a PATCH of the change.
    const hook = http.patch(/\/api\/now\/table\/change_request\/[0-9a-f]+$/, () => {
      patches += 1;
      onPatch(patches);
      return undefined; // fall through to the simulator
    });
    // The changes are the last stream a sync reads, after the approvals and notes.
    const changesList = http.get(/\/api\/now\/table\/change_request$/, () => {
      onChangesRead();
      return undefined;
    });
    server = await startSimulatorServer(() => [hook, changesList, ...sim.handlers()]);
    sim = new ServiceNowSimulator({ baseUrl: server.url, customFields: Object.values(VERDICT_FIELDS) });
    for (let i = 0; i < CHANGES; i++) sim.createChange({ short_description: `patch the web tier ${i}`, type: 'normal' });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes the dead process write-back at once and leaves one verdict note per ticket', async () => {
    const db = join(dir, 'crash.db');
    const config = join(dir, 'changegate.yaml');
    const port = await freePort();
    writeFileSync(
      config,
      [
        `store: { kind: sqlite, path: ${db} }`,
        `server: { listen: "127.0.0.1:${port}" }`,
        'log: { level: warn }',
        // The clock pass never runs during the test: what the restart does is start-up's doing.
        'reassess: "0 0 1 1 *"',
        'instances:',
        `  - { id: ${INSTANCE}, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, pageSize: 20, retries: 2, writeBack: true, schedule: "0 0 1 1 *" }`,
        '',
      ].join('\n'),
    );

    // Killed as the changes stream begins: nothing of it is stored, nothing is assessed.
    // The hook is armed before the child can reach the simulator: a quick first sync must not outrun it.
    const first = spawnServe({ configFile: config, port });
    onChangesRead = () => first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    onChangesRead = ignore;
    const outbox = new DatabaseSync(db, { readOnly: true });
    expect(outbox.prepare('SELECT COUNT(*) AS n FROM changes').get()).toEqual({ n: 0 });
    const owedCount = outbox.prepare('SELECT COUNT(*) AS n FROM changes WHERE assessed_seq < last_seq');

    // Its successor reads the changes (their cursor was never saved) and judges them.
    // Killed in the middle of write-back: the sixth ticket write reaches the simulator after the process is gone.
    const second = spawnServe({ configFile: config, port });
    onPatch = (n) => {
      if (n === 6) second.child.kill('SIGKILL');
    };
    expect((await second.exited).signal).toBe('SIGKILL');
    onPatch = ignore;
    const byStatus = outbox.prepare(`SELECT COUNT(*) FILTER (WHERE status = 'claimed') AS claimed, COUNT(*) FILTER (WHERE status IN ('pending', 'claimed')) AS open FROM outbox`);
    try {
      const left = byStatus.get() as { claimed: number; open: number };
      const owed = (owedCount.get() as { n: number }).n;
      process.stdout.write(`crash e2e: killed at ticket write 6 holding ${left.claimed} claimed outbox items (${left.open} open), ${owed} changes mirrored and not yet assessed\n`);
      // The dead worker held items under its ten-minute lease.
      expect(left.claimed).toBeGreaterThan(0);

      const third = spawnServe({ configFile: config, port });
      await third.ready;
      // Nothing waits for the lease: the outbox empties while the dead worker's lease still runs.
      await until('the outbox to be worked', 60_000, async () => ((byStatus.get() as { open: number }).open === 0 ? true : undefined));
      expect(third.lines().map((l) => l['msg'])).toContainEqual(expect.stringMatching(/^released \d+ outbox items, 0 webhook deliveries and 0 event deliveries held by 1 process\(es\) that died$/));
      third.child.kill('SIGTERM');
      expect(await third.exited).toEqual({ code: 0, signal: null });
    } finally {
      outbox.close();
    }

    // Every ticket carries exactly one verdict note, every change is assessed, and none is owed a look at a newer revision.
    const ids = sim.listChanges().map((row) => row.sys_id as string);
    expect(ids).toHaveLength(CHANGES);
    const notes = (sysId: string): number => sim.journalFor(sysId).filter((row) => row.element === 'work_notes' && String(row.value).includes('[changegate:')).length;
    expect(ids.map((sysId) => [sysId, notes(sysId)])).toEqual(ids.map((sysId) => [sysId, 1]));
    const store = SqliteChangeStore.open(db);
    const assessments = SqliteAssessmentStore.open(db);
    try {
      expect(await store.listOwedAssessments({ limit: 1000 })).toEqual([]);
      const unassessed: string[] = [];
      for (const sysId of ids) if ((await assessments.latestAssessment(`servicenow:${INSTANCE}:${sysId}`)) === null) unassessed.push(sysId);
      expect(unassessed).toEqual([]);
    } finally {
      await assessments.close();
      await store.close();
    }
  });
});
