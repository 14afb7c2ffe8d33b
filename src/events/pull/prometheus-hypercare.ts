// Prometheus during hypercare. For every open change whose production deploy
// is recorded and whose hypercare (the policy's `closed.hypercare` duration
// for its class, from that deploy) has not ended, each of its services with
// PromQL in the services mapping is queried (GET /api/v1/query) now and at the
// deploy minus the baseline offset. A value above both its floor and
// `maxRatio` times its baseline is degraded: a firing MonitorEvent (one per
// degradation, resolved when the value comes back) that closed.no-alerts holds
// closure on; a first healthy check is recorded resolved, so the change shows
// it was looked at. Values, baseline and ratio ride in the event's labels.
// Events enter the store as `generic` deliveries of the Prometheus source id,
// normalised and processed like any other; a round whose queries all answered
// is the source's heartbeat.

import type { PrometheusConfig } from '../../config/schema.ts';
import type { Change } from '../../domain/change.ts';
import type { CiEvent, MonitorEvent } from '../../domain/events.ts';
import type { HttpClient } from '../../http/http-client.ts';
import type { Logger } from '../../log.ts';
import { changeCommit, deployIn } from '../../policy/evidence.ts';
import { resolveRules, type Policy } from '../../policy/policy-config.ts';
import { assessRisk, classify } from '../../policy/risk.ts';
import type { ChangeStore } from '../../store/change-store.ts';
import type { EventStore } from '../../store/event-store.ts';
import { obj, str } from '../event-fields.ts';
import { serviceKey, type ServicePrometheus, type ServicesMapping } from '../services-mapping.ts';
import { genericSource } from '../sources/generic.ts';
import { badResponse } from './pull-http.ts';
import { recordPulled } from './pulled-delivery.ts';

/** States a change is in between its production deploy and its closure. */
const HYPERCARE_STATES = ['implement', 'review'] as const;
const METRICS = ['errorRate', 'latency'] as const;
type Metric = (typeof METRICS)[number];
const METRIC_NAMES: Record<Metric, string> = { errorRate: 'error rate', latency: 'latency' };

export interface HypercareWindow {
  deploy: CiEvent;
  /** Epoch ms. */
  start: number;
  ends: number;
}

/** The change's hypercare as closed.hypercare counts it from the production deploy; null without a deploy or once it ended. */
export function hypercareOf(change: Change, ci: readonly CiEvent[], policy: Policy, now: number): HypercareWindow | null {
  const commit = changeCommit(change, ci, now);
  if (commit === null) return null;
  const deploy = deployIn(ci, commit, policy.productionEnvironments, now).success;
  if (deploy === null) return null;
  const start = Date.parse(deploy.finishedAt ?? deploy.startedAt ?? '');
  if (Number.isNaN(start)) return null;
  const classification = classify(change, assessRisk(change, policy.riskMatrix), policy.classification);
  const duration = resolveRules(policy, change, classification).builtIn['closed.hypercare'].durations[classification];
  const ends = start + duration;
  return now >= start && now < ends ? { deploy, start, ends } : null;
}

export interface Judgement {
  degraded: boolean;
  /** current / baseline; null when the baseline is 0 or absent. */
  ratio: number | null;
}

/**
 * Degraded when above the floor and above maxRatio × baseline (a baseline of 0
 * makes any value above the floor degraded). With no baseline (the series did
 * not exist before the deploy) only a configured floor can say degraded.
 */
export function judge(current: number, baseline: number | null, maxRatio: number, floor: number): Judgement {
  const ratio = baseline === null || baseline <= 0 ? null : current / baseline;
  if (current <= floor) return { degraded: false, ratio };
  if (baseline === null) return { degraded: floor > 0, ratio };
  return { degraded: current > maxRatio * baseline, ratio };
}

/** The degradations firing now, by check key, with what resolves them when their change leaves hypercare unqueried. */
type OpenIndex = Record<string, { changeId: string; monitor: Record<string, unknown> }>;

const checkKey = (sourceId: string, service: string, metric: Metric, deployId: string): string => `${sourceId}:${serviceKey(service)}:${metric}:${deployId}`;

/** Where a (service, metric, deploy) stands between rounds. */
interface CheckState {
  /** startsAt of the degradation open now, else null. */
  open: string | null;
  /** Whether a result was ever recorded for this deploy. */
  recorded: boolean;
}

export interface HypercareReport {
  changes: number;
  queries: number;
  degraded: number;
  recorded: number;
}

export interface HypercareWatchDeps {
  sourceId: string;
  config: Pick<PrometheusConfig, 'baselineOffset' | 'maxRatio' | 'url'>;
  http: HttpClient;
  events: EventStore;
  changes: Pick<ChangeStore, 'listChanges'>;
  instances: readonly string[];
  /** The CI events correlated with a change (the same the gates read). */
  ciOf(change: Change, now: Date): Promise<CiEvent[]>;
  services: ServicesMapping;
  policy: Policy;
  logger: Logger;
  clock?: () => Date;
  /** Called with the changes whose hypercare results moved, once they are recorded (serve: process them, re-assess those changes). */
  onRecorded?: (changeIds: readonly string[]) => Promise<void>;
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toPrecision(4).replace(/\.?0+$/, ''));

export class HypercareWatch {
  readonly #deps: HypercareWatchDeps;
  /** During a round: the open degradations, and the checks this round looked at. */
  #open: OpenIndex = {};
  #seen = new Set<string>();

  constructor(deps: HypercareWatchDeps) {
    this.#deps = deps;
  }

  /** One round over every open change in hypercare. A failed query fails the round (no heartbeat) after the others ran. */
  async round(): Promise<HypercareReport> {
    const { changes, instances, logger, sourceId } = this.#deps;
    const now = this.#deps.clock?.() ?? new Date();
    const report: HypercareReport = { changes: 0, queries: 0, degraded: 0, recorded: 0 };
    const moved = new Set<string>();
    const failed = new Set<string>();
    const indexKey = `${sourceId}:open`;
    this.#open = JSON.parse((await this.#deps.events.pullState(indexKey)) ?? '{}') as OpenIndex;
    this.#seen = new Set();
    let failure: unknown = null;
    for (const instance of instances) {
      for (const state of HYPERCARE_STATES) {
        let cursor: string | undefined;
        do {
          const page = await changes.listChanges({ instance, state, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
          for (const change of page.items) {
            try {
              if (await this.#watch(change, now, report)) moved.add(change.id);
            } catch (err) {
              failed.add(change.id);
              failure ??= err;
              logger.error({ err, source: sourceId, changeId: change.id }, `${sourceId}: hypercare queries for ${change.key} failed`);
            }
          }
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
      }
    }
    // A degradation left open by a change that is no longer in hypercare (it ended, the change closed or
    // moved back) is resolved now: no one queries it any more, and it must not hold other changes on the service.
    for (const [key, open] of Object.entries(this.#open)) {
      if (this.#seen.has(key) || failed.has(open.changeId)) continue;
      const monitor: Record<string, unknown> = { ...open.monitor, status: 'resolved', endsAt: now.toISOString(), title: `${String(open.monitor['title'])}; no longer watched: hypercare ended` };
      if ((await recordPulled(this.#deps.events, genericSource, sourceId, { headers: {}, body: { monitor: [monitor] }, deliveryId: `hypercare:${String(monitor['id'])}:resolved` }, now)) === 'recorded') {
        report.recorded++;
        moved.add(open.changeId);
      }
      await this.#deps.events.savePullState(key, JSON.stringify({ open: null, recorded: true } satisfies CheckState), now.toISOString());
      delete this.#open[key];
    }
    await this.#deps.events.savePullState(indexKey, JSON.stringify(this.#open), now.toISOString());
    if (moved.size > 0) await this.#deps.onRecorded?.([...moved]);
    if (failure !== null) throw failure;
    if (report.queries > 0) await this.#deps.events.heartbeat(sourceId, now.toISOString());
    return report;
  }

  /** Queries the change's mapped services if it is in hypercare; true when a result was recorded. */
  async #watch(change: Change, now: Date, report: HypercareReport): Promise<boolean> {
    const mapped = [...change.services, ...change.cis]
      .map((ref) => ref.name ?? ref.id)
      .flatMap((name) => Object.entries(this.#deps.services).filter(([key, entry]) => serviceKey(key) === serviceKey(name) && entry.prometheus !== undefined).map(([, entry]) => ({ name, prometheus: entry.prometheus as ServicePrometheus, labels: entry.alertLabels })));
    if (mapped.length === 0) return false;
    const window = hypercareOf(change, await this.#deps.ciOf(change, now), this.#deps.policy, now.getTime());
    if (window === null) return false;
    report.changes++;
    let recorded = false;
    for (const service of mapped) {
      for (const metric of METRICS) {
        const q = service.prometheus[metric];
        if (q === undefined) continue;
        // Looked at, even when the query returns no data now: an open degradation stays open.
        this.#seen.add(checkKey(this.#deps.sourceId, service.name, metric, window.deploy.id));
        const current = await this.#query(q.query, now.getTime());
        const baseline = await this.#query(q.query, window.start - this.#deps.config.baselineOffset);
        report.queries += 2;
        if (current === null) continue;
        const maxRatio = service.prometheus.maxRatio ?? this.#deps.config.maxRatio;
        const verdict = judge(current, baseline, maxRatio, q.floor);
        if (verdict.degraded) report.degraded++;
        const event = await this.#record(change, service, metric, window, { current, baseline, maxRatio, floor: q.floor, severity: service.prometheus.severity, ...verdict }, now);
        if (event) {
          report.recorded++;
          recorded = true;
        }
      }
    }
    return recorded;
  }

  /** The largest sample of an instant query at `atMs`; null when it returned no series or NaN. */
  async #query(query: string, atMs: number): Promise<number | null> {
    const res = await this.#deps.http.request({ path: '/api/v1/query', params: { query, time: (atMs / 1000).toFixed(3) } });
    const body = obj(res.data);
    const data = obj(body?.['data']);
    if (str(body?.['status']) !== 'success' || data === null) throw badResponse(this.#deps.sourceId, '/api/v1/query', 'expected {"status":"success","data":{...}}');
    const type = str(data['resultType']);
    const samples: unknown[] =
      type === 'vector' && Array.isArray(data['result']) ? data['result'].map((s) => (obj(s)?.['value'] as unknown[] | undefined)?.[1]) : type === 'scalar' && Array.isArray(data['result']) ? [data['result'][1]] : [];
    if (type !== 'vector' && type !== 'scalar') throw badResponse(this.#deps.sourceId, '/api/v1/query', `expected a vector or scalar result, got ${type ?? 'none'}: make the expression an instant vector`);
    const values = samples.map((v) => (typeof v === 'string' ? Number(v) : Number.NaN)).filter((v) => Number.isFinite(v));
    return values.length === 0 ? null : Math.max(...values);
  }

  async #record(
    change: Change,
    service: { name: string; labels: Record<string, string> },
    metric: Metric,
    window: HypercareWindow,
    result: Judgement & { current: number; baseline: number | null; maxRatio: number; floor: number; severity: MonitorEvent['severity'] },
    now: Date,
  ): Promise<boolean> {
    const { events, sourceId } = this.#deps;
    const deployAt = new Date(window.start).toISOString();
    const key = checkKey(sourceId, service.name, metric, window.deploy.id);
    const saved = await events.pullState(key);
    const state: CheckState = saved === null ? { open: null, recorded: false } : (JSON.parse(saved) as CheckState);
    let startsAt: string;
    let status: 'firing' | 'resolved';
    if (result.degraded) {
      startsAt = state.open ?? now.toISOString();
      status = 'firing';
    } else if (state.open !== null) {
      startsAt = state.open;
      status = 'resolved';
    } else if (!state.recorded) {
      // The first check found it healthy: recorded once, resolved, so the change shows it was looked at.
      startsAt = deployAt;
      status = 'resolved';
    } else return false;
    const what = METRIC_NAMES[metric];
    const against = result.baseline === null ? 'no baseline' : `baseline ${fmt(result.baseline)}${result.ratio === null ? '' : `, ${fmt(result.ratio)}×`}`;
    const title = `${what} of ${service.name} ${result.degraded ? 'degraded' : 'healthy'} after the production deploy: ${fmt(result.current)} (${against}; limit ${fmt(result.maxRatio)}× above ${fmt(result.floor)})`;
    const monitor = {
      id: `${serviceKey(service.name)}:${metric}:${window.deploy.id}:${startsAt}`,
      kind: 'alert',
      status,
      severity: result.severity,
      service: service.name,
      title,
      startsAt,
      ...(status === 'resolved' ? { endsAt: now.toISOString() } : {}),
      fingerprint: `${serviceKey(service.name)}:${metric}:${window.deploy.id}`,
      url: `${this.#deps.config.url.replace(/\/+$/, '')}/graph`,
      labels: {
        ...service.labels,
        alertname: `Hypercare${metric === 'errorRate' ? 'ErrorRate' : 'Latency'}${result.degraded ? 'Degraded' : 'Healthy'}`,
        change: change.key,
        metric,
        value: fmt(result.current),
        baseline: result.baseline === null ? '' : fmt(result.baseline),
        ratio: result.ratio === null ? '' : fmt(result.ratio),
        maxRatio: fmt(result.maxRatio),
        floor: fmt(result.floor),
        deployedAt: deployAt,
      },
    };
    const outcome = await recordPulled(events, genericSource, sourceId, { headers: {}, body: { monitor: [monitor] }, deliveryId: `hypercare:${monitor.id}:${status}` }, now);
    if (status === 'firing') this.#open[key] = { changeId: change.id, monitor };
    else delete this.#open[key];
    const next: CheckState = { open: status === 'firing' ? startsAt : null, recorded: true };
    await events.savePullState(key, JSON.stringify(next), now.toISOString());
    return outcome === 'recorded';
  }
}
