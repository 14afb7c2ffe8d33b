// Jenkins through the Notification plugin (JSON format, HTTP transport). The
// plugin posts once per phase; QUEUED and STARTED say a build is on its way,
// FINALIZED carries the result after post-build steps (artifact archiving) have
// run, and COMPLETED is skipped because FINALIZED always follows it. The plugin
// cannot sign: the only credential it sends is basic auth from `user:pass@` in
// the endpoint URL.

import type { CiEvent, CiStatus, TestSummary } from '../../domain/events.ts';
import type { EventSourceKind, NormalisedEvents, SourceDelivery } from '../event-source-kit.ts';
import { extractChangeKeys } from './change-keys.ts';
import { verifyHeaderCredentials } from './header-credentials.ts';
import { bodyObject, invalidEvent, isObject, objectAt, repoFromScmUrl, requireObject, requireText, stringRecord, text, type Json } from './payload-fields.ts';

const KIND = 'jenkins';

/** hudson.model.Result names. UNSTABLE is a build whose tests failed, so it is a failure for a gate. */
const RESULTS: Readonly<Record<string, CiStatus>> = {
  SUCCESS: 'success', UNSTABLE: 'failure', FAILURE: 'failure', ABORTED: 'cancelled', NOT_BUILT: 'skipped',
};

/** Parameter names a deploy job conventionally takes its target environment from; the first present wins. */
const ENVIRONMENT_PARAMETERS = ['ENVIRONMENT', 'DEPLOY_ENV', 'DEPLOY_ENVIRONMENT', 'TARGET_ENV', 'TARGET_ENVIRONMENT', 'ENV'];

function branchName(branch: string | null): string | null {
  return branch?.replace(/^(refs\/heads\/|origin\/|refs\/remotes\/origin\/)/, '') ?? null;
}

/** Epoch milliseconds as ISO-8601; null for anything else, a number past what a Date holds (±8.64e15) included, which toISOString would throw on. */
function epochTime(value: unknown): string | null {
  if (typeof value !== 'number' || !(value > 0)) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

function tests(build: Json): TestSummary | null {
  if (!isObject(build['test_summary'])) return null;
  const summary = build['test_summary'];
  const count = (field: string): number => (typeof summary[field] === 'number' && Number.isInteger(summary[field]) && summary[field] >= 0 ? summary[field] : 0);
  return { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
}

function status(phase: string, build: Json): CiStatus {
  if (phase === 'QUEUED') return 'queued';
  if (phase === 'STARTED') return 'running';
  const result = requireText(KIND, build, 'status', 'build.status');
  const mapped = RESULTS[result.toUpperCase()];
  if (mapped === undefined) throw invalidEvent(KIND, 'build.status', `is not a Jenkins result: ${result}`, result);
  return mapped;
}

export function normaliseJenkins(sourceId: string, _delivery: SourceDelivery, raw: unknown): NormalisedEvents {
  const body = bodyObject(KIND, raw);
  const job = requireText(KIND, body, 'name');
  const build = requireObject(KIND, body, 'build');
  const number = requireText(KIND, build, 'number', 'build.number');
  const phase = requireText(KIND, build, 'phase', 'build.phase').toUpperCase();
  if (phase !== 'QUEUED' && phase !== 'STARTED' && phase !== 'FINALIZED') return { ci: [], monitor: [] };
  const scm = objectAt(build, 'scm');
  const parameters = stringRecord(build['parameters']);
  const environmentParameter = ENVIRONMENT_PARAMETERS.find((name) => (parameters[name] ?? '') !== '');
  const environment = environmentParameter === undefined ? null : (parameters[environmentParameter] ?? null);
  const startedAt = epochTime(build['timestamp']);
  const duration = typeof build['duration'] === 'number' ? build['duration'] : null;
  const branch = branchName(text(scm, 'branch'));
  const event: CiEvent = {
    // Job names are unique per Jenkins and build numbers per job; every phase of one build shares the id.
    id: `${sourceId}:${job}:${number}`,
    source: sourceId,
    kind: environment === null ? 'build' : 'deploy',
    repo: repoFromScmUrl(text(scm, 'url')),
    commit: text(scm, 'commit'),
    branch,
    runId: number,
    name: text(body, 'display_name') ?? job,
    status: status(phase, build),
    environment,
    startedAt,
    finishedAt: phase === 'FINALIZED' && startedAt !== null && duration !== null && duration > 0 ? epochTime(Date.parse(startedAt) + duration) : null,
    url: text(build, 'full_url'),
    changeKeys: extractChangeKeys(branch, text(build, 'display_name'), text(build, 'notes'), ...Object.values(parameters)),
    tests: tests(build),
    findings: null,
    verified: null,
  };
  return { ci: [event], monitor: [] };
}

export const jenkinsSource: EventSourceKind = {
  kind: KIND,
  signs: false,
  verify: verifyHeaderCredentials,
  // The plugin sends no delivery id; the route de-duplicates by a hash of the body.
  deliveryId: () => null,
  normalise: normaliseJenkins,
};
