// GitHub Actions webhooks: workflow_run, workflow_job, check_suite, check_run,
// deployment and deployment_status, signed with X-Hub-Signature-256 and named
// by X-GitHub-Delivery. Event ids are stable across a run's updates (a run's
// `requested`, `in_progress` and `completed` are one event; a deployment and
// its statuses are one), so the store keeps the latest final state.

import type { CiEvent, CiEventKind, CiStatus } from '../../domain/events.ts';
import { findChangeKeys } from '../change-keys.ts';
import { instant, invalid, obj, str, arr, requiredObj, type Json } from '../event-fields.ts';
import type { DeliveryJson, EventSourceKind, NormalisedEvents, SourceDelivery } from '../event-source-kit.ts';
import { verifyHmacHeader } from '../event-signatures.ts';
import { header } from './payload-fields.ts';

const NONE: NormalisedEvents = { ci: [], monitor: [] };

/** `status` while running, `conclusion` once completed (workflow runs, jobs, check suites and runs share the vocabulary). */
function runStatus(status: string | null, conclusion: string | null): CiStatus {
  if (status !== 'completed') return status === 'in_progress' ? 'running' : 'queued';
  switch (conclusion) {
    case 'success':
      return 'success';
    case 'cancelled':
      return 'cancelled';
    case 'skipped':
    case 'neutral':
    case 'stale':
      return 'skipped';
    default:
      // failure, timed_out, action_required, startup_failure, or a conclusion newer than this code: not a pass.
      return 'failure';
  }
}

const DEPLOY_STATES: Record<string, CiStatus> = {
  success: 'success',
  failure: 'failure',
  error: 'failure',
  pending: 'queued',
  queued: 'queued',
  waiting: 'queued',
  in_progress: 'running',
};

/** What a workflow or job proves, read from its name: tests, a scan, a deploy, or else a build. */
export function kindFromName(name: string | null): CiEventKind {
  const n = (name ?? '').toLowerCase();
  if (/deploy|release/.test(n)) return 'deploy';
  if (/scan|codeql|sast|trivy|snyk|semgrep|security|audit/.test(n)) return 'scan';
  if (/test|smoke|e2e|spec/.test(n)) return 'test';
  return 'build';
}

function base(sourceId: string, repo: string | null): Omit<CiEvent, 'id' | 'kind' | 'status' | 'commit' | 'branch' | 'runId' | 'name'> {
  return { source: sourceId, repo, environment: null, startedAt: null, finishedAt: null, url: null, changeKeys: [], tests: null, findings: null, verified: null };
}

function workflowRun(sourceId: string, repo: string | null, body: Json): CiEvent {
  const run = requiredObj(body, 'workflow_run', 'github');
  const id = str(run['id']);
  if (id === null) throw invalid('github', 'workflow_run.id', 'expected a run id');
  const attempt = str(run['run_attempt']) ?? '1';
  const status = runStatus(str(run['status']), str(run['conclusion']));
  const name = str(run['name']) ?? str(obj(body['workflow'])?.['name']);
  const pulls = arr(run['pull_requests']).map((p) => str(obj(obj(p)?.['head'])?.['ref']));
  return {
    ...base(sourceId, repo),
    id: `${sourceId}:run:${id}:${attempt}`,
    kind: kindFromName(name),
    status,
    commit: str(run['head_sha']),
    branch: str(run['head_branch']),
    runId: id,
    name,
    startedAt: instant(run['run_started_at']) ?? instant(run['created_at']),
    finishedAt: str(run['status']) === 'completed' ? instant(run['updated_at']) : null,
    url: str(run['html_url']),
    changeKeys: findChangeKeys(str(run['head_branch']), str(run['display_title']), str(obj(run['head_commit'])?.['message']), ...pulls),
  };
}

function workflowJob(sourceId: string, repo: string | null, body: Json): CiEvent {
  const job = requiredObj(body, 'workflow_job', 'github');
  const id = str(job['id']);
  if (id === null) throw invalid('github', 'workflow_job.id', 'expected a job id');
  const attempt = str(job['run_attempt']) ?? '1';
  const name = str(job['name']);
  return {
    ...base(sourceId, repo),
    id: `${sourceId}:job:${id}:${attempt}`,
    kind: kindFromName(`${name ?? ''} ${str(job['workflow_name']) ?? ''}`),
    status: runStatus(str(job['status']), str(job['conclusion'])),
    commit: str(job['head_sha']),
    branch: str(job['head_branch']),
    runId: str(job['run_id']),
    name,
    startedAt: instant(job['started_at']),
    finishedAt: instant(job['completed_at']),
    url: str(job['html_url']),
    changeKeys: findChangeKeys(str(job['head_branch'])),
  };
}

function checkSuite(sourceId: string, repo: string | null, body: Json, which: 'check_suite' | 'check_run'): CiEvent {
  const check = requiredObj(body, which, 'github');
  const id = str(check['id']);
  if (id === null) throw invalid('github', `${which}.id`, 'expected an id');
  const suite = which === 'check_run' ? obj(check['check_suite']) : check;
  const name = which === 'check_run' ? str(check['name']) : str(obj(check['app'])?.['name']);
  const branch = str(suite?.['head_branch']);
  return {
    ...base(sourceId, repo),
    id: `${sourceId}:${which === 'check_run' ? 'check' : 'suite'}:${id}`,
    kind: kindFromName(name),
    status: runStatus(str(check['status']), str(check['conclusion'])),
    commit: str(check['head_sha']),
    branch,
    runId: id,
    name,
    startedAt: instant(check['started_at']) ?? instant(check['created_at']),
    finishedAt: instant(check['completed_at']),
    url: str(check['html_url']),
    changeKeys: findChangeKeys(branch, str(obj(suite?.['head_commit'])?.['message'])),
  };
}

function deployment(sourceId: string, repo: string | null, body: Json, withStatus: boolean): CiEvent | null {
  const dep = requiredObj(body, 'deployment', 'github');
  const id = str(dep['id']);
  if (id === null) throw invalid('github', 'deployment.id', 'expected a deployment id');
  let status: CiStatus = 'queued';
  let finishedAt: string | null = null;
  let url: string | null = null;
  let environment = str(dep['environment']);
  if (withStatus) {
    const ds = requiredObj(body, 'deployment_status', 'github');
    const state = str(ds['state']);
    // `inactive`: a later deployment replaced this one; it says nothing new about whether it worked.
    if (state === 'inactive') return null;
    status = DEPLOY_STATES[state ?? ''] ?? 'failure';
    finishedAt = status === 'success' || status === 'failure' ? instant(ds['created_at']) : null;
    url = str(ds['log_url']) ?? str(ds['target_url']) ?? str(ds['environment_url']);
    environment = str(ds['environment']) ?? environment;
  }
  const payload = dep['payload'];
  return {
    ...base(sourceId, repo),
    id: `${sourceId}:deployment:${id}`,
    kind: 'deploy',
    status,
    commit: str(dep['sha']),
    branch: str(dep['ref']),
    runId: id,
    name: str(dep['task']),
    environment,
    startedAt: instant(dep['created_at']),
    finishedAt,
    url,
    changeKeys: findChangeKeys(str(dep['ref']), str(dep['description']), typeof payload === 'string' ? payload : JSON.stringify(payload ?? null)),
  };
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * A webhook whose content type is `application/x-www-form-urlencoded` (the
 * default of one made through GitHub's API) sends the JSON in the form field
 * `payload`, signed like any other delivery over the bytes sent.
 */
function jsonOf(delivery: SourceDelivery): DeliveryJson {
  const type = (delivery.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== FORM) return { bytes: delivery.rawBody, field: 'body' };
  const payload = new URLSearchParams(delivery.rawBody.toString('utf8')).get('payload');
  if (payload === null) throw invalid('github', 'payload', `a ${FORM} delivery carries its JSON in the form field "payload", and this one has none`);
  return { bytes: Buffer.from(payload, 'utf8'), field: 'payload' };
}

export const githubSource: EventSourceKind = {
  kind: 'github',
  signs: true,
  verify: (delivery, secrets) => verifyHmacHeader(delivery, secrets, 'x-hub-signature-256', 'sha256='),
  jsonOf,
  // A blank header names no delivery: stored under the empty id, every later delivery would be a "duplicate".
  deliveryId: (delivery) => header(delivery.headers, 'x-github-delivery'),
  normalise(sourceId, delivery, body) {
    const payload = obj(body);
    if (payload === null) throw invalid('github', 'body', 'expected a JSON object');
    const repo = str(obj(payload['repository'])?.['full_name']);
    const event = delivery.headers['x-github-event'];
    let ci: CiEvent | null;
    switch (event) {
      case 'workflow_run':
        ci = workflowRun(sourceId, repo, payload);
        break;
      case 'workflow_job':
        ci = workflowJob(sourceId, repo, payload);
        break;
      case 'check_suite':
      case 'check_run':
        ci = checkSuite(sourceId, repo, payload, event);
        break;
      case 'deployment':
        ci = deployment(sourceId, repo, payload, false);
        break;
      case 'deployment_status':
        ci = deployment(sourceId, repo, payload, true);
        break;
      default:
        // `ping` and event types this source does not read: stored, nothing to say.
        return NONE;
    }
    return ci === null ? NONE : { ci: [ci], monitor: [] };
  },
};
