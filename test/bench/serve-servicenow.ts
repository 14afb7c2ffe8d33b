// A ServiceNow simulator in its own process (so its CPU and memory are not
// counted against the sync being measured). Prints one JSON line with its URL
// and row counts, then serves until killed.
// Usage: node test/bench/serve-servicenow.ts <changes> <latencyMs> [approvalsPer10] [journalPer10] [skewed]
// `skewed`: changes on a 1,000-CI fleet drawn from a Zipf law (the busiest CI carries about a
// tenth of them) and active changes planned in weekly maintenance windows (skewed-fleet.ts).

import { startSimulatorServer } from '../../connectors/simulator-http.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { makeFleet } from '../../connectors/servicenow/simulator/skewed-fleet.ts';

const changes = Number(process.argv[2] ?? 50_000);
const latencyMs = Number(process.argv[3] ?? 100);
const approvalsPer10 = Number(process.argv[4] ?? 3);
const journalPer10 = Number(process.argv[5] ?? 5);
const skewed = process.argv[6] === 'skewed';

let sim: ServiceNowSimulator | undefined;
const server = await startSimulatorServer(() => sim?.handlers() ?? [], { latencyMs });
sim = new ServiceNowSimulator({ baseUrl: server.url });
const end = new Date(Date.now() - 3_600_000);
// Made in slices of 10,000: one call's rows are held at once, and a million changes need not be.
const fleet = skewed ? makeFleet() : undefined;
for (let made = 0; made < changes; made += 10_000) {
  sim.bulkCreateChanges(Math.min(10_000, changes - made), { seed: 7 + made, end, ...(fleet ? { fleet, maintenanceWindows: true } : {}) });
}
const ids = sim.listChanges().map((row) => row.sys_id as string);
const at = new Date(Date.now() - 1_800_000);
ids.forEach((id, i) => {
  if (i % 10 < approvalsPer10) sim?.addApproval(id, { state: i % 3 === 0 ? 'approved' : 'requested' }, { touchParent: false, at });
  if (i % 10 < journalPer10) sim?.addJournal(id, 'work_notes', `Work note ${i}: checked the rollout plan with the service owner.`, undefined, { touchParent: false, at });
});
process.stdout.write(
  `${JSON.stringify({
    url: server.url,
    rows: { change_request: ids.length, sysapproval_approver: sim.rows('sysapproval_approver').length, sys_journal_field: sim.rows('sys_journal_field').length },
  })}\n`,
);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
