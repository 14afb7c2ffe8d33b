// A fleet with the skew of a real instance, for benchmarks: many CIs whose
// changes follow a Zipf law (a few shared CIs, an email service, the ERP, a
// shared cluster, carry most of the changes; the busiest about a tenth of all),
// grouped under fewer business services, and planned windows clustered in the
// weekly maintenance windows where real changes pile up.

import type { ServiceNowSimulator } from './servicenow-simulator.ts';
import type { SeededRandom } from './seeded-random.ts';
import { stableSysId } from './seeded-random.ts';

export interface FleetOptions {
  /** How many CIs (default 1,000). */
  cis?: number;
  /** How many business services the CIs belong to (default 60). */
  services?: number;
  /** The Zipf exponent; 0.91 over 1,000 CIs puts about a tenth of all changes on the busiest. */
  exponent?: number;
}

export interface Fleet {
  ciCount: number;
  serviceCount: number;
  /** Cumulative Zipf weights, for drawing a CI index by binary search. */
  cumulative: Float64Array;
}

export const fleetCiSysId = (i: number): string => stableSysId(`cmdb_ci:fleet:${i}`);
export const fleetServiceSysId = (i: number): string => stableSysId(`cmdb_ci_service:fleet:${i}`);
export const fleetCiName = (i: number): string => `fleet-ci-${String(i + 1).padStart(4, '0')}`;
export const fleetServiceName = (i: number): string => `Fleet service ${String(i + 1).padStart(3, '0')}`;

export function makeFleet(options: FleetOptions = {}): Fleet {
  const ciCount = options.cis ?? 1_000;
  const serviceCount = options.services ?? 60;
  const s = options.exponent ?? 0.91;
  const cumulative = new Float64Array(ciCount);
  let total = 0;
  for (let k = 0; k < ciCount; k++) cumulative[k] = total += 1 / (k + 1) ** s;
  for (let k = 0; k < ciCount; k++) cumulative[k] = (cumulative[k] as number) / total;
  return { ciCount, serviceCount, cumulative };
}

/** A CI index drawn from the fleet's Zipf law (0 is the busiest). */
export function drawCi(fleet: Fleet, rng: SeededRandom): number {
  const u = rng.next();
  let lo = 0;
  let hi = fleet.ciCount - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((fleet.cumulative[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The service a CI belongs to: spread round-robin, so the busiest services hold the busiest CIs. */
export function serviceOf(fleet: Fleet, ci: number): number {
  return ci % fleet.serviceCount;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The start of the first weekly maintenance window at or after `ms`: Saturday
 * 22:00 UTC for most changes, Wednesday 02:00 UTC for the rest, staggered by
 * whole quarter hours within the first two hours of the window.
 */
export function maintenanceStart(ms: number, rng: SeededRandom): number {
  const wantDay = rng.chance(0.65) ? 6 : 3; // Saturday or Wednesday (getUTCDay)
  const wantHour = wantDay === 6 ? 22 : 2;
  const day = new Date(Math.floor(ms / DAY) * DAY);
  let start = day.getTime() + ((wantDay - day.getUTCDay() + 7) % 7) * DAY + wantHour * HOUR;
  if (start < ms) start += 7 * DAY;
  return start + rng.int(0, 7) * 15 * 60_000;
}

/** The CIs and services of the fleet as records, so display values resolve as on a real instance. */
export function insertFleet(sim: ServiceNowSimulator, fleet: Fleet): void {
  const opts = { touchParent: false };
  for (let i = 0; i < fleet.serviceCount; i++) {
    sim.insertRecord('cmdb_ci_service', { sys_id: fleetServiceSysId(i), name: fleetServiceName(i), operational_status: '1', install_status: '1', sys_class_name: 'cmdb_ci_service' }, opts);
  }
  for (let i = 0; i < fleet.ciCount; i++) {
    sim.insertRecord('cmdb_ci', { sys_id: fleetCiSysId(i), name: fleetCiName(i), sys_class_name: 'cmdb_ci_server', environment: 'Production', operational_status: '1', install_status: '1' }, opts);
  }
}
