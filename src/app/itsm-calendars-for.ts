// The ITSM schedules (ServiceNow blackout and maintenance schedules) of the
// configured instances, read through each system's `capabilities.calendars`.
// One builder for `serve`/`sync` (the app) and `changegate check`, so a dry run
// judges with the same calendars the service does.

import { createItsmCalendars, type CalendarReader, type ItsmCalendars } from '../assess/itsm-calendar.ts';
import type { InstanceConfig } from '../config/schema.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { connectorContext, type BuildConnectorDeps } from './build-connectors.ts';

export function itsmCalendarsFor(instances: readonly InstanceConfig[], registry: ConnectorRegistry, deps: BuildConnectorDeps): ItsmCalendars {
  const readers = new Map<string, CalendarReader>();
  for (const instance of instances) {
    const read = registry.get(instance.system).capabilities?.calendars;
    if (read) readers.set(instance.id, read(instance, connectorContext(instance, deps)));
  }
  return createItsmCalendars(readers, { logger: deps.logger });
}
