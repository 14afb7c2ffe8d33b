// Test and scan evidence a GitHub workflow run left as artifacts. When a
// `workflow_run` of a github source configured with `artifacts:` completes, its
// artifacts are listed (GET /repos/{owner}/{repo}/actions/runs/{id}/artifacts),
// those whose names match are downloaded (the archive URL answers 302 to blob
// storage; the token is not sent there), unzipped, and the JUnit and SARIF
// files inside summarised: the run's event carries the test counts, and a scan
// event of the same commit carries the open findings, so implement.tests and
// implement.scan judge them like any other evidence.
//
// Runs in the event processor before the delivery's events are stored. A
// failure to reach GitHub retries the delivery; on its last attempt the run is
// stored without artifacts (logged), so an accepted delivery is never lost.

import { unzipSync } from 'fflate';
import type { EventSourceConfig } from '../../config/schema.ts';
import type { CiEvent, Severity, TestSummary } from '../../domain/events.ts';
import { ChangegateError, isChangegateError } from '../../errors.ts';
import { createHttpClient, type HttpClient } from '../../http/http-client.ts';
import { DEFAULT_RETRY_POLICY } from '../../http/retry-classifier.ts';
import type { Logger } from '../../log.ts';
import type { StoredEvent } from '../../store/event-store.ts';
import { arr, obj, str } from '../event-fields.ts';
import type { EventEnricher } from '../event-source-kit.ts';
import { summariseJunit } from '../results/junit.ts';
import { summariseSarif } from '../results/sarif.ts';

type ArtifactsConfig = NonNullable<EventSourceConfig['artifacts']>;

interface Artifact {
  id: string;
  name: string;
  size: number;
  expired: boolean;
  downloadUrl: string;
}

/** `junit-*`, `*.sarif`, `test-results-?`: `*` any run of characters, `?` one; the whole name must match, case-insensitively. */
export function namePattern(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`, 'i');
}

function githubError(sourceId: string) {
  return (status: number, body: unknown, url: string): ChangegateError =>
    new ChangegateError('CG_GITHUB_REQUEST_REJECTED', `${sourceId}: GitHub answered ${status} for ${url}${typeof obj(body)?.['message'] === 'string' ? `: ${String(obj(body)?.['message'])}` : ''}`, {
      details: { source: sourceId, status, url },
    });
}

function artifactsOf(body: unknown): Artifact[] {
  return arr(obj(body)?.['artifacts']).flatMap((raw): Artifact[] => {
    const a = obj(raw);
    const id = str(a?.['id']);
    const name = str(a?.['name']);
    const downloadUrl = str(a?.['archive_download_url']);
    if (a === null || id === null || name === null || downloadUrl === null) return [];
    const size = typeof a['size_in_bytes'] === 'number' ? a['size_in_bytes'] : 0;
    return [{ id, name, size, expired: a['expired'] === true, downloadUrl }];
  });
}

interface Found {
  tests: TestSummary | null;
  findings: Record<Severity, number> | null;
  tools: string[];
  files: string[];
}

/** The JUnit (`*.xml`) and SARIF (`*.sarif`, `*.sarif.json`) files of one archive, summed; other files and unreadable reports are skipped and named in the log. */
function readArchive(zip: Buffer, maxBytes: number, found: Found, skip: (file: string, why: string) => void): void {
  // Unpacked sizes count against maxBytes too: a small archive must not unpack into gigabytes.
  let budget = maxBytes;
  const files = unzipSync(new Uint8Array(zip), {
    filter: (f) => {
      if (!/\.(xml|sarif|sarif\.json)$/i.test(f.name)) return false;
      if (f.originalSize > budget) {
        skip(f.name, `unpacks to ${f.originalSize} bytes, over what is left of artifacts.maxBytes (${budget})`);
        return false;
      }
      budget -= f.originalSize;
      return true;
    },
  });
  for (const [file, data] of Object.entries(files)) {
    const bytes = Buffer.from(data);
    try {
      if (/\.xml$/i.test(file)) {
        const t = summariseJunit(bytes).tests;
        found.tests = found.tests === null ? t : { passed: found.tests.passed + t.passed, failed: found.tests.failed + t.failed, skipped: found.tests.skipped + t.skipped };
      } else {
        const s = summariseSarif(bytes);
        const sum = found.findings ?? { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
        for (const [severity, n] of Object.entries(s.findings) as [Severity, number][]) sum[severity] += n;
        found.findings = sum;
        found.tools.push(...s.tools.filter((t) => !found.tools.includes(t)));
      }
      found.files.push(file);
    } catch (err) {
      if (!isChangegateError(err, 'CG_EVENT_INVALID')) throw err;
      skip(file, err.message);
    }
  }
}

export function githubArtifacts(sources: readonly EventSourceConfig[], logger: Logger, clients: Map<string, HttpClient> = new Map()): EventEnricher | undefined {
  const configured = new Map(sources.flatMap((s) => (s.kind === 'github' && s.artifacts !== undefined ? [[s.id, s.artifacts] as const] : [])));
  if (configured.size === 0) return undefined;
  const clientFor = (sourceId: string, config: ArtifactsConfig): HttpClient => {
    let client = clients.get(sourceId);
    if (client === undefined) {
      client = createHttpClient({
        baseURL: config.apiUrl,
        timeoutMs: 30_000,
        // Few and short: the event inbox waits while this runs; the delivery itself is retried with backoff.
        retry: { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, maxMs: 5_000, maxWaitMs: 10_000 },
        instanceId: sourceId,
        logger,
        errorFor: githubError(sourceId),
        auth: { header: async () => `Bearer ${config.token}` },
      });
      clients.set(sourceId, client);
    }
    return client;
  };

  async function fetchFor(sourceId: string, config: ArtifactsConfig, run: CiEvent): Promise<Found> {
    const client = clientFor(sourceId, config);
    const headers = { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' };
    const listed = await client.request({
      path: `/repos/${run.repo as string}/actions/runs/${encodeURIComponent(run.runId as string)}/artifacts`,
      pathTemplate: '/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts',
      params: { per_page: 100 },
      headers,
    });
    const patterns = config.names.map(namePattern);
    const found: Found = { tests: null, findings: null, tools: [], files: [] };
    for (const artifact of artifactsOf(listed.data).filter((a) => patterns.some((p) => p.test(a.name)))) {
      const where = { source: sourceId, run: run.runId, artifact: artifact.name };
      if (artifact.expired) {
        logger.warn(where, `${sourceId}: artifact ${artifact.name} of run ${run.runId} has expired; its results are not read`);
        continue;
      }
      if (artifact.size > config.maxBytes) {
        logger.warn({ ...where, bytes: artifact.size }, `${sourceId}: artifact ${artifact.name} (${artifact.size} bytes) is over artifacts.maxBytes; not downloaded`);
        continue;
      }
      const download = await client.request({ path: artifact.downloadUrl, pathTemplate: '/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/zip', headers, binary: { maxBytes: config.maxBytes } });
      try {
        readArchive(download.bytes ?? Buffer.alloc(0), config.maxBytes, found, (file, why) => logger.warn({ ...where, file }, `${sourceId}: ${artifact.name}/${file} skipped: ${why}`));
      } catch (err) {
        // A corrupt archive will not get better by asking again.
        logger.warn({ ...where, err }, `${sourceId}: artifact ${artifact.name} of run ${run.runId} is not a readable zip archive`);
      }
    }
    return found;
  }

  return async (sourceId, events, { final }) => {
    const config = configured.get(sourceId);
    if (config === undefined) return events;
    const out: StoredEvent[] = [];
    for (const stored of events) {
      out.push(stored);
      const run = stored.type === 'ci' ? stored.event : null;
      // A completed workflow run (its id `source:run:<id>:<attempt>`); deployments, jobs and unfinished runs leave nothing to read yet.
      if (run === null || !run.id.startsWith(`${sourceId}:run:`) || run.repo === null || run.runId === null || (run.status !== 'success' && run.status !== 'failure')) continue;
      let found: Found;
      try {
        found = await fetchFor(sourceId, config, run);
      } catch (err) {
        if (!final) throw err;
        logger.error({ err, source: sourceId, run: run.runId }, `${sourceId}: the artifacts of run ${run.runId} could not be read; the run is stored without them`);
        continue;
      }
      if (found.tests !== null) out[out.length - 1] = { ...stored, event: { ...run, tests: found.tests } } as StoredEvent;
      if (found.findings !== null) {
        const scan: CiEvent = { ...run, id: `${run.id}:sarif`, kind: 'scan', status: 'success', name: found.tools.join(', ') || 'SARIF scan', tests: null, findings: found.findings };
        out.push({ ...stored, type: 'ci', id: scan.id, event: scan });
      }
    }
    return out;
  };
}
