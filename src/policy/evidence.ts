// Reading CI and monitoring events as evidence for one change. Events that
// happen after `now` are invisible, so re-running an assessment for a past
// instant (reactive enforcement of an observed transition) sees what was known then.
// An event's times are its source's clock (the CI system's, Alertmanager's,
// Grafana's, PagerDuty's), not ours: up to EVENT_CLOCK_SKEW_MS after `now` they
// count as `now` (see there).

import type { EvidenceRef } from '../domain/assessment.ts';
import type { Change } from '../domain/change.ts';
import { sameCommit } from '../domain/commit-sha.ts';
import type { CiEvent, CiEventKind, MonitorEvent, MonitorWatch, Severity } from '../domain/events.ts';
import { compareText, targetsOf } from './calendar.ts';
import { formatUtc } from './zoned-time.ts';

/**
 * How far an event source's clock may run ahead of ours. A run that has just
 * finished can be stamped seconds after `now` by a CI clock that is ahead, and
 * read strictly it would not have started (or would still be running) until our
 * clock caught up, leaving validate and the gates pending for that long; an
 * alert that has just fired would not be firing yet, letting closure through
 * while it fires. An event stamped up to this bound after `now` counts as of
 * `now`; one stamped further ahead has not happened yet (or its clock is broken)
 * and stays invisible. A replay of a past instant allows the same bound: the
 * skew was there then too.
 */
export const EVENT_CLOCK_SKEW_MS = 2 * 60_000;

/** The commit readiness is judged on: the most recently linked one. */
export function linkedCommit(change: Change): string | null {
  const commits = change.links.commits.filter((c) => c.trim() !== '');
  return commits.length === 0 ? null : (commits[commits.length - 1] as string);
}

/**
 * The commit a change is judged on: the one it links, else the commit of the
 * latest CI event correlated with it (a run or deploy that named its key, or
 * came from its services' repositories), so a site with no commit field
 * (JSM's default, ServiceNow's) still gets its evidence. Only events started
 * by `now` (within EVENT_CLOCK_SKEW_MS) count: a commit pushed after a move was not what the move was made on.
 */
export function changeCommit(change: Change, ci: readonly CiEvent[], now: number): string | null {
  const linked = linkedCommit(change);
  if (linked !== null) return linked;
  const withCommit = ci.filter((e) => e.commit !== null && e.commit.trim() !== '' && startTime(e) <= now + EVENT_CLOCK_SKEW_MS).toSorted((a, b) => eventTime(a) - eventTime(b) || compareText(a.id, b.id));
  return withCommit.at(-1)?.commit ?? null;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

export function eventTime(event: CiEvent): number {
  const t = Date.parse(event.finishedAt ?? event.startedAt ?? '');
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

function startTime(event: CiEvent): number {
  const t = Date.parse(event.startedAt ?? event.finishedAt ?? '');
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

function chronological(a: CiEvent, b: CiEvent): number {
  return eventTime(a) - eventTime(b) || compareText(a.id, b.id);
}

/**
 * The run as it stood at `now`. A run is stored once and updated in place (its id is the run's), so one that
 * started before `now` and finished after it carries a result nobody had at `now`: it was still running then.
 */
function runAt(event: CiEvent, now: number): CiEvent {
  if (eventTime(event) <= now + EVENT_CLOCK_SKEW_MS) return event;
  return { ...event, status: 'running', finishedAt: null, tests: null, findings: null, verified: null };
}

/** CI events for a commit, known at `now` and as they stood then, oldest first. */
export function commitEvents(events: readonly CiEvent[], commit: string, now: number, kinds?: readonly CiEventKind[]): CiEvent[] {
  return events
    .filter((e) => e.commit !== null && sameCommit(e.commit, commit) && startTime(e) <= now + EVENT_CLOCK_SKEW_MS && (kinds === undefined || kinds.includes(e.kind)))
    .map((e) => runAt(e, now))
    .toSorted(chronological);
}

export function latest<T>(items: readonly T[]): T | null {
  return items.length === 0 ? null : (items[items.length - 1] as T);
}

/** `Pre-Prod`, `preprod` and `pre_prod` are one environment. */
export function envKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function inEnvironment(event: CiEvent, names: readonly string[]): boolean {
  return event.environment !== null && names.some((n) => envKey(n) === envKey(event.environment as string));
}

export function ciRef(event: CiEvent, summary?: string): EvidenceRef {
  const what = `${event.kind}${event.name ? ` "${event.name}"` : ''}${event.environment ? ` in ${event.environment}` : ''} ${event.status}`;
  return { kind: 'ci', ref: event.id, summary: summary ?? `${event.source} ${what}`, url: event.url, at: event.finishedAt ?? event.startedAt };
}

export function fieldRef(path: string, summary: string): EvidenceRef {
  return { kind: 'field', ref: path, summary, url: null, at: null };
}

/** The latest successful deploy of the commit to one of the environments, and the latest attempt. */
export function deployIn(events: readonly CiEvent[], commit: string, environments: readonly string[], now: number): { success: CiEvent | null; last: CiEvent | null } {
  const deploys = commitEvents(events, commit, now, ['deploy']).filter((e) => inEnvironment(e, environments));
  return { success: latest(deploys.filter((e) => e.status === 'success')), last: latest(deploys) };
}

/** With no names configured every run counts; otherwise the run's name must contain one (`smoke`). */
export function nameMatches(event: CiEvent, names: readonly string[]): boolean {
  return names.length === 0 || (event.name !== null && names.some((n) => (event.name as string).toLowerCase().includes(n.toLowerCase())));
}

/** A green test run in the environment that finished at or after the deploy. */
export function verificationAfter(events: readonly CiEvent[], deploy: CiEvent, environments: readonly string[], now: number, names: readonly string[] = []): CiEvent | null {
  const deployedAt = eventTime(deploy);
  const runs = commitEvents(events, deploy.commit as string, now, ['test']).filter(
    (e) =>
      inEnvironment(e, environments) &&
      e.status === 'success' &&
      (e.tests === null || e.tests.failed === 0) &&
      eventTime(e) >= deployedAt &&
      nameMatches(e, names),
  );
  return latest(runs);
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

function monitorTime(event: MonitorEvent): number {
  const t = Date.parse(event.status === 'resolved' ? (event.endsAt ?? event.startsAt) : event.startsAt);
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

/**
 * The event as it stood at `now` (within EVENT_CLOCK_SKEW_MS), or null when it had not started. An alert is stored
 * once, updated in place (its id is fingerprint + start): one resolved after `now` was still firing at `now`, which
 * is what a replay of a past transition must see.
 */
function monitorAt(event: MonitorEvent, now: number): MonitorEvent | null {
  const until = now + EVENT_CLOCK_SKEW_MS;
  const starts = Date.parse(event.startsAt);
  if (starts > until) return null;
  if (event.status === 'resolved' && monitorTime(event) > until) return { ...event, status: 'firing', endsAt: null };
  return monitorTime(event) > until ? null : event;
}

function monitorTargets(event: MonitorEvent): string[] {
  const labels = ['service', 'app', 'application', 'component', 'ci'].map((k) => event.labels[k]);
  return [event.service, ...labels].filter((v): v is string => typeof v === 'string' && v !== '').map((v) => v.trim().toLowerCase());
}

/**
 * Alerts and incidents on the change's services/CIs whose latest known state
 * at `now` is firing, at one of the severities; most severe first.
 */
export function firingOn(change: Change, monitor: readonly MonitorEvent[], severities: readonly Severity[], now: number): MonitorEvent[] {
  const targets = targetsOf(change);
  const latestByFingerprint = new Map<string, MonitorEvent>();
  for (const stored of monitor) {
    const event = monitorAt(stored, now);
    if (event === null || !monitorTargets(event).some((t) => targets.has(t))) continue;
    const seen = latestByFingerprint.get(event.fingerprint);
    if (!seen || monitorTime(event) > monitorTime(seen) || (monitorTime(event) === monitorTime(seen) && event.status === 'resolved')) {
      latestByFingerprint.set(event.fingerprint, event);
    }
  }
  return [...latestByFingerprint.values()]
    .filter((e) => e.status === 'firing' && e.severity !== null && severities.includes(e.severity))
    .toSorted((a, b) => SEVERITY_RANK[a.severity as Severity] - SEVERITY_RANK[b.severity as Severity] || compareText(a.id, b.id));
}

export function monitorRef(event: MonitorEvent): EvidenceRef {
  const what = `${event.severity ?? 'unrated'} ${event.kind} "${event.title ?? event.fingerprint}" on ${event.service ?? 'an affected service'}`;
  return { kind: 'monitor', ref: event.id, summary: `${what} firing since ${formatUtc(Date.parse(event.startsAt))}`, url: event.url, at: event.startsAt };
}

/** Blank, whitespace or a placeholder such as `n/a` counts as missing. */
export function isBlank(text: string | null, placeholders: readonly string[] = [], minLength = 1): boolean {
  if (text === null) return true;
  const trimmed = text.trim();
  return trimmed.length < minLength || placeholders.some((p) => p.toLowerCase() === trimmed.toLowerCase());
}

/** Why an alert check cannot pass on "nothing firing": no monitoring source covers the services, or none reported recently; null when one watches. */
export function unwatched(watch: MonitorWatch | undefined, services: string): string | null {
  if (watch === undefined || watch.sources.length === 0) return `no monitoring source covers ${services || 'the change'}, so a quiet alert feed proves nothing`;
  if (!watch.covered) {
    const last = watch.lastHeartbeat === null ? 'has never reported' : `last reported ${formatUtc(Date.parse(watch.lastHeartbeat))}`;
    return `monitoring of ${services || 'the change'} (${watch.sources.join(', ')}) ${last}; waiting for a heartbeat before trusting that nothing fires`;
  }
  return null;
}
