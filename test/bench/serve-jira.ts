// A Jira Cloud / JSM simulator in its own process (so its CPU and memory are
// not counted against the sync being measured). Each change issue lives a
// realistic life: it is walked along the change workflow (status history,
// assignee and risk edits), gets a few comments, and the ones that pass the CAB
// step carry a JSM approval with its decision. Prints one JSON line with its URL
// and row counts, then serves until killed.
// Usage: node test/bench/serve-jira.ts <issues> <latencyMs>

import { startSimulatorServer } from '../../connectors/simulator-http.ts';
import { textToAdf } from '../../connectors/jira/simulator/adf.ts';
import type { WorkflowStatus } from '../../connectors/jira/simulator/change-workflow.ts';
import type { FieldDef } from '../../connectors/jira/simulator/field-catalog.ts';
import { SERVICES } from '../../connectors/jira/simulator/field-catalog.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { pick, seededRandom } from '../../connectors/jira/simulator/seeded-random.ts';
import type { SimIssue } from '../../connectors/jira/simulator/sim-types.ts';
import { BENCH_JIRA_USER } from './mirror-jira.ts';


const issues = Number(process.argv[2] ?? 50_000);
const latencyMs = Number(process.argv[3] ?? 100);

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const SUBJECTS = ['Upgrade PostgreSQL on', 'Rotate TLS certificates for', 'Patch kernel on hosts behind', 'Deploy release 4.2 of', 'Scale out', 'Migrate DNS records for'];
/** Where changes end up, weighted the way a change calendar looks: most are done, a tail is in flight. */
const TARGETS: readonly (readonly [string, number])[] = [
  ['Completed', 40],
  ['Canceled', 8],
  ['Failed', 4],
  ['Peer review', 6],
  ['Implementing', 6],
  ['Awaiting implementation', 10],
  ['Awaiting CAB approval', 8],
  ['Planning', 10],
  ['Open', 8],
];
const COMMENTS = [
  'Checked the rollout plan with the service owner.',
  'Internal note: coordinate with the on-call engineer before the window.',
  'Update for the requester: the change is on track.',
  'Smoke tests green in UAT; ready for the production window.',
];

let sim: JiraSimulator | undefined;
const server = await startSimulatorServer(() => sim?.handlers() ?? [], { latencyMs });
sim = new JiraSimulator({ baseUrl: server.url, auth: { basic: [BENCH_JIRA_USER] } });
const s = sim;
const random = seededRandom(7);
const now = Date.now();
const def = (name: string): FieldDef => s.catalog.resolve(name) as FieldDef;
const option = (name: string, value: string): { id: string; value: string } => {
  const o = s.catalog.option(def(name), value);
  if (!o) throw new Error(`No option "${value}" on ${name}`);
  return { id: o.id, value: o.value };
};
const user = (name: string): string => s.users.byName(name).accountId;
const requesters = [user('alice.requester'), user('frank.oncall'), user('carol.changemgr')];
const cab = [user('dan.cab'), user('erin.cab')];
const implementer = user('bob.implementer');
const totalWeight = TARGETS.reduce((sum, [, w]) => sum + w, 0);

function target(): string {
  let r = random() * totalWeight;
  for (const [name, weight] of TARGETS) {
    r -= weight;
    if (r < 0) return name;
  }
  return 'Completed';
}

/** Walks one issue along workflow transitions into `to`, deciding the CAB approval on the way. */
function live(issue: SimIssue, to: string, clock: () => number): void {
  const decline = to === 'Canceled' && random() < 0.5;
  for (let guard = 0; guard < 20; guard++) {
    const current = issue.state.fields.status as string;
    if (s.workflow.status(current)?.name === to) return;
    const step = s.workflow.approvalStep(current);
    const pending = issue.approvals.find((a) => a.finalDecision === 'pending');
    const path = s.workflow.pathTo(current, decline && step ? 'Canceled' : to);
    const next = path?.[0];
    if (next === undefined) return;
    if (step && pending && (next === step.onApprove || next === step.onDecline)) {
      s.store.decide(issue, pending, pick(random, cab), next === step.onApprove ? 'approve' : 'decline', { actorId: pick(random, cab), at: clock(), emit: false });
      continue;
    }
    s.store.moveTo(issue, s.workflow.status(next) as WorkflowStatus, { actorId: implementer, at: clock(), emit: false });
  }
}

const span = 30 * DAY;
for (let i = 0; i < issues; i++) {
  let t = now - span - DAY + Math.floor(random() * span);
  // Steps of 1 to 180 minutes, never reaching the last hour (the sync's signpost is "now").
  const clock = (): number => (t = Math.min(t + MINUTE + Math.floor(random() * 180 * MINUTE), now - 3_600_000));
  const type = pick(random, ['Standard', 'Normal', 'Normal', 'Emergency']);
  const service = pick(random, SERVICES);
  const requester = pick(random, requesters);
  const issue = s.store.create(
    'ITSM',
    new Map<FieldDef, unknown>([
      [def('summary'), `${pick(random, SUBJECTS)} ${service.name} #${i + 1}`],
      [def('description'), textToAdf(`${type} change for ${service.name}: agreed with the service owner.`)],
      [def('reporter'), requester],
      [def('Change type'), option('Change type', type)],
      [def('Change risk'), option('Change risk', pick(random, ['Low', 'Medium', 'High', 'Critical']))],
      [def('Impact'), option('Impact', pick(random, ['Significant / Large', 'Moderate / Limited', 'Minor / Localized']))],
      [def('Change start date'), now + Math.floor((random() - 0.5) * 20) * DAY],
      [def('Affected services'), [{ id: service.id, name: service.name }]],
      [def('Implementation plan'), textToAdf('1. Drain traffic\n2. Apply change\n3. Verify health checks')],
      [def('Backout plan'), textToAdf('Restore the previous release and re-run smoke tests.')],
    ]),
    { actorId: requester, at: t, emit: false },
  );
  // The edits a change picks up before it is planned: assignee, approvers, sometimes a re-assessed risk.
  s.store.edit(issue, new Map<FieldDef, unknown>([[def('assignee'), implementer], [def('Approvers'), type === 'Standard' ? [] : cab]]), { actorId: user('carol.changemgr'), at: clock(), emit: false });
  if (random() < 0.3) s.store.edit(issue, new Map([[def('Change risk'), option('Change risk', pick(random, ['Medium', 'High']))]]), { actorId: user('carol.changemgr'), at: clock(), emit: false });
  live(issue, target(), clock);
  const comments = Math.floor(random() * 4);
  for (let c = 0; c < comments; c++) {
    s.store.comment(issue, textToAdf(pick(random, COMMENTS)), random() < 0.4, { actorId: pick(random, [implementer, user('carol.changemgr')]), at: clock(), emit: false });
  }
}

const all = s.store.all;
const count = (f: (i: SimIssue) => number): number => all.reduce((sum, i) => sum + f(i), 0);
process.stdout.write(
  `${JSON.stringify({
    url: server.url,
    rows: { issues: all.length, histories: count((i) => i.histories.length), comments: count((i) => i.comments.length), approvals: count((i) => i.approvals.length), maxHistories: all.reduce((m, i) => Math.max(m, i.histories.length), 0),
      // 1 when the site has JSM's Approvals field, so a search can carry the approvals.
      approvalsField: s.catalog.list.some((d) => d.schema?.type === 'sd-approvals') ? 1 : 0,
    },
  })}\n`,
);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
