// The scheduled Alertmanager pull: GET /api/v2/alerts (active, not silenced,
// not inhibited, the configured filter matchers) from each configured URL.
// Each firing alert becomes a delivery in the v4 webhook shape, normalised by
// the alertmanager source like a webhook (one event per fingerprint and
// startsAt, so a webhook and a pull of the same alert are one event); an alert
// firing at the last pull and absent now is recorded resolved at this pull's
// time. A successful pull of every URL is the source's heartbeat: the
// monitoring it stands for answered, so a quiet feed means nothing fires.

import type { EventPullConfig } from '../../config/schema.ts';
import type { HttpClient } from '../../http/http-client.ts';
import type { Logger } from '../../log.ts';
import type { EventStore } from '../../store/event-store.ts';
import { obj, str, type Json } from '../event-fields.ts';
import { isHeartbeat } from '../heartbeat.ts';
import { alertmanagerSource } from '../sources/alertmanager.ts';
import { badResponse } from './pull-http.ts';
import { recordPulled, type PulledItem } from './pulled-delivery.ts';

/** An alert as the v4 webhook carries it; what is kept between pulls to resolve it. */
interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string | null;
  fingerprint: string | null;
}

interface UrlState {
  /** The alerts firing at the last pull, by `fingerprint@startsAt`. */
  firing: Record<string, WebhookAlert>;
}

export interface AlertmanagerPullReport {
  url: string;
  firing: number;
  recorded: number;
  resolved: number;
  known: number;
}

export interface AlertmanagerPullDeps {
  sourceId: string;
  pull: Pick<EventPullConfig, 'urls' | 'filters'>;
  /** One client per configured URL, in the order of `pull.urls`. */
  httpFor(url: string): HttpClient;
  events: EventStore;
  logger: Logger;
  clock?: () => Date;
}

const FIRING_ENDS_AT = '0001-01-01T00:00:00Z';

function labels(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value) ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

function webhookAlert(raw: Json, status: 'firing' | 'resolved', endsAt: string): WebhookAlert {
  return {
    status,
    labels: labels(raw['labels']),
    annotations: labels(raw['annotations']),
    startsAt: str(raw['startsAt']) ?? '',
    endsAt,
    generatorURL: str(raw['generatorURL']),
    fingerprint: str(raw['fingerprint']),
  };
}

function itemOf(url: string, alert: WebhookAlert): PulledItem {
  return {
    headers: {},
    body: { version: '4', status: alert.status, receiver: 'changegate-pull', groupLabels: {}, commonLabels: alert.labels, commonAnnotations: alert.annotations, externalURL: url, alerts: [alert] },
    deliveryId: `pull:${alert.fingerprint ?? 'labels'}:${alert.startsAt}:${alert.status}`,
  };
}

export class AlertmanagerPuller {
  readonly #deps: AlertmanagerPullDeps;

  constructor(deps: AlertmanagerPullDeps) {
    this.#deps = deps;
  }

  /** Pulls every URL; the heartbeat is noted only when all answered (a silent Alertmanager proves nothing). Throws the first failure after trying all. */
  async pullAll(): Promise<AlertmanagerPullReport[]> {
    const reports: AlertmanagerPullReport[] = [];
    let failure: unknown = null;
    for (const url of this.#deps.pull.urls) {
      try {
        reports.push(await this.pullUrl(url));
      } catch (err) {
        failure ??= err;
        this.#deps.logger.error({ err, source: this.#deps.sourceId, url }, `${this.#deps.sourceId}: pulling alerts from ${url} failed`);
      }
    }
    if (failure !== null) throw failure;
    await this.#deps.events.heartbeat(this.#deps.sourceId, (this.#deps.clock?.() ?? new Date()).toISOString());
    return reports;
  }

  async pullUrl(url: string): Promise<AlertmanagerPullReport> {
    const { events, sourceId } = this.#deps;
    const now = this.#deps.clock?.() ?? new Date();
    const key = `${sourceId}:${url}`;
    const saved = await events.pullState(key);
    const before: UrlState = saved === null ? { firing: {} } : (JSON.parse(saved) as UrlState);
    const query = new URLSearchParams({ active: 'true', silenced: 'false', inhibited: 'false' });
    for (const filter of this.#deps.pull.filters) query.append('filter', filter);
    const path = `/api/v2/alerts?${query}`;
    const res = await this.#deps.httpFor(url).request({ path, pathTemplate: '/api/v2/alerts' });
    if (!Array.isArray(res.data)) throw badResponse(sourceId, `${url}${path}`, 'expected a JSON array of alerts');
    const report: AlertmanagerPullReport = { url, firing: 0, recorded: 0, resolved: 0, known: 0 };
    const firing: Record<string, WebhookAlert> = {};
    for (const [i, raw] of res.data.entries()) {
      const alert = obj(raw);
      if (alert === null || str(alert['startsAt']) === null) throw badResponse(sourceId, `${url}${path}`, `alert ${i} has no startsAt`);
      // An alert Alertmanager has not yet processed may still be silenced or inhibited; the next pull judges it.
      if (str(obj(alert['status'])?.['state']) === 'unprocessed') continue;
      const hook = webhookAlert(alert, 'firing', FIRING_ENDS_AT);
      const [event] = alertmanagerSource.normalise(sourceId, { headers: {}, rawBody: Buffer.alloc(0) }, { alerts: [hook] }).monitor;
      if (event === undefined || isHeartbeat(event)) continue;
      firing[event.id] = hook;
      report.firing++;
      const outcome = await recordPulled(events, alertmanagerSource, sourceId, itemOf(url, hook), now);
      report[outcome === 'recorded' ? 'recorded' : 'known']++;
    }
    for (const [id, gone] of Object.entries(before.firing)) {
      if (firing[id] !== undefined) continue;
      const outcome = await recordPulled(events, alertmanagerSource, sourceId, itemOf(url, { ...gone, status: 'resolved', endsAt: now.toISOString() }), now);
      if (outcome === 'recorded') report.resolved++;
      else report.known++;
    }
    await events.savePullState(key, JSON.stringify({ firing } satisfies UrlState), now.toISOString());
    this.#deps.logger.info({ source: sourceId, ...report }, `${sourceId}: pulled ${report.firing} firing alert(s) from ${url}: ${report.recorded} new, ${report.resolved} resolved`);
    return report;
  }
}
