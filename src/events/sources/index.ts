// The event sources this build knows, by `kind:` (the registry the ingestion
// route and the configuration check read). A new source is one module in this
// folder exporting an `EventSourceKind`, listed here once.

import type { EventSourceKind } from '../event-source-kit.ts';
import { alertmanagerSource } from './alertmanager.ts';
import { argocdSource } from './argocd.ts';
import { azureDevopsSource } from './azure-devops.ts';
import { genericSource } from './generic.ts';
import { githubSource } from './github.ts';
import { gitlabSource } from './gitlab.ts';
import { grafanaSource } from './grafana.ts';
import { jenkinsSource } from './jenkins.ts';
import { pagerdutySource } from './pagerduty.ts';

export const EVENT_SOURCES: readonly EventSourceKind[] = [
  githubSource,
  gitlabSource,
  jenkinsSource,
  azureDevopsSource,
  argocdSource,
  alertmanagerSource,
  grafanaSource,
  pagerdutySource,
  genericSource,
];

export function eventSourceKind(kind: string): EventSourceKind | undefined {
  return EVENT_SOURCES.find((s) => s.kind === kind);
}

/** Kinds that report on services (alerts, incidents), not on runs: their heartbeats decide whether alert checks can pass. */
export const MONITORING_KINDS: ReadonlySet<string> = new Set(['alertmanager', 'grafana', 'pagerduty']);
