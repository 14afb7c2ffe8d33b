// Test and scan results posted by a CI: `POST /v1/events/:source/results`
// with a JUnit XML report or a SARIF 2.1.0 log for one commit. Verified like
// the source's events (the same signature over the raw bytes), its content
// type checked (415), its names checked (400), the file parsed once to refuse
// what cannot be read (422, nothing stored), then stored as a delivery of kind
// `results` and answered 202 with the summary; the event processor turns the
// stored file into a `test` or `scan` CiEvent the implement gates read.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ChangegateError, isChangegateError } from '../../errors.ts';
import {
  DIGEST_HEADER,
  FORMAT_HEADER,
  RECEIVED_HEADER,
  RESULTS_KIND,
  RESULTS_MEDIA_TYPES,
  RESULTS_NAME_KEYS,
  formatOfContentType,
  nameHeader,
  resultsDeliveryId,
  sha256Hex,
  summariseResults,
  type ResultsFormat,
  type ResultsNames,
} from '../../events/results/results-delivery.ts';
import { extractChangeKeys } from '../../events/sources/change-keys.ts';
import { nestsDeeperThan } from '../json-depth.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';
import { deliveryOf, type EventIngress } from './event-ingress.ts';
import type { EventRouteDeps } from './events.ts';
import { WEBHOOK_MAX_DEPTH } from './webhooks.ts';

/** The default `events.maxResultsBytes`: SARIF logs of a large code base run to megabytes. */
export const RESULTS_BODY_LIMIT = 10_485_760;

const COMMIT = /^[0-9a-fA-F]{7,64}$/;
const name = (description: string) => z.string().min(1).max(200).optional().meta({ description });

const ResultsQuery = z
  .object({
    commit: z
      .string()
      .regex(COMMIT, 'expected a commit sha (7 to 64 hex digits)')
      .optional()
      .meta({ description: 'The commit the results are for (required here or as X-Changegate-Commit): the implement gates judge a commit.' }),
    change: name('A change key the results belong to (`CHG0030001`, `ITSM-42`): links them to that change at once.'),
    run: name('The CI run id.'),
    repo: name('The repository (`owner/name`).'),
    branch: name('The branch; a change key in it links the results too.'),
    name: name('What ran (`unit tests`, `smoke`, `CodeQL`); shown on the ticket.'),
    environment: name('Where it ran (`SIT`, `UAT`, `production`): a green test run there verifies a deploy.'),
    url: name('A link to the run.'),
  })
  .strict();

const ResultsAcceptedSchema = z.object({
  accepted: z.literal(true),
  duplicate: z.boolean().meta({ description: 'The same file for the same names was stored before: acknowledged, stored once.' }),
  deliveryId: z.string(),
  format: z.enum(['junit', 'sarif']),
  tests: z.object({ passed: z.number(), failed: z.number(), skipped: z.number() }).nullable().meta({ description: 'JUnit: counts recomputed from the test cases (an errored test counts as failed).' }),
  findings: z.record(z.string(), z.number()).nullable().meta({ description: 'SARIF: open findings by severity (security-severity where a rule has one, else the level).' }),
});

export const resultsRoute = (limit: number) =>
  defineRoute({
    method: 'POST',
    url: '/v1/events/:source/results',
    operationId: 'receiveResults',
    summary: 'A JUnit XML or SARIF 2.1.0 file for one commit, posted by a CI',
    description: `The file is verified like the source's events (the same signature or token, over the raw bytes), read by its content type (application/xml or text/xml: JUnit; application/sarif+json or application/json: SARIF 2.1.0; others 415), named by query parameters or the matching X-Changegate-* headers (commit required), parsed (an unreadable file is refused 422 naming what is wrong), stored with its raw bytes and answered 202 with its summary. It becomes a test or scan event of the commit, which implement.tests, implement.scan and implement.ci-green read. The same file posted again with the same names is answered \`duplicate: true\` and stored once. Files over ${limit} bytes (events.maxResultsBytes) get 413.`,
    tags: ['events'],
    access: 'public',
    params: z.object({ source: z.string().min(1).max(200).meta({ description: 'The configured event source id (events.sources[].id); its secrets verify the file.' }) }),
    query: ResultsQuery,
    body: {
      raw: true,
      description: 'The report as the test runner or scanner wrote it.',
      schema: z.looseObject({}),
      limit,
      contentTypes: Object.keys(RESULTS_MEDIA_TYPES),
    },
    answers: { 202: { description: 'Stored (or a duplicate of a stored file)', schema: ResultsAcceptedSchema } },
    errors: [
      'CG_EVENT_SOURCE_UNKNOWN',
      'CG_WEBHOOK_SIGNATURE_INVALID',
      'CG_WEBHOOK_SIGNATURE_MISSING',
      'CG_RESULTS_TYPE_UNSUPPORTED',
      'CG_RESULTS_INVALID',
      'CG_INPUT_INVALID',
    ],
    store: true,
  });

type Query = z.output<typeof ResultsQuery>;

/** The query parameter, else the X-Changegate-* header, for each name; the commit is required and checked either way. */
function namesOf(query: Query, headers: Readonly<Record<string, string | undefined>>): ResultsNames {
  const names = {} as Record<keyof ResultsNames, string | null>;
  for (const key of RESULTS_NAME_KEYS) {
    const value = (query[key] ?? headers[nameHeader(key)] ?? '').trim();
    if (value.length > 200) throw new ChangegateError('CG_INPUT_INVALID', `headers ${nameHeader(key)}: longer than 200 characters`, { details: { field: nameHeader(key), where: 'headers' } });
    names[key] = value === '' ? null : value;
  }
  const commit = names.commit;
  if (commit === null) {
    throw new ChangegateError('CG_INPUT_INVALID', 'query commit: required (or the X-Changegate-Commit header): the gates judge the results of a commit', { details: { field: 'commit', where: 'query' } });
  }
  if (!COMMIT.test(commit)) throw new ChangegateError('CG_INPUT_INVALID', `headers ${nameHeader('commit')}: expected a commit sha (7 to 64 hex digits)`, { details: { field: nameHeader('commit'), where: 'headers' } });
  if (names.change !== null && extractChangeKeys(names.change).length === 0) {
    throw new ChangegateError('CG_INPUT_INVALID', `query change: "${names.change.slice(0, 60)}" names no change key (CHG0030001, ITSM-42)`, { details: { field: 'change', where: 'query' } });
  }
  return { ...names, commit };
}

function formatOf(contentType: string | undefined): ResultsFormat {
  const format = formatOfContentType(contentType);
  if (format !== null) return format;
  const given = contentType === undefined || contentType === '' ? 'none' : `"${contentType.slice(0, 80)}"`;
  throw new ChangegateError('CG_RESULTS_TYPE_UNSUPPORTED', `headers content-type: ${given} is not a results type; send ${Object.keys(RESULTS_MEDIA_TYPES).join(', ')}`, {
    details: { field: 'content-type', where: 'headers' },
  });
}

function summarise(format: ResultsFormat, raw: Buffer) {
  if (format === 'sarif' && nestsDeeperThan(raw, WEBHOOK_MAX_DEPTH)) {
    throw new ChangegateError('CG_RESULTS_INVALID', `SARIF log: nested deeper than ${WEBHOOK_MAX_DEPTH} levels`, { details: { format, field: 'log' } });
  }
  try {
    return summariseResults(format, raw);
  } catch (err) {
    if (!isChangegateError(err, 'CG_EVENT_INVALID')) throw err;
    throw new ChangegateError('CG_RESULTS_INVALID', err.message, { cause: err, details: { ...err.details, where: 'body' } });
  }
}

export function registerResultsRoute(app: FastifyInstance, deps: EventRouteDeps, ingress: EventIngress): void {
  const clock = deps.clock ?? (() => new Date());
  const limit = deps.maxResultsBytes ?? RESULTS_BODY_LIMIT;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, body));
    registerRoute(scope, resultsRoute(limit), async ({ params, query, body }, request) => {
      const found = ingress.source(params.source);
      const delivery = deliveryOf(body, request.headers);
      ingress.verify(found, delivery);
      const format = formatOf(delivery.headers['content-type']);
      const names = namesOf(query, delivery.headers);
      const summary = summarise(format, body);
      ingress.storable(params.source);
      const receivedAt = clock().toISOString();
      const headers: Record<string, string> = { [FORMAT_HEADER]: format, [RECEIVED_HEADER]: receivedAt, [DIGEST_HEADER]: sha256Hex(body) };
      const contentType = delivery.headers['content-type'];
      if (contentType !== undefined) headers['content-type'] = contentType;
      for (const key of RESULTS_NAME_KEYS) if (names[key] !== null) headers[nameHeader(key)] = names[key];
      const deliveryId = resultsDeliveryId(format, names, body);
      const { duplicate } = await deps.events.record({ source: found.source.id, kind: RESULTS_KIND, deliveryId, receivedAt, headers, rawBody: body });
      if (!duplicate) deps.onAccepted?.();
      return { accepted: true as const, duplicate, deliveryId, format, tests: summary.tests, findings: summary.findings };
    });
  });
}
