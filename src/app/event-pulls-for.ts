// The scheduled event pulls a configuration describes: a GitHub pull for each
// github source with `pull:`, an Alertmanager pull for each alertmanager
// source with `pull:`, and the Prometheus hypercare watch when
// `events.prometheus` is set. Tokens are read here (a token file that cannot
// be read stops start-up naming it); what a pull records is processed by the
// event processor like any webhook.

import type { ChangegateConfig } from '../config/schema.ts';
import type { Change } from '../domain/change.ts';
import type { CiEvent } from '../domain/events.ts';
import type { HttpClient } from '../http/http-client.ts';
import type { Logger } from '../log.ts';
import type { Policy } from '../policy/policy-config.ts';
import { AlertmanagerPuller } from '../events/pull/alertmanager-pull.ts';
import { GITHUB_HEADERS, GithubPuller } from '../events/pull/github-pull.ts';
import { HypercareWatch } from '../events/pull/prometheus-hypercare.ts';
import { createPullHttp } from '../events/pull/pull-http.ts';
import type { ScheduledPull } from '../events/pull/pull-scheduler.ts';
import type { ServicesMapping } from '../events/services-mapping.ts';
import type { StoreBundle } from '../store/store-bundle.ts';

export interface EventPullDeps {
  stores: Pick<StoreBundle, 'events' | 'changes'>;
  logger: Logger;
  policy: Policy;
  services: ServicesMapping;
  /** Instances whose open changes the hypercare watch looks at. */
  instances: readonly string[];
  ciOf(change: Change, now: Date): Promise<CiEvent[]>;
  /** Something was recorded: process it now. */
  kick(): void;
  /** Hypercare results moved for these changes: process them, then re-assess each. */
  settle(changeIds: readonly string[]): Promise<void>;
}

export function eventPullsFor(config: ChangegateConfig, deps: EventPullDeps): ScheduledPull[] {
  const { stores, logger } = deps;
  const pulls: ScheduledPull[] = [];
  for (const source of config.events.sources) {
    const pull = source.pull;
    if (pull === undefined) continue;
    if (source.kind === 'github') {
      const http = createPullHttp({ source: source.id, baseUrl: pull.baseUrl, timeoutMs: pull.timeout, token: pull.token, tokenFile: pull.tokenFile, logger, headers: GITHUB_HEADERS });
      const puller = new GithubPuller({ sourceId: source.id, pull, http, events: stores.events, logger }, pull.baseUrl);
      pulls.push({
        name: `github:${source.id}`,
        cron: pull.schedule,
        run: async () => {
          const reports = await puller.pullAll();
          if (reports.some((r) => r.recorded > 0)) deps.kick();
        },
      });
    } else if (source.kind === 'alertmanager') {
      const clients = new Map(pull.urls.map((url) => [url, createPullHttp({ source: source.id, baseUrl: url, timeoutMs: pull.timeout, token: pull.token, tokenFile: pull.tokenFile, logger })]));
      const puller = new AlertmanagerPuller({ sourceId: source.id, pull, httpFor: (url) => clients.get(url) as HttpClient, events: stores.events, logger });
      pulls.push({
        name: `alertmanager:${source.id}`,
        cron: pull.schedule,
        run: async () => {
          const reports = await puller.pullAll();
          if (reports.some((r) => r.recorded + r.resolved > 0)) deps.kick();
        },
      });
    }
  }
  const prometheus = config.events.prometheus;
  if (prometheus !== undefined) {
    const http = createPullHttp({ source: prometheus.id, baseUrl: prometheus.url, timeoutMs: prometheus.timeout, token: prometheus.token, tokenFile: prometheus.tokenFile, logger });
    const watch = new HypercareWatch({
      sourceId: prometheus.id,
      config: prometheus,
      http,
      events: stores.events,
      changes: stores.changes,
      instances: deps.instances,
      ciOf: deps.ciOf,
      services: deps.services,
      policy: deps.policy,
      logger,
      onRecorded: deps.settle,
    });
    pulls.push({ name: `prometheus:${prometheus.id}`, cron: prometheus.schedule, run: async () => void (await watch.round()) });
  }
  return pulls;
}

/** The services the Prometheus hypercare watch covers: those with PromQL in the mapping. */
export function prometheusServices(services: ServicesMapping): string[] {
  return Object.entries(services)
    .filter(([, entry]) => entry.prometheus !== undefined)
    .map(([name]) => name);
}
