// The correlator a configuration describes: the services mapping it names,
// its monitoring sources (what covers which services) and the heartbeat age.
// One builder for serve, validate and `changegate check`, so all judge a change
// on the same events.

import type { ChangegateConfig } from '../config/schema.ts';
import type { EventSource } from '../assess/policy-context.ts';
import { Correlator } from '../events/correlate.ts';
import { loadServicesMapping, servicesMatching } from '../events/services-mapping.ts';
import { MONITORING_KINDS } from '../events/sources/index.ts';
import type { StoreBundle } from '../store/store-bundle.ts';
import { prometheusServices } from './event-pulls-for.ts';

export function correlatorFor(config: ChangegateConfig, stores: Pick<StoreBundle, 'events' | 'changes'>): Correlator {
  const services = loadServicesMapping(config.events.services);
  // A pull filtered by label matchers watches the services whose alert labels match them (services-mapping.ts).
  const monitors = config.events.sources
    .filter((s) => MONITORING_KINDS.has(s.kind) || s.services !== undefined)
    .map((s) => ({ id: s.id, services: s.services ?? servicesMatching(s.pull?.filters ?? [], services) }));
  // Prometheus, queried during hypercare, watches the services that have PromQL in the mapping.
  const prometheus = config.events.prometheus;
  if (prometheus !== undefined) monitors.push({ id: prometheus.id, services: prometheusServices(services) });
  return new Correlator({
    events: stores.events,
    changes: stores.changes,
    services,
    monitors,
    heartbeatMaxAgeMs: config.events.heartbeatMaxAge,
  });
}

/** The correlated events of a change, as the policy context reads them. */
export function eventSourceOf(correlator: Correlator): EventSource {
  return async (change, now) => {
    const { ci, monitor, watch } = await correlator.eventsFor(change, now);
    return { ci, monitor, watch };
  };
}
