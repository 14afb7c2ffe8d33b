// One answer everywhere: on the demo, `changegate check` and the assessment the
// service stores (the one its note on the ticket is written from) agree, gate
// by gate, for every change, ITSM blackout schedules included. The service is
// the app `serve` runs (demo simulators, sync, assessment runner); `check` runs
// in-process against the same instances for the walk, and as a child process
// in demo mode (starting its own simulators, as a user runs it) for a change in
// the year-end freeze.

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangegateApp } from '../../src/app/changegate-app.ts';
import { runCheck } from '../../src/cli/check-command.ts';
import type { LoadedConfig } from '../../src/config/load-config.ts';
import type { Assessment } from '../../src/domain/assessment.ts';
import type { Change } from '../../src/domain/change.ts';
import { registry } from '../../src/app/registry.ts';
import { createLogger } from '../../src/log.ts';
import { startSyncedDemo, type SyncedDemo } from '../support/synced-demo.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface CheckJson {
  exitCode: number;
  calendars: { itsm: string };
  classification: string;
  assessment: {
    scorecard: { recommendation: string };
    next: { to: string; allowed: boolean }[];
    gates: { id: string; into: string; result: string; reason: string }[];
  };
}

let dir: string;
let app: ChangegateApp;
let loaded: LoadedConfig;
const changes: Change[] = [];

let world: SyncedDemo;

beforeAll(async () => {
  world = await startSyncedDemo('cg-agree-');
  ({ dir, app, loaded } = world);
  changes.push(...(await world.changes()));
}, 120_000);

afterAll(async () => {
  await world.close();
});

function collect(): { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: {
      write(t: string) {
        out += t;
        return true;
      },
    },
    stderr: {
      write(t: string) {
        err += t;
        return true;
      },
    },
    out: () => out,
    err: () => err,
  };
}

const gatesOf = (gates: readonly { id: string; into: string; result: string; reason: string }[]) => gates.map((g) => `${g.into} ${g.id} ${g.result}: ${g.reason}`);

function sameAnswer(check: CheckJson, stored: Assessment): void {
  expect(gatesOf(check.assessment.gates)).toEqual(gatesOf(stored.gates));
  expect(check.classification).toBe(stored.classification);
  expect(check.assessment.scorecard.recommendation).toBe(stored.scorecard.recommendation);
  expect(check.assessment.next.filter((n) => n.allowed).map((n) => n.to).toSorted()).toEqual([...stored.allowedTransitions].toSorted());
}

/** `changegate check ARGS` as a user runs it beside `changegate demo`: no configuration, in the directory holding ./data. */
function demoCheck(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'src/main.ts'), 'check', ...args], { cwd: dir, env: { ...process.env, CHANGEGATE_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('changegate check and the service on the demo', () => {
  it('agree gate by gate on every demo change, judged at the instant the service judged it', async () => {
    expect(changes.length).toBeGreaterThan(400);
    let compared = 0;
    let frozen = 0;
    for (const change of changes) {
      const stored = await app.assessments.latestAssessment(change.id);
      expect(stored, `${change.key} has an assessment`).not.toBeNull();
      if (stored === null) continue;
      const io = collect();
      const code = await runCheck(registry, { key: change.key, instance: change.instance, explain: false, json: true, at: stored.assessment.evaluatedAt }, io, {
        loaded,
        instances: app.instances,
        logger: createLogger({ level: 'silent' }),
      });
      expect(code, `${change.key}: ${io.err()}`).toBe(0);
      const answer = JSON.parse(io.out()) as CheckJson;
      expect(answer.calendars.itsm).toBe(change.system === 'servicenow' ? 'read' : 'none');
      sameAnswer(answer, stored.assessment);
      if (stored.assessment.gates.some((g) => g.id === 'authorize.freeze' && g.result === 'fail')) frozen++;
      compared++;
    }
    expect(compared).toBe(changes.length);
    // The comparison covers changes a ServiceNow blackout schedule blocks (finding 1 was exactly those).
    expect(frozen).toBeGreaterThan(0);
  }, 300_000);

  it('agrees as a user runs it in demo mode: the freeze the note names is in check\'s answer too', async () => {
    const blocked: { key: string; at: string; reason: string }[] = [];
    for (const change of changes.filter((c) => c.system === 'servicenow')) {
      const stored = await app.assessments.latestAssessment(change.id);
      const freeze = stored?.assessment.gates.find((g) => g.id === 'authorize.freeze' && g.result === 'fail' && g.reason.includes('Year-end change freeze'));
      if (stored && freeze) blocked.push({ key: change.key, at: stored.assessment.evaluatedAt, reason: freeze.reason });
    }
    const first = blocked[0];
    expect(first).toBeDefined();
    if (first === undefined) return;
    const result = await demoCheck([first.key, '--json', '--at', first.at]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout) as CheckJson;
    expect(answer.calendars.itsm).toBe('read');
    expect(answer.assessment.gates).toContainEqual(expect.objectContaining({ id: 'authorize.freeze', result: 'fail', reason: first.reason }));
  }, 60_000);

  it('takes each demo instance\'s native state values and labels for --to (ServiceNow -2, the Jira status "Awaiting implementation")', async () => {
    const sn = changes.find((c) => c.system === 'servicenow' && c.state === 'authorize');
    const jsm = changes.find((c) => c.system === 'jira' && c.state === 'authorize');
    expect(sn && jsm).toBeDefined();
    if (sn === undefined || jsm === undefined) return;
    const value = await demoCheck([sn.key, '--to=-2']);
    expect(value.stderr).toBe('');
    expect([0, 1]).toContain(value.code);
    expect(value.stdout).toContain('transition authorize → scheduled');
    const label = await demoCheck([jsm.key, '--to', 'Awaiting implementation']);
    expect(label.stderr).toBe('');
    expect([0, 1]).toContain(label.code);
    expect(label.stdout).toContain('transition authorize → scheduled');
    const unknown = await demoCheck([jsm.key, '--to', 'Deployed']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/native states of jsm-demo: "Open" \(new\), .*"Awaiting implementation" \(scheduled\), .*"Failed" \(failed\)\n$/);
  }, 60_000);
});
