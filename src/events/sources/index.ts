// The event sources this build knows, by `kind:` (the registry the ingestion
// route and the configuration check read). A new source is one module in this
// folder exporting an `EventSourceKind`, listed here once.

import type { EventSourceKind } from '../event-source-kit.ts';
import { alertmanagerSource } from './alertmanager.ts';
import { genericSource } from './generic.ts';
import { githubSource } from './github.ts';

export const EVENT_SOURCES: readonly EventSourceKind[] = [githubSource, alertmanagerSource, genericSource];

export function eventSourceKind(kind: string): EventSourceKind | undefined {
  return EVENT_SOURCES.find((s) => s.kind === kind);
}

/** Kinds that report on services (alerts, incidents), not on runs: their heartbeats decide whether alert checks can pass. */
export const MONITORING_KINDS: ReadonlySet<string> = new Set(['alertmanager', 'grafana', 'pagerduty']);
