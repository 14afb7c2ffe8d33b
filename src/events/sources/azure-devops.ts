// Azure DevOps service hooks through the "Web Hooks" consumer: `build.complete`
// (classic and YAML pipelines) and the release deployment-completed event.
// Azure DevOps does not sign deliveries; the subscription adds basic auth or
// custom HTTP headers, so the operator configures `X-Changegate-Token: <secret>`
// (or basic auth) and that is what is checked. The release event id and its
// resource shape are from memory in the team's reference (unverified), so every
// field of it is read tolerantly and the event type is matched by suffix.

import type { CiEvent, CiStatus } from '../../domain/events.ts';
import type { EventSourceKind, NormalisedEvents, SourceDelivery } from '../event-source-kit.ts';
import { extractChangeKeys } from './change-keys.ts';
import { verifyHeaderCredentials } from './header-credentials.ts';
import { bodyObject, invalidEvent, isObject, list, objectAt, requireObject, requireText, stringRecord, text, timeField, type Json } from './payload-fields.ts';

const KIND = 'azure-devops';

/** BuildResult, BuildStatus, DeploymentStatus and EnvironmentStatus values, lower-cased. */
const STATUSES: Readonly<Record<string, CiStatus>> = {
  succeeded: 'success', partiallysucceeded: 'failure', failed: 'failure', rejected: 'failure',
  canceled: 'cancelled', cancelled: 'cancelled', stopped: 'cancelled', cancelling: 'running',
  inprogress: 'running', notstarted: 'queued', postponed: 'queued', queued: 'queued', scheduled: 'queued', notdeployed: 'skipped',
};

function status(value: string | null, field: string): CiStatus {
  const mapped = value === null ? undefined : STATUSES[value.toLowerCase()];
  if (mapped === undefined) throw invalidEvent(KIND, field, value === null ? 'is missing' : `is not an Azure DevOps result: ${value}`, value);
  return mapped;
}

/**
 * Azure DevOps writes times as RFC 3339 in UTC (`2026-03-14T08:45:20.1234567Z`). A date it has not set may
 * come as .NET's least date, `0001-01-01T00:00:00`, with or without its `Z` (no delivery of ours was saved to
 * tell): that is no time, not year 1. Any other time without a zone is refused.
 */
const NOT_SET = /^0001-01-01T00:00:00(?:\.0+)?Z?$/;
const time = (parent: Json, field: string, path: string): string | null =>
  typeof parent[field] === 'string' && NOT_SET.test(parent[field]) ? null : timeField(KIND, parent, field, path);

const branchName = (ref: string | null): string | null => ref?.replace(/^refs\/heads\//, '') ?? null;

/** XAML-era payloads carry `sourceGetVersion: "LG:refs/heads/main:<sha>"` instead of sourceBranch/sourceVersion. */
function legacyVersion(resource: Json): { branch: string | null; commit: string | null } {
  const match = /^LG:([^:]+):([0-9a-f]{7,40})$/i.exec(text(resource, 'sourceGetVersion') ?? '');
  return { branch: branchName(match?.[1] ?? null), commit: match?.[2] ?? null };
}

function buildEvent(sourceId: string, body: Json): CiEvent {
  const resource = requireObject(KIND, body, 'resource');
  const id = requireText(KIND, resource, 'id', 'resource.id');
  // Completed builds carry `result`; older resource versions put the outcome in `status`.
  const outcome = text(resource, 'result') ?? text(resource, 'status');
  const legacy = legacyVersion(resource);
  const branch = branchName(text(resource, 'sourceBranch')) ?? legacy.branch;
  const repository = objectAt(resource, 'repository');
  const definition = objectAt(resource, 'definition');
  return {
    id: `${sourceId}:build:${id}`,
    source: sourceId,
    kind: 'build',
    repo: text(repository, 'name') ?? text(repository, 'id'),
    commit: text(resource, 'sourceVersion') ?? legacy.commit,
    branch,
    runId: id,
    name: text(definition, 'name'),
    status: status(outcome, text(resource, 'result') === null ? 'resource.status' : 'resource.result'),
    environment: null,
    startedAt: time(resource, 'startTime', 'resource.startTime'),
    finishedAt: time(resource, 'finishTime', 'resource.finishTime'),
    url: text(objectAt(objectAt(resource, '_links'), 'web'), 'href') ?? text(resource, 'url'),
    changeKeys: extractChangeKeys(branch, text(resource, 'buildNumber'), text(objectAt(body, 'message'), 'text'), ...Object.values(stringRecord(resource['triggerInfo']))),
    tests: null,
    findings: null,
    verified: null,
  };
}

/** The first artifact that names a source version (the primary one, as Azure DevOps lists it first). */
function releaseSource(release: Json): { commit: string | null; branch: string | null; repo: string | null } {
  for (const artifact of list(release, 'artifacts')) {
    if (!isObject(artifact)) continue;
    const reference = objectAt(artifact, 'definitionReference');
    const commit = text(objectAt(reference, 'sourceVersion'), 'id') ?? (text(artifact, 'type') === 'Git' ? text(objectAt(reference, 'version'), 'id') : null);
    if (commit === null) continue;
    return {
      commit,
      branch: branchName(text(objectAt(reference, 'branch'), 'id') ?? text(objectAt(reference, 'branch'), 'name')),
      repo: text(objectAt(reference, 'repository'), 'name') ?? text(objectAt(reference, 'definition'), 'name'),
    };
  }
  return { commit: null, branch: null, repo: null };
}

function deploymentEvent(sourceId: string, body: Json): CiEvent {
  const resource = requireObject(KIND, body, 'resource');
  const environment = requireObject(KIND, resource, 'environment', 'resource.environment');
  const deployment = objectAt(resource, 'deployment');
  const release = isObject(resource['release']) ? resource['release'] : objectAt(deployment, 'release');
  const environmentName = requireText(KIND, environment, 'name', 'resource.environment.name');
  const deploymentId = text(deployment, 'id') ?? `${text(release, 'id') ?? text(environment, 'releaseId') ?? 'release'}-${text(environment, 'id') ?? environmentName}`;
  const outcome = text(deployment, 'deploymentStatus') ?? text(environment, 'status');
  const source = releaseSource(release);
  return {
    id: `${sourceId}:deployment:${deploymentId}`,
    source: sourceId,
    kind: 'deploy',
    repo: source.repo,
    commit: source.commit,
    branch: source.branch,
    runId: deploymentId,
    name: text(release, 'name'),
    status: status(outcome, text(deployment, 'deploymentStatus') === null ? 'resource.environment.status' : 'resource.deployment.deploymentStatus'),
    environment: environmentName,
    startedAt: time(deployment, 'startedOn', 'resource.deployment.startedOn'),
    finishedAt: time(deployment, 'completedOn', 'resource.deployment.completedOn'),
    url: text(objectAt(objectAt(release, '_links'), 'web'), 'href') ?? text(release, 'url'),
    changeKeys: extractChangeKeys(text(release, 'name'), text(release, 'description'), text(resource, 'comment'), source.branch, text(objectAt(body, 'message'), 'text')),
    tests: null,
    findings: null,
    verified: null,
  };
}

export function normaliseAzureDevops(sourceId: string, _delivery: SourceDelivery, raw: unknown): NormalisedEvents {
  const body = bodyObject(KIND, raw);
  const eventType = requireText(KIND, body, 'eventType');
  if (eventType === 'build.complete') return { ci: [buildEvent(sourceId, body)], monitor: [] };
  if (eventType.endsWith('deployment-completed-event')) return { ci: [deploymentEvent(sourceId, body)], monitor: [] };
  return { ci: [], monitor: [] };
}

/** The notification's own id is the same on every retry of one delivery. */
export function azureDevopsDeliveryId(delivery: SourceDelivery): string | null {
  try {
    const body: unknown = JSON.parse(delivery.rawBody.toString('utf8'));
    return isObject(body) ? text(body, 'id') : null;
  } catch {
    return null;
  }
}

export const azureDevopsSource: EventSourceKind = {
  kind: KIND,
  signs: false,
  verify: verifyHeaderCredentials,
  deliveryId: azureDevopsDeliveryId,
  normalise: normaliseAzureDevops,
};
