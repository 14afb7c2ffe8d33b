// A run's plan, drawn from (campaign seed, run index) alone: which faults hit
// when, and what people do on the tickets meanwhile. The same pair always
// draws the same plan, so a deviation is replayed with `--seed S --from K
// --runs 1` (the process's timing around the plan is the machine's own).

import type { SystemName } from './chaos-world.ts';

export type Fault =
  | { kind: 'itsm-5xx'; atMs: number; system: SystemName; count: number; status: 500 | 502 | 503 }
  | { kind: 'itsm-timeout'; atMs: number; system: SystemName; count: number }
  | { kind: '429-storm'; atMs: number; system: SystemName; count: number; retryAfterSec: number }
  | { kind: 'webhook-loss'; atMs: number; rate: number }
  | { kind: 'webhook-duplication'; atMs: number; rate: number }
  | { kind: 'webhook-reorder'; atMs: number }
  /** SIGKILL when the child reads the change list of `system`, then a restart. */
  | { kind: 'kill-sync'; atMs: number; system: SystemName }
  /** SIGKILL when the child writes to a ticket of `system`; `landed`: the write reaches the ticket (the answer never reaches changegate). */
  | { kind: 'kill-write-back'; atMs: number; system: SystemName; landed: boolean }
  /** Another process holds the SQLite write lock. */
  | { kind: 'store-lock'; atMs: number; ms: number }
  /** No database may grow by a page (SQLITE_FULL), then space comes back. */
  | { kind: 'disk-full'; atMs: number; ms: number }
  /** The store's files are deleted under the running process, which is restarted `afterMs` later on a fresh store. */
  | { kind: 'store-loss'; atMs: number; afterMs: number };

export type FaultKind = Fault['kind'];

/** People at work on the tickets: a batch of edits, moves, approvals, comments and new changes on both systems. */
export interface Activity {
  atMs: number;
  edits: number;
  moves: number;
  approvals: number;
  comments: number;
  creates: number;
}

export interface RunPlan {
  seed: number;
  run: number;
  /** Changes seeded on each simulator. */
  changes: number;
  faults: Fault[];
  activity: Activity[];
  /** The chaos phase; faults are lifted at its end. */
  chaosMs: number;
  /** Seeds the people's choices (which ticket, which move) and the webhook's dice. */
  driverSeed: number;
}

/** mulberry32: small, fast, and the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The run's own seed: the campaign seed and the index mixed, so neighbouring runs draw unrelated plans. */
export function runSeed(seed: number, run: number): number {
  return Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(run + 1, 0xc2b2ae35);
}

export const FAULT_KINDS: readonly FaultKind[] = [
  'itsm-5xx',
  'itsm-timeout',
  '429-storm',
  'webhook-loss',
  'webhook-duplication',
  'webhook-reorder',
  'kill-sync',
  'kill-write-back',
  'store-lock',
  'disk-full',
  'store-loss',
];

export function drawPlan(seed: number, run: number, only?: readonly FaultKind[]): RunPlan {
  const random = prng(runSeed(seed, run));
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const system = (): SystemName => (random() < 0.5 ? 'servicenow' : 'jira');
  const chaosMs = 2000;
  const at = (): number => int(0, chaosMs - 500);
  const kinds = only ?? FAULT_KINDS;
  const faults: Fault[] = [];
  const count = int(2, 4);
  for (let i = 0; i < count; i++) {
    const kind = pick(kinds);
    switch (kind) {
      case 'itsm-5xx':
        faults.push({ kind, atMs: at(), system: system(), count: int(1, 6), status: pick([500, 502, 503] as const) });
        break;
      case 'itsm-timeout':
        faults.push({ kind, atMs: at(), system: system(), count: int(1, 2) });
        break;
      case '429-storm':
        faults.push({ kind, atMs: at(), system: system(), count: int(3, 8), retryAfterSec: 1 });
        break;
      case 'webhook-loss':
        faults.push({ kind, atMs: at(), rate: 0.2 + random() * 0.4 });
        break;
      case 'webhook-duplication':
        faults.push({ kind, atMs: at(), rate: 0.2 + random() * 0.4 });
        break;
      case 'webhook-reorder':
        faults.push({ kind, atMs: at() });
        break;
      case 'kill-sync':
        faults.push({ kind, atMs: at(), system: system() });
        break;
      case 'kill-write-back':
        faults.push({ kind, atMs: at(), system: system(), landed: random() < 0.5 });
        break;
      case 'store-lock':
        faults.push({ kind, atMs: at(), ms: int(300, 2500) });
        break;
      case 'disk-full':
        faults.push({ kind, atMs: at(), ms: int(300, 2000) });
        break;
      case 'store-loss':
        faults.push({ kind, atMs: at(), afterMs: int(0, 800) });
        break;
    }
  }
  faults.sort((a, b) => a.atMs - b.atMs);
  const activity: Activity[] = [];
  const batches = int(2, 3);
  for (let i = 0; i < batches; i++) activity.push({ atMs: at(), edits: int(1, 4), moves: int(0, 3), approvals: int(0, 2), comments: int(0, 2), creates: int(0, 1) });
  activity.sort((a, b) => a.atMs - b.atMs);
  return { seed, run, changes: int(8, 14), faults, activity, chaosMs, driverSeed: Math.floor(random() * 2 ** 31) };
}

/** One fault as the run's line shows it, e.g. `kill-write-back(jira,landed)@1200`. */
export function describeFault(fault: Fault): string {
  const args: string[] = [];
  if ('system' in fault) args.push(fault.system === 'servicenow' ? 'sn' : 'jira');
  if ('count' in fault) args.push(`x${fault.count}`);
  if ('status' in fault) args.push(String(fault.status));
  if ('rate' in fault) args.push(fault.rate.toFixed(2));
  if ('ms' in fault) args.push(`${fault.ms}ms`);
  if ('afterMs' in fault) args.push(`+${fault.afterMs}ms`);
  if ('landed' in fault) args.push(fault.landed ? 'landed' : 'lost');
  return `${fault.kind}(${args.join(',')})@${fault.atMs}`;
}
