// End to end over real HTTP: the ServiceNow simulator holds 5,000 changes, the
// real CLI (`changegate sync`) runs in a child process, records are edited and
// created while it runs, the process is killed once and restarted, and the
// mirror must then equal the simulator exactly.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { http } from 'msw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceNowMapping, mapServiceNowChange } from '../../connectors/servicenow/servicenow-mapping.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const INSTANCE = 'sn-e2e';
const ignorePage = (_n: number): void => undefined;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function runSync(configFile: string): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, ['src/main.ts', 'sync', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.resume();
  const finished = new Promise<Finished>((done) => child.on('exit', (code, signal) => done({ code, signal, stderr })));
  return { child, finished };
}

describe('ServiceNow mirror, end to end', () => {
  let sim: ServiceNowSimulator;
  let server: SimulatorServer;
  let dir: string;
  let changePages = 0;
  let onChangePage: (n: number) => void = ignorePage;
  let approvalPages = 0;
  let onApprovalPage: (n: number) => void = ignorePage;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-e2e-'));
    const hook = http.get(/\/api\/now\/table\/change_request$/, () => {
      changePages += 1;
      onChangePage(changePages);
      return undefined; // fall through to the simulator
    });
    // Approvals and notes are read before the changes (the changes stream is last): approvals given while a run
    // reads its approvals are read by the same run, like changes edited while it reads the changes.
    const approvalsHook = http.get(/\/api\/now\/table\/sysapproval_approver$/, () => {
      approvalPages += 1;
      onApprovalPage(approvalPages);
      return undefined;
    });
    server = await startSimulatorServer(() => [hook, approvalsHook, ...sim.handlers()]);
    sim = new ServiceNowSimulator({ baseUrl: server.url });
    sim.bulkCreateChanges(5000, { seed: 42, end: new Date(Date.now() - 3_600_000) });
    const ids = sim.listChanges().map((row) => row.sys_id as string);
    for (const id of ids.slice(0, 300)) {
      sim.addApproval(id, { state: 'requested' }, { touchParent: false });
      sim.addJournal(id, 'work_notes', 'Reviewed the implementation plan.', undefined, { touchParent: false });
    }
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('equals the simulator after edits during the sync and a kill mid-sync', async () => {
    const db = join(dir, 'mirror.db');
    const config = join(dir, 'changegate.yaml');
    writeFileSync(
      config,
      [
        `store: { kind: sqlite, path: ${db} }`,
        'log: { level: warn }',
        'instances:',
        `  - { id: ${INSTANCE}, system: servicenow, baseUrl: "${server.url}", auth: { kind: basic, username: admin, password: admin }, pageSize: 100, overlap: 2m, retries: 2 }`,
        '',
      ].join('\n'),
    );
    const ids = sim.listChanges().map((row) => row.sys_id as string);
    let next = 0;
    const edit = (count: number) => {
      for (let i = 0; i < count; i++) {
        const id = ids[(next++ * 37) % ids.length] as string;
        sim.updateChange(id, { short_description: `edited during sync #${next}` });
        // Every fourth record is edited twice within the same second.
        if (i % 4 === 0) sim.updateChange(id, { description: `second edit in the same second #${next}` });
      }
    };
    const approve = (count: number) => {
      for (let i = 0; i < count; i++) {
        const id = ids[(next++ * 53) % 300] as string;
        const [approval] = sim.approvalsFor(id);
        if (approval) sim.updateApproval(approval.sys_id as string, { state: 'approved' });
        sim.addJournal(id, 'comments', `comment during sync #${next}`);
      }
    };
    const create = (count: number) => {
      for (let i = 0; i < count; i++) sim.createChange({ short_description: `created during sync ${i}`, type: 'normal' });
    };

    // First process: approvals given at its first approvals page, edits at its 5th page of changes, killed at its 15th.
    onApprovalPage = (n) => {
      if (n === 1) approve(10);
    };
    const first = runSync(config);
    onChangePage = (n) => {
      if (n === 5) {
        edit(100);
        create(10);
      }
      if (n === 15) first.child.kill('SIGKILL');
    };
    const killed = await first.finished;
    expect(killed.signal).toBe('SIGKILL');

    // Restarted process: more approvals at its first approvals page, more edits at its 3rd page of changes, then it runs to the end.
    const pagesBefore = changePages;
    const approvalPagesBefore = approvalPages;
    onApprovalPage = (n) => {
      if (n === approvalPagesBefore + 1) approve(10);
    };
    onChangePage = (n) => {
      if (n === pagesBefore + 3) {
        edit(100);
        create(10);
      }
    };
    const second = await runSync(config).finished;
    expect(second.stderr).not.toMatch(/failed/);
    expect(second.code).toBe(0);

    // Read what the simulator serves now, in the connector's own shape.
    const served = new Map<string, Record<string, unknown>>();
    for (let offset = 0; ; offset += 1000) {
      const url = `${server.url}/api/now/table/change_request?sysparm_display_value=all&sysparm_exclude_reference_link=true&sysparm_limit=1000&sysparm_offset=${offset}`;
      const response = await fetch(url, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, accept: 'application/json' } });
      const { result } = (await response.json()) as { result: Record<string, { value: string }>[] };
      for (const record of result) served.set(record['sys_id']?.value as string, record);
      if (result.length < 1000) break;
    }
    expect(served.size).toBe(5020);

    const store = SqliteChangeStore.open(db);
    try {
      expect(await store.countChanges(INSTANCE)).toBe(5020);
      const mapping = loadServiceNowMapping();
      let revisions = 0;
      for (const [sysId, record] of served) {
        const mirrored = await store.getChange(`servicenow:${INSTANCE}:${sysId}`);
        expect(mirrored?.change.nativeId).toBe(sysId);
        // Every field, as served, and the canonical change mapped from it.
        expect(mirrored?.change.raw).toEqual(record);
        expect(mirrored?.change).toEqual(mapServiceNowChange(record, { instance: INSTANCE, baseUrl: server.url, mapping }));
        expect(mirrored?.approvals.map((a) => [a.id, a.nativeState])).toEqual(
          sim
            .approvalsFor(sysId)
            .map((a) => [a.sys_id, a.state])
            .toSorted((a, b) => String(a[0]).localeCompare(String(b[0]))),
        );
        expect(mirrored?.journal.map((j) => j.id).toSorted()).toEqual(sim.journalFor(sysId).map((j) => j.sys_id as string).toSorted());
        // Revisions: one per observed version, never a duplicate, the last one the current sys_mod_count.
        const history = await store.listRevisions(`servicenow:${INSTANCE}:${sysId}`);
        revisions += history.length;
        const natives = history.map((r) => r.nativeRevision);
        expect(natives).toEqual([...new Set(natives)].toSorted((a, b) => a - b));
        expect(natives.at(-1)).toBe(Number(record['sys_mod_count'] && (record['sys_mod_count'] as { value: string }).value));
      }
      // 5,020 first versions plus the versions observed after an edit.
      expect(revisions).toBeGreaterThan(5020);
    } finally {
      await store.close();
    }
  }, 180_000);
});
