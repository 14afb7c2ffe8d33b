// A test or scan results file a CI posts for one commit
// (`POST /v1/events/:source/results`): JUnit XML or SARIF 2.1.0, stored as a
// delivery of kind `results` with its raw bytes and the names the CI gave it
// (commit, run, change key, ...) as `x-changegate-*` headers, then normalised
// here, like any delivery, into one CiEvent carrying the summary: a `test`
// event with the recomputed counts, or a `scan` event with open findings by
// severity. The route reads the same names and parses the same file before it
// answers, so a file that cannot be read is refused, never stored.

import { createHash } from 'node:crypto';
import type { CiEvent } from '../../domain/events.ts';
import { findChangeKeys } from '../change-keys.ts';
import type { NormalisedEvents, SourceDelivery } from '../event-source-kit.ts';
import { summariseJunit } from './junit.ts';
import { summariseSarif } from './sarif.ts';

/** The stored delivery kind of a results upload (never a configurable source kind). */
export const RESULTS_KIND = 'results';

export type ResultsFormat = 'junit' | 'sarif';

/** What the CI says the file is about; `commit` is what the gates judge. */
export interface ResultsNames {
  commit: string;
  change: string | null;
  run: string | null;
  repo: string | null;
  branch: string | null;
  name: string | null;
  environment: string | null;
  url: string | null;
}

export const RESULTS_NAME_KEYS = ['commit', 'change', 'run', 'repo', 'branch', 'name', 'environment', 'url'] as const satisfies readonly (keyof ResultsNames)[];

/** The stored header holding each name (also what a CI may send instead of the query parameter). */
export const nameHeader = (key: keyof ResultsNames): string => `x-changegate-${key}`;
export const FORMAT_HEADER = 'x-changegate-format';
export const RECEIVED_HEADER = 'x-changegate-received-at';
export const DIGEST_HEADER = 'x-changegate-sha256';

/** Media types taken, and the format each means (parameters such as `; charset=utf-8` are ignored). */
export const RESULTS_MEDIA_TYPES: Readonly<Record<string, ResultsFormat>> = {
  'application/xml': 'junit',
  'text/xml': 'junit',
  'application/sarif+json': 'sarif',
  'application/json': 'sarif',
};

export function formatOfContentType(contentType: string | undefined): ResultsFormat | null {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return RESULTS_MEDIA_TYPES[media] ?? null;
}

export interface ResultsSummary {
  format: ResultsFormat;
  tests: CiEvent['tests'];
  findings: CiEvent['findings'];
  /** Tool names of a SARIF log (`CodeQL`, `Trivy`); empty for JUnit. */
  tools: string[];
}

/** Parses the file; throws CG_EVENT_INVALID naming what is wrong (not well-formed XML, no <testsuite>, a SARIF version or level). */
export function summariseResults(format: ResultsFormat, raw: Buffer): ResultsSummary {
  if (format === 'junit') return { format, tests: summariseJunit(raw).tests, findings: null, tools: [] };
  const sarif = summariseSarif(raw);
  return { format, tests: null, findings: sarif.findings, tools: sarif.tools };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The delivery id: a SHA-256 of the file together with what it names. The same
 * file posted again for the same run is stored once; the same bytes for another
 * commit or environment are another piece of evidence, never dropped as a replay.
 */
export function resultsDeliveryId(format: ResultsFormat, names: ResultsNames, raw: Buffer): string {
  const named = JSON.stringify([format, ...RESULTS_NAME_KEYS.map((key) => names[key])]);
  return `results:${sha256Hex(Buffer.concat([Buffer.from(`${named}\n`), raw]))}`;
}

const header = (delivery: SourceDelivery, name: string): string | null => {
  const value = delivery.headers[name];
  return value === undefined || value === '' ? null : value;
};

/** One results delivery as stored → its CiEvent. */
export function normaliseResults(sourceId: string, delivery: SourceDelivery): NormalisedEvents {
  const format = header(delivery, FORMAT_HEADER) === 'sarif' ? 'sarif' : 'junit';
  const names = Object.fromEntries(RESULTS_NAME_KEYS.map((key) => [key, header(delivery, nameHeader(key))])) as Record<keyof ResultsNames, string | null>;
  const summary = summariseResults(format, delivery.rawBody);
  const digest = header(delivery, DIGEST_HEADER) ?? sha256Hex(delivery.rawBody);
  const failed = summary.tests !== null && summary.tests.failed > 0;
  const event: CiEvent = {
    id: `${sourceId}:results:${sha256Hex(`${digest}\n${JSON.stringify(names)}`).slice(0, 32)}`,
    source: sourceId,
    kind: format === 'junit' ? 'test' : 'scan',
    repo: names.repo,
    commit: names.commit,
    branch: names.branch,
    runId: names.run,
    name: names.name ?? (format === 'junit' ? 'JUnit report' : summary.tools.join(', ') || 'SARIF scan'),
    // A report that exists ran to the end: its tests decide; a scan's findings are judged by the scan gate.
    status: failed ? 'failure' : 'success',
    environment: names.environment,
    startedAt: null,
    // When it was posted: orders it among the commit's other runs.
    finishedAt: header(delivery, RECEIVED_HEADER),
    url: names.url,
    changeKeys: findChangeKeys(names.change, names.branch),
    tests: summary.tests,
    findings: summary.findings,
    verified: null,
  };
  return { ci: [event], monitor: [] };
}
