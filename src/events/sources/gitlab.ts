// GitLab pipeline, job and deployment hooks. GitLab sends its secret token in
// plain text (`X-Gitlab-Token`); newer versions can also sign the delivery the
// Standard Webhooks way (`webhook-signature: v1,<base64>` over
// `{webhook-id}.{timestamp}.{body}`) behind the `webhook_signing_token` flag.
// Either one matching a configured secret is accepted, so both setups work.

import { createHmac } from 'node:crypto';
import type { CiEvent, CiStatus } from '../../domain/events.ts';
import type { EventSourceKind, NormalisedEvents, SourceDelivery, VerifyResult } from '../event-source-kit.ts';
import { extractChangeKeys } from './change-keys.ts';
import {
  bodyObject, header, invalidEvent, isObject, objectAt, requireText, sameDigest, sameSecret, text, timeField, type Json,
} from './payload-fields.ts';
import { INSTANT_FORMAT } from '../event-fields.ts';

const KIND = 'gitlab';

/** GitLab's pipeline, job and deployment statuses (lib/ci, deployments) in the canonical vocabulary. */
const STATUSES: Readonly<Record<string, CiStatus>> = {
  created: 'queued', waiting_for_resource: 'queued', preparing: 'queued', pending: 'queued', scheduled: 'queued',
  manual: 'queued', waiting_for_callback: 'queued', blocked: 'queued',
  running: 'running', canceling: 'running',
  success: 'success', failed: 'failure', canceled: 'cancelled', skipped: 'skipped',
};

/**
 * GitLab's hooks write their times the Rails way, `2016-08-12 15:23:28 UTC`
 * or `2021-04-28 21:50:00 +0200` (pipeline, job and deployment hooks), and
 * RFC 3339 elsewhere (`commit.timestamp`): the first two are read as the
 * RFC 3339 time they name.
 */
const RAILS_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (?:(UTC)|([+-]\d{2})(\d{2}))$/;
const GITLAB_TIME_FORMAT = `GitLab's 2016-08-12 15:23:28 UTC or 2021-04-28 21:50:00 +0200, or ${INSTANT_FORMAT}`;

function rfc3339(value: string): string {
  const m = RAILS_TIME.exec(value);
  if (m === null) return value;
  return `${m[1]}T${m[2]}${m[3] === undefined ? `${m[4]}:${m[5]}` : 'Z'}`;
}

const time = (parent: Json, field: string, path = field): string | null => timeField(KIND, parent, field, path, rfc3339, GITLAB_TIME_FORMAT);

function status(value: string, field: string): CiStatus {
  const mapped = STATUSES[value];
  if (mapped === undefined) throw invalidEvent(KIND, field, `has a status GitLab documents no mapping for: ${value}`, value);
  return mapped;
}

/** Signing-token keys: a Standard Webhooks `whsec_` secret is base64 after its prefix; any other secret is used as its bytes. */
function signingKeys(secret: string): Buffer[] {
  const keys = [Buffer.from(secret, 'utf8')];
  if (secret.startsWith('whsec_')) keys.push(Buffer.from(secret.slice('whsec_'.length), 'base64'));
  return keys;
}

function signatureMatches(delivery: SourceDelivery, signatures: string, secrets: readonly string[]): boolean {
  const id = header(delivery.headers, 'webhook-id');
  const timestamp = header(delivery.headers, 'webhook-timestamp');
  if (id === null || timestamp === null) return false;
  const given = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  const signedPrefix = Buffer.from(`${id}.${timestamp}.`, 'utf8');
  return secrets.some((secret) =>
    signingKeys(secret).some((key) => {
      const expected = createHmac('sha256', key).update(signedPrefix).update(delivery.rawBody).digest();
      return given.some((signature) => sameDigest(signature, expected));
    }),
  );
}

export function verifyGitlab(delivery: SourceDelivery, secrets: readonly string[]): VerifyResult {
  const token = header(delivery.headers, 'x-gitlab-token');
  const signatures = header(delivery.headers, 'webhook-signature');
  if (token === null && signatures === null) {
    return { ok: false, reason: 'missing', detail: 'X-Gitlab-Token (or webhook-signature) header is missing' };
  }
  // Every secret is compared, not the first match only, so timing does not tell which one matched.
  if (token !== null && secrets.map((secret) => sameSecret(token, secret)).includes(true)) return { ok: true };
  if (signatures !== null && signatureMatches(delivery, signatures, secrets)) return { ok: true };
  return { ok: false, reason: 'invalid', detail: token !== null ? 'X-Gitlab-Token matches no configured secret' : 'webhook-signature matches no configured secret' };
}

function pipelineEvent(sourceId: string, body: Json): CiEvent {
  const attrs = objectAt(body, 'object_attributes');
  if (!isObject(body['object_attributes'])) throw invalidEvent(KIND, 'object_attributes', 'must be an object');
  const id = requireText(KIND, attrs, 'id', 'object_attributes.id');
  const project = objectAt(body, 'project');
  const commit = objectAt(body, 'commit');
  const mergeRequest = objectAt(body, 'merge_request');
  const webUrl = text(project, 'web_url');
  return {
    id: `${sourceId}:pipeline:${id}`,
    source: sourceId,
    kind: 'build',
    repo: text(project, 'path_with_namespace'),
    commit: text(attrs, 'sha') ?? text(commit, 'id'),
    branch: text(attrs, 'ref'),
    runId: id,
    name: text(attrs, 'name'),
    status: status(requireText(KIND, attrs, 'status', 'object_attributes.status'), 'object_attributes.status'),
    environment: null,
    startedAt: time(attrs, 'created_at', 'object_attributes.created_at'),
    finishedAt: time(attrs, 'finished_at', 'object_attributes.finished_at'),
    url: text(attrs, 'url') ?? (webUrl === null ? null : `${webUrl}/-/pipelines/${id}`),
    changeKeys: extractChangeKeys(commit['message'], commit['title'], attrs['ref'], attrs['name'], mergeRequest['title'], mergeRequest['source_branch']),
    tests: null,
    findings: null,
    verified: null,
  };
}

/** Job hooks carry no project path; the repository's homepage URL ends with it. */
function repoFromHomepage(homepage: string | null): string | null {
  if (homepage === null) return null;
  try {
    const path = new URL(homepage).pathname.replace(/^\/+|\/+$/g, '');
    return path === '' ? null : path;
  } catch {
    return null;
  }
}

function jobEvent(sourceId: string, body: Json): CiEvent {
  const id = requireText(KIND, body, 'build_id');
  const repository = objectAt(body, 'repository');
  const commit = objectAt(body, 'commit');
  const environment = objectAt(body, 'environment');
  const homepage = text(repository, 'homepage');
  // A job that starts an environment is the deployment itself; stop/prepare/verify actions deploy nothing.
  const action = text(environment, 'action');
  const deploys = text(environment, 'name') !== null && (action === null || action === 'start');
  return {
    id: `${sourceId}:job:${id}`,
    source: sourceId,
    kind: deploys ? 'deploy' : 'build',
    repo: text(objectAt(body, 'project'), 'path_with_namespace') ?? repoFromHomepage(homepage),
    commit: text(body, 'sha') ?? text(commit, 'sha'),
    branch: text(body, 'ref'),
    runId: id,
    name: text(body, 'build_name'),
    status: status(requireText(KIND, body, 'build_status'), 'build_status'),
    environment: deploys ? text(environment, 'name') : null,
    startedAt: time(body, 'build_started_at'),
    finishedAt: time(body, 'build_finished_at'),
    url: homepage === null ? null : `${homepage}/-/jobs/${id}`,
    changeKeys: extractChangeKeys(commit['message'], body['ref'], body['build_name']),
    tests: null,
    findings: null,
    verified: null,
  };
}

/** Deployment hooks send only `short_sha`; the full sha is the last segment of `commit_url`. */
function deployedCommit(body: Json): string | null {
  const fromUrl = /\/commit\/([0-9a-f]{40})\/?$/i.exec(text(body, 'commit_url') ?? '');
  return fromUrl?.[1] ?? text(body, 'short_sha');
}

function deploymentEvent(sourceId: string, body: Json): CiEvent {
  const id = requireText(KIND, body, 'deployment_id');
  const state = status(requireText(KIND, body, 'status'), 'status');
  const final = state === 'success' || state === 'failure' || state === 'cancelled' || state === 'skipped';
  const changedAt = time(body, 'status_changed_at');
  return {
    id: `${sourceId}:deployment:${id}`,
    source: sourceId,
    kind: 'deploy',
    repo: text(objectAt(body, 'project'), 'path_with_namespace'),
    commit: deployedCommit(body),
    branch: text(body, 'ref'),
    runId: id,
    name: text(body, 'environment'),
    status: state,
    environment: text(body, 'environment'),
    startedAt: final ? null : changedAt,
    finishedAt: final ? changedAt : null,
    url: text(body, 'deployable_url'),
    changeKeys: extractChangeKeys(body['commit_title'], body['ref']),
    tests: null,
    findings: null,
    verified: null,
  };
}

export function normaliseGitlab(sourceId: string, _delivery: SourceDelivery, raw: unknown): NormalisedEvents {
  const body = bodyObject(KIND, raw);
  const kind = requireText(KIND, body, 'object_kind');
  // Deployment ids, job ids and pipeline ids are separate sequences, hence the prefix in each event id.
  if (kind === 'pipeline') return { ci: [pipelineEvent(sourceId, body)], monitor: [] };
  if (kind === 'build') return { ci: [jobEvent(sourceId, body)], monitor: [] };
  if (kind === 'deployment') return { ci: [deploymentEvent(sourceId, body)], monitor: [] };
  return { ci: [], monitor: [] };
}

export const gitlabSource: EventSourceKind = {
  kind: KIND,
  signs: true,
  verify: verifyGitlab,
  // Idempotency-Key and webhook-id stay the same across GitLab's retries of one delivery.
  deliveryId: (delivery) =>
    header(delivery.headers, 'idempotency-key') ?? header(delivery.headers, 'webhook-id') ?? header(delivery.headers, 'x-gitlab-event-uuid'),
  normalise: normaliseGitlab,
};

