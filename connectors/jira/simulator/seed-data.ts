// Seeded data sets. `bulkCreateIssues` is the benchmark path (tens of
// thousands of issues in seconds, timestamps clustered so many share a minute);
// `seedDemoData` walks changes through the real workflow so every change type,
// risk and status shows up with approvals, comments and changelogs.

import { textToAdf } from './adf.ts';
import type { FieldDef } from './field-catalog.ts';
import { SERVICES } from './field-catalog.ts';
import type { WriteOptions } from './issue-store.ts';
import { pick, seededRandom } from './seeded-random.ts';
import type { SimContext } from './sim-http.ts';
import type { SimIssue } from './sim-types.ts';

export interface BulkOptions {
  seed?: number;
  project?: string;
  /** Spread creation over this many days before now (default 30). */
  days?: number;
}

export interface DemoSeedOptions {
  count?: number;
  seed?: number;
}

const TYPES = ['Standard', 'Normal', 'Emergency'] as const;
const RISKS = ['Low', 'Medium', 'High', 'Critical'] as const;
const IMPACTS = ['Extensive / Widespread', 'Significant / Large', 'Moderate / Limited', 'Minor / Localized'] as const;
const REASONS = ['Repair', 'Upgrade', 'Maintenance', 'New functionality', 'Other'] as const;
const URGENCIES = ['Critical', 'High', 'Medium', 'Low'] as const;
const SUBJECTS = ['Upgrade PostgreSQL on', 'Rotate TLS certificates for', 'Patch kernel on hosts behind', 'Deploy release 4.2 of', 'Scale out', 'Migrate DNS records for', 'Enable WAF rules on', 'Roll back feature flag in'];
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function def(sim: SimContext, name: string): FieldDef {
  return sim.catalog.resolve(name) as FieldDef;
}

function option(sim: SimContext, name: string, value: string): { id: string; value: string } {
  const o = sim.catalog.option(def(sim, name), value);
  if (!o) throw new Error(`No option "${value}" on ${name}`);
  return { id: o.id, value: o.value };
}

/** Walks the issue along workflow transitions into `target`, answering the approval step on the way. */
function walkTo(sim: SimContext, issue: SimIssue, target: string, times: () => number, actors: { approver: string; implementer: string }, decline: boolean): void {
  for (let guard = 0; guard < 20; guard++) {
    const current = issue.state.fields.status as string;
    if (sim.workflow.status(current)?.name.toLowerCase() === target.toLowerCase()) return;
    const step = sim.workflow.approvalStep(current);
    const pending = issue.approvals.find((a) => a.finalDecision === 'pending');
    const path = sim.workflow.pathTo(current, target);
    if (!path || path.length === 0) return;
    const next = path[0] as string;
    const wo: WriteOptions = { actorId: actors.implementer, at: times(), emit: false };
    if (step && pending && (next === step.onApprove || (decline && next === step.onDecline))) {
      sim.store.decide(issue, pending, actors.approver, next === step.onApprove ? 'approve' : 'decline', { ...wo, actorId: actors.approver });
      continue;
    }
    sim.store.moveTo(issue, sim.workflow.status(next) as NonNullable<ReturnType<typeof sim.workflow.status>>, wo);
  }
}

export function bulkCreateIssues(sim: SimContext, n: number, opts: BulkOptions = {}): string[] {
  const random = seededRandom(opts.seed ?? 1);
  const now = sim.now();
  const days = opts.days ?? 30;
  const project = opts.project ?? (sim.projects[0]?.key as string);
  const users = sim.users.all();
  const reporter = def(sim, 'reporter');
  const summary = def(sim, 'summary');
  const type = def(sim, 'Change type');
  const risk = def(sim, 'Change risk');
  const statuses = sim.workflow.def.statuses;
  const statusDef = def(sim, 'status');
  const keys: string[] = [];
  // Minute buckets with a few ms offsets: many issues share an `updated` minute, which is what breaks naive cursors.
  const span = Math.max(1, Math.floor((days * 24 * HOUR) / MINUTE) - 120);
  const buckets = Array.from({ length: n }, () => now - days * 24 * HOUR + Math.floor(random() * span) * MINUTE + Math.floor(random() * MINUTE)).toSorted((a, b) => a - b);
  for (let i = 0; i < n; i++) {
    const at = buckets[i] as number;
    const actor = pick(random, users).accountId;
    const values = new Map<FieldDef, unknown>([
      [summary, `${pick(random, SUBJECTS)} ${pick(random, SERVICES).name} #${i + 1}`],
      [reporter, actor],
      [type, option(sim, 'Change type', pick(random, TYPES))],
      [risk, option(sim, 'Change risk', pick(random, RISKS))],
    ]);
    const issue = sim.store.create(project, values, { actorId: actor, at, emit: false });
    // Some issues move on once, so histories and `updated` differ from `created`.
    if (random() < 0.5) {
      const to = pick(random, statuses);
      if (to.id !== issue.state.fields.status) {
        const later = at + Math.floor(random() * 90 * MINUTE);
        sim.store.edit(issue, new Map([[statusDef, to.id]]), { actorId: actor, at: Math.min(later, now - 1), emit: false });
      }
    }
    keys.push(issue.key);
  }
  return keys;
}

export function seedDemoData(sim: SimContext, opts: DemoSeedOptions = {}): string[] {
  const count = opts.count ?? 200;
  const random = seededRandom(opts.seed ?? 1);
  const now = sim.now();
  const statuses = sim.workflow.def.statuses.map((s) => s.name);
  const u = (name: string): string => sim.users.byName(name).accountId;
  const requesters = [u('alice.requester'), u('frank.oncall')];
  const cab = [u('dan.cab'), u('erin.cab')];
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[i % TYPES.length] as string;
    const risk = RISKS[Math.floor(i / TYPES.length) % RISKS.length] as string;
    const target = statuses[Math.floor(i / (TYPES.length * RISKS.length)) % statuses.length] as string;
    let t = now - (count - i) * 3 * HOUR - Math.floor(random() * HOUR);
    const times = (): number => (t = Math.min(t + Math.floor(random() * 2 * HOUR) + MINUTE, now - 1));
    const start = now + Math.floor((random() - 0.3) * 14 * 24) * HOUR;
    const requester = pick(random, requesters);
    const service = pick(random, SERVICES);
    const d = (name: string): FieldDef => def(sim, name);
    const text = textToAdf;
    const values = new Map<FieldDef, unknown>([
      [d('summary'), `${pick(random, SUBJECTS)} ${service.name}`],
      [d('description'), text(`${type} change requested for ${service.name}. Business justification: ${pick(random, REASONS).toLowerCase()} work agreed with the service owner.`)],
      [d('reporter'), requester],
      [d('assignee'), u('bob.implementer')],
      [d('Change type'), option(sim, 'Change type', type)],
      [d('Change risk'), option(sim, 'Change risk', risk)],
      [d('Impact'), option(sim, 'Impact', pick(random, IMPACTS))],
      [d('Urgency'), option(sim, 'Urgency', pick(random, URGENCIES))],
      [d('Change reason'), option(sim, 'Change reason', pick(random, REASONS))],
      [d('Change start date'), start],
      [d('Change completion date'), start + (2 + Math.floor(random() * 6)) * HOUR],
      [d('Affected services'), [{ id: service.id, name: service.name }]],
      [d('Approvers'), type === 'Standard' ? [] : type === 'Emergency' ? [cab[0] as string] : cab],
    ]);
    // Some changes lack plans, so readiness gates have something to fail on.
    if (random() < 0.8) values.set(d('Implementation plan'), text('1. Drain traffic\n2. Apply change\n3. Verify health checks'));
    if (random() < 0.7) values.set(d('Backout plan'), text('Restore the previous release from the artifact store and re-run smoke tests.'));
    if (random() < 0.7) values.set(d('Test plan'), text('Run the regression suite in UAT; smoke tests in production.'));
    const issue = sim.store.create((sim.projects[0] as { key: string }).key, values, { actorId: requester, at: t, emit: false });
    const actors = { approver: pick(random, cab), implementer: u('bob.implementer') };
    // Half of the declined-side outcomes go through CAB and get declined there, so declined approvals exist.
    const step = sim.workflow.def.approvalSteps[0];
    const decline = random() < 0.5;
    if (step && decline && target === step.onDecline) walkTo(sim, issue, step.status, times, actors, false);
    walkTo(sim, issue, target, times, actors, decline);
    const comments = Math.floor(random() * 4);
    for (let c = 0; c < comments; c++) {
      const internal = random() < 0.4;
      const body = internal ? 'Internal note: coordinate with the on-call engineer before the window.' : 'Update for the requester: the change is on track.';
      sim.store.comment(issue, text(body), internal, { actorId: pick(random, [u('carol.changemgr'), u('bob.implementer')]), at: times(), emit: false });
    }
    keys.push(issue.key);
  }
  return keys;
}
