// Canonical CI and monitoring events. Every source (GitHub, GitLab, Jenkins,
// Argo CD, Azure DevOps, Alertmanager, Grafana, PagerDuty, Prometheus) is
// normalised into these two shapes before correlation, so the policy engine
// reads one vocabulary. Values a source does not carry are `null`, never absent.

export const CI_EVENT_KINDS = ['build', 'test', 'scan', 'deploy'] as const;
export type CiEventKind = (typeof CI_EVENT_KINDS)[number];

/**
 * Normalised run outcome. `success`/`failure` are final; `queued`/`running` are
 * not yet known; `cancelled`/`skipped` are final but prove nothing.
 */
export const CI_STATUSES = ['queued', 'running', 'success', 'failure', 'cancelled', 'skipped'] as const;
export type CiStatus = (typeof CI_STATUSES)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface TestSummary {
  passed: number;
  failed: number;
  skipped: number;
}

export interface CiEvent {
  /** Stable id: `source:runId[:attempt]` or the delivery id; used as the evidence reference. */
  id: string;
  /** Configured event source id (`github`, `gitlab-main`, …). */
  source: string;
  kind: CiEventKind;
  /** `owner/name` or project path. */
  repo: string | null;
  /** Full or abbreviated commit sha. */
  commit: string | null;
  branch: string | null;
  runId: string | null;
  /** Workflow, job or suite name as the source shows it (`smoke`, `build-and-test`). */
  name: string | null;
  status: CiStatus;
  /** Deployment or test environment as the source names it (`SIT`, `uat`, `production`). */
  environment: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  url: string | null;
  /** Change keys (`CHG0030001`, `ITSM-42`) found in commit messages, branch names or parameters. */
  changeKeys: string[];
  /** Test counts (JUnit, in-toto test-result); `null` when the run reported none. */
  tests: TestSummary | null;
  /** Open findings by severity (SARIF, scanners); `null` when the run is not a scan. */
  findings: Partial<Record<Severity, number>> | null;
  /** A deploy the source itself marks as verified (health checks, Argo CD `Healthy`); `null` when it says nothing. */
  verified: boolean | null;
}

export const MONITOR_EVENT_KINDS = ['alert', 'incident'] as const;
export type MonitorEventKind = (typeof MONITOR_EVENT_KINDS)[number];

export interface MonitorEvent {
  /** Stable id: fingerprint + startsAt, or the incident id. */
  id: string;
  source: string;
  kind: MonitorEventKind;
  status: 'firing' | 'resolved';
  /** Normalised severity; `null` when the source carries none. */
  severity: Severity | null;
  /** The affected service as the source names it (label `service`, PagerDuty service name). */
  service: string | null;
  labels: Record<string, string>;
  title: string | null;
  startsAt: string;
  /** `null` while firing (Alertmanager's `0001-01-01T00:00:00Z` is normalised to null). */
  endsAt: string | null;
  /** Identity across updates of the same alert or incident. */
  fingerprint: string;
  url: string | null;
}

/**
 * Whether monitoring watches a change's services: the sources that cover them
 * and whether one reported (a heartbeat) recently. Alert checks pass only when
 * `covered`; with nothing watching, no alert firing proves nothing.
 */
export interface MonitorWatch {
  covered: boolean;
  /** Configured monitoring sources covering the change's services. */
  sources: string[];
  /** The latest heartbeat among them (ISO-8601 UTC), null when none ever reported. */
  lastHeartbeat: string | null;
}
