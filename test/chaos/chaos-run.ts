// One run of the fault campaign: a fresh world, `serve` started, the plan's
// faults and the people's activity played for a few seconds, every fault
// lifted (the process restarted if it is down), a quiet period (the outbox
// empty and two whole syncs of each instance after changegate's last ticket
// write), `serve` stopped, and the invariants checked.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { DEFAULT_OUTBOX_LEASE_MS } from '../../src/store/outbox-store.ts';
import { checkWorld, type Deviation } from './chaos-check.ts';
import { prng, type Activity, type Fault, type RunPlan } from './chaos-plan.ts';
import { createWorld, JIRA_ID, SN_ID, type ChaosWorld, type SimRequest, type SystemName } from './chaos-world.ts';

export interface RunReport {
  plan: RunPlan;
  ms: number;
  deviations: Deviation[];
  /** What happened that the plan alone does not say (a kill that never found its moment, a quiet period cut short). */
  notes: string[];
}

const SETTLE_DEADLINE_MS = 30_000;
const ARM_GRACE_MS = 2_500;
const LOCK_WAIT_MS = 5_000;
const SQLITE_BUSY = 5;
const SN_NEXT_STATE: Record<string, string> = { '-5': '-4', '-4': '-3', '-3': '-2', '-2': '-1', '-1': '0', '0': '3' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface KillArm {
  system: SystemName;
  on: 'listing' | 'write';
  landed: boolean;
  fired: boolean;
}

/** People at work: edits, moves, approvals, comments and new changes on both systems. */
function work(world: ChaosWorld, activity: Activity, random: () => number, n: { value: number }): void {
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
  const snIds = world.sn.listChanges().map((r) => String(r.sys_id));
  const keys = world.jira.store.all.map((i) => i.key);
  for (let i = 0; i < activity.edits; i++) {
    n.value += 1;
    const sysId = pick(snIds);
    if (sysId) world.sn.updateChange(sysId, { short_description: `chaos edit ${n.value}` });
    const key = pick(keys);
    if (key) world.jira.editIssue(key, { summary: `chaos edit ${n.value}` });
  }
  for (let i = 0; i < activity.moves; i++) {
    const sysId = pick(snIds);
    const next = sysId === undefined ? undefined : SN_NEXT_STATE[String(world.sn.getChange(sysId)?.state)];
    if (sysId && next) world.sn.updateChange(sysId, { state: next });
    const key = pick(keys);
    if (key) {
      const issue = world.jira.issue(key);
      const step = pick(world.jira.workflow.available(String(issue.state.fields['status'])));
      if (step) world.jira.transitionIssue(key, step.to);
    }
  }
  for (let i = 0; i < activity.approvals; i++) {
    const requested = snIds.flatMap((id) => world.sn.approvalsFor(id).filter((a) => a.state === 'requested'));
    const approval = pick(requested);
    if (approval) world.sn.updateApproval(String(approval.sys_id), { state: random() < 0.8 ? 'approved' : 'rejected' });
    const open = world.jira.store.all.flatMap((issue) => issue.approvals.filter((a) => a.finalDecision === 'pending').map((a) => ({ issue, a })));
    const chosen = pick(open);
    const approver = chosen?.a.approvers.find((p) => p.decision === 'pending');
    if (chosen && approver) world.jira.decideApproval(chosen.issue.key, chosen.a.id, approver.accountId, random() < 0.8 ? 'approve' : 'decline');
  }
  for (let i = 0; i < activity.comments; i++) {
    const sysId = pick(snIds);
    if (sysId) world.sn.addJournal(sysId, 'comments', `chaos comment ${n.value}`);
    const key = pick(keys);
    if (key) world.jira.addComment(key, `chaos comment ${n.value}`);
  }
  for (let i = 0; i < activity.creates; i++) {
    world.sn.createChange({ short_description: `created by chaos ${n.value}`, type: 'normal' });
    world.jira.createIssue({ summary: `created by chaos ${n.value}`, 'Change type': 'Normal' });
  }
}

async function holdLock(world: ChaosWorld, ms: number, notes: string[]): Promise<void> {
  if (!existsSync(world.dbFile)) {
    notes.push('store-lock: no store file to lock');
    return;
  }
  // No busy timeout: a wait inside SQLite would block this process, and with it the simulators and an
  // overlapping lock fault of the same run. The lock is tried again from the event loop instead.
  const holder = new DatabaseSync(world.dbFile, { timeout: 0 });
  try {
    for (const deadline = Date.now() + LOCK_WAIT_MS; ; ) {
      try {
        holder.exec('BEGIN IMMEDIATE');
        break;
      } catch (err) {
        if ((err as { errcode?: number }).errcode !== SQLITE_BUSY || Date.now() > deadline) {
          notes.push(`store-lock: not taken (${(err as Error).message})`);
          return;
        }
        await sleep(20);
      }
    }
    await sleep(ms);
    holder.exec('COMMIT');
  } finally {
    holder.close();
  }
}

interface Quiet {
  settled: boolean;
  why: string;
}

async function okRuns(world: ChaosWorld): Promise<Record<string, number>> {
  const text = await (await fetch(`${world.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const out: Record<string, number> = { [SN_ID]: 0, [JIRA_ID]: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith('changegate_sync_runs_total{') || !line.includes('outcome="ok"')) continue;
    for (const id of [SN_ID, JIRA_ID]) if (line.includes(`instance="${id}"`)) out[id] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** Outbox items not settled; `orphaned` when each was claimed by a process that is gone (its lease outlives the run). */
function openOutbox(world: ChaosWorld): { open: number; orphaned: boolean } {
  if (!existsSync(world.dbFile)) return { open: 0, orphaned: false };
  const db = new DatabaseSync(world.dbFile, { readOnly: true, timeout: 5_000 });
  try {
    const rows = db.prepare(`SELECT status, next_attempt_at AS next FROM outbox WHERE status IN ('pending', 'claimed')`).all() as { status: string; next: number }[];
    const since = world.servingSince() ?? Date.now();
    const orphaned = rows.length > 0 && rows.every((r) => r.status === 'claimed' && r.next - DEFAULT_OUTBOX_LEASE_MS < since);
    return { open: rows.length, orphaned };
  } catch {
    // The schema may not be there yet on a fresh store.
    return { open: 0, orphaned: false };
  } finally {
    db.close();
  }
}

/** Waits for the outbox to empty and two whole syncs of each instance after changegate's last ticket write. */
async function quiesce(world: ChaosWorld): Promise<Quiet> {
  const deadline = Date.now() + SETTLE_DEADLINE_MS;
  let writes = -1;
  let since: number | null = null;
  let mark: Record<string, number> = {};
  for (;;) {
    const runs = await okRuns(world).catch(() => null);
    if (runs !== null) {
      if (writes !== world.writes || since !== world.servingSince()) {
        writes = world.writes;
        since = world.servingSince();
        mark = runs;
      }
      const outbox = openOutbox(world);
      const synced = [SN_ID, JIRA_ID].every((id) => (runs[id] ?? 0) >= (mark[id] ?? 0) + 2);
      // Items a killed process still holds wait out their lease (minutes): the mirror can settle, they cannot.
      if (synced && outbox.orphaned) return { settled: false, why: `${outbox.open} outbox item(s) held by a killed process` };
      if (synced && outbox.open === 0) return { settled: true, why: '' };
    }
    if (Date.now() > deadline) return { settled: false, why: `not quiet within ${SETTLE_DEADLINE_MS / 1000} s` };
    await sleep(100);
  }
}

export interface RunOptions {
  /** Keep the world for the caller (who must close it): the test injects a deviation into a finished run. */
  keep?: boolean;
}

export async function runPlan(plan: RunPlan, options: RunOptions = {}): Promise<{ report: RunReport; world: ChaosWorld | null }> {
  const started = Date.now();
  const notes: string[] = [];
  const world = await createWorld({ changes: plan.changes, seed: plan.driverSeed });
  let keep = false;
  try {
    // Every process start and kill goes through here, one at a time.
    let life: Promise<void> = Promise.resolve();
    const exclusive = (fn: () => Promise<void>): Promise<void> => (life = life.then(fn, fn));
    const restart = (): Promise<void> =>
      exclusive(async () => {
        await world.kill();
        await world.start();
      });
    await exclusive(() => world.start());

    const arms: KillArm[] = [];
    const restarts: Promise<void>[] = [];
    world.hook = (request: SimRequest) => {
      const arm = arms.find((a) => !a.fired && a.system === request.system && (a.on === 'listing' ? request.listing : request.write));
      if (arm === undefined || !world.alive()) return undefined;
      arm.fired = true;
      restarts.push(restart());
      return arm.landed ? undefined : 'drop';
    };

    const random = prng(plan.driverSeed);
    world.webhook.random = prng(plan.driverSeed ^ 0x5bd1e995);
    const chaosStart = Date.now();
    const at = (ms: number): Promise<void> => sleep(chaosStart + ms - Date.now());
    const play = async (fault: Fault): Promise<void> => {
      await at(fault.atMs);
      switch (fault.kind) {
        case 'itsm-5xx':
          if (fault.system === 'servicenow') world.sn.faults.times(fault.count, { kind: 'status', status: fault.status });
          else world.jira.faults.next({ kind: 'server-error', status: fault.status }, undefined, fault.count);
          return;
        case 'itsm-timeout':
          if (fault.system === 'servicenow') world.sn.faults.times(fault.count, { kind: 'delay', ms: 1500 });
          else world.jira.faults.next({ kind: 'delay', ms: 1500 }, undefined, fault.count);
          return;
        case '429-storm':
          if (fault.system === 'servicenow') world.sn.faults.times(fault.count, { kind: 'status', status: 429, retryAfterSec: fault.retryAfterSec });
          else world.jira.faults.next({ kind: 'rate-limit', retryAfterSec: fault.retryAfterSec }, undefined, fault.count);
          return;
        case 'webhook-loss':
          world.webhook.dropRate = fault.rate;
          return;
        case 'webhook-duplication':
          world.webhook.duplicateRate = fault.rate;
          return;
        case 'webhook-reorder':
          world.webhook.reorder = true;
          return;
        case 'kill-sync':
          arms.push({ system: fault.system, on: 'listing', landed: true, fired: false });
          return;
        case 'kill-write-back':
          arms.push({ system: fault.system, on: 'write', landed: fault.landed, fired: false });
          return;
        case 'store-lock':
          await holdLock(world, fault.ms, notes);
          return;
        case 'disk-full':
          writeFileSync(world.diskFullFlag, '');
          await sleep(fault.ms);
          rmSync(world.diskFullFlag, { force: true });
          return;
        case 'store-loss':
          for (const suffix of ['', '-wal', '-shm']) rmSync(`${world.dbFile}${suffix}`, { force: true });
          await sleep(fault.afterMs);
          await restart();
          return;
      }
    };
    const counter = { value: 0 };
    const people = async (activity: Activity): Promise<void> => {
      await at(activity.atMs);
      work(world, activity, random, counter);
    };
    await Promise.all([...plan.faults.map(play), ...plan.activity.map(people), at(plan.chaosMs)]);

    // Lift every fault; a kill that found no moment happens now.
    world.sn.faults.clear();
    world.jira.faults.clear();
    world.webhook.dropRate = 0;
    world.webhook.duplicateRate = 0;
    world.webhook.reorder = false;
    rmSync(world.diskFullFlag, { force: true });
    // A kill waiting for a write or a page gets a little longer (the last activity's write-back is on its way), then happens anyway.
    const waitUntil = Date.now() + ARM_GRACE_MS;
    while (arms.some((a) => !a.fired) && Date.now() < waitUntil) await sleep(25);
    for (const arm of arms.filter((a) => !a.fired)) {
      arm.fired = true;
      notes.push(`kill on ${arm.system} ${arm.on} found no moment: killed after the chaos`);
      restarts.push(restart());
    }
    world.hook = undefined;
    await Promise.all(restarts);
    await exclusive(() => world.start());

    const quietFrom = Date.now();
    const quiet = await quiesce(world);
    const stopFrom = Date.now();
    await world.stop();
    const checkFrom = Date.now();
    const deviations = await checkWorld(world);
    notes.push(`phases: start ${chaosStart - started} ms, chaos and lift ${quietFrom - chaosStart} ms, quiet ${stopFrom - quietFrom} ms, stop ${checkFrom - stopFrom} ms, check ${Date.now() - checkFrom} ms`);
    if (!quiet.settled) notes.push(`quiet period cut short: ${quiet.why}`);
    const codes = new Map<string, number>();
    for (const line of world.errors) {
      const code = /"code":"(CG_[A-Z_]+)"/.exec(line)?.[1] ?? (/"msg":"([^"]{0,80})/.exec(line)?.[1] ?? line.slice(0, 80));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    if (codes.size > 0) notes.push(`serve logged errors: ${[...codes].map(([c, n]) => `${c} x${n}`).join(', ')}`);
    keep = options.keep === true;
    return { report: { plan, ms: Date.now() - started, deviations, notes }, world: keep ? world : null };
  } finally {
    if (!keep) await world.close();
  }
}
