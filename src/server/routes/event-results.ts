// Test and scan results posted by a CI: `POST /v1/events/:source/results`
// with a JUnit XML report or a SARIF 2.1.0 log for one commit. Verified like
// the source's events (the same signature over the raw bytes) or, from a
// source that signs, by a signature over the file and its names too
// (results-signature.ts), so a captured upload cannot be re-posted for
// another commit or change; its content
// type checked (415), its names checked (400), the file parsed once to refuse
// what cannot be read (422, nothing stored), then stored as a delivery of kind
// `results` and answered 202 with the summary; the event processor turns the
// stored file into a `test` or `scan` CiEvent the implement gates read.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EventSourceConfig } from '../../config/schema.ts';
import { ChangegateError, isChangegateError } from '../../errors.ts';
import type { EventSourceKind, SourceDelivery } from '../../events/event-source-kit.ts';
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
import { BOUND_SIGNATURE_HEADER, BOUND_SIGNATURE_HINT, verifyBoundSignature } from '../../events/results/results-signature.ts';
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
    description: `The file is verified like the source's events (the same signature or token, over the raw bytes); a source that signs (github, gitlab, grafana, pagerduty, generic) also takes X-Changegate-Signature-256: sha256=<HMAC-SHA256 with its secret over \`changegate-results-v1\`, then commit=, change=, run=, repo=, branch=, name=, environment=, url= and sha256=<SHA-256 of the file>, each line ending in a newline, an absent name empty>, which binds what the file is for (a mismatch is 401 CG_WEBHOOK_SIGNATURE_INVALID), and with results.requireBoundSignature takes only that (401 CG_WEBHOOK_SIGNATURE_MISSING otherwise). It is read by its content type (application/xml or text/xml: JUnit; application/sarif+json or application/json: SARIF 2.1.0; others 415), named by query parameters or the matching X-Changegate-* headers (commit required), parsed (an unreadable file is refused 422 naming what is wrong), stored with its raw bytes and answered 202 with its summary. It becomes a test or scan event of the commit, which implement.tests, implement.scan and implement.ci-green read. The same file posted again with the same names is answered \`duplicate: true\` and stored once. Files over ${limit} bytes (events.maxResultsBytes) get 413.`,
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

/**
 * The names, once the upload is proven to come from the source. A signing source takes a signature
 * over the names and the file (X-Changegate-Signature-256) and, unless `results.requireBoundSignature`,
 * still its own signature over the file alone; a token source only its token, which binds nothing.
 */
function verified(ingress: EventIngress, found: { source: EventSourceConfig; kind: EventSourceKind }, delivery: SourceDelivery, query: Query): ResultsNames {
  const { source, kind } = found;
  const binds = kind.signs && (delivery.headers[BOUND_SIGNATURE_HEADER] ?? '').trim() !== '';
  if (!binds) {
    if (kind.signs && source.results?.requireBoundSignature === true) {
      throw new ChangegateError('CG_WEBHOOK_SIGNATURE_MISSING', `headers ${BOUND_SIGNATURE_HEADER}: source "${source.id}" requires results signed over what they name, not over the file alone; ${BOUND_SIGNATURE_HINT}`, {
        details: { field: BOUND_SIGNATURE_HEADER, where: 'headers', source: source.id },
      });
    }
    ingress.verify(found, delivery);
    return namesOf(query, delivery.headers);
  }
  const names = namesOf(query, delivery.headers);
  if (verifyBoundSignature(delivery, names, source.secrets)?.ok !== true) {
    throw new ChangegateError('CG_WEBHOOK_SIGNATURE_INVALID', `headers ${BOUND_SIGNATURE_HEADER}: matches none of the source's secrets over this file and these names (${RESULTS_NAME_KEYS.join(', ')})`, {
      details: { field: BOUND_SIGNATURE_HEADER, where: 'headers', source: source.id },
    });
  }
  return names;
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
      const names = verified(ingress, found, delivery, query);
      const format = formatOf(delivery.headers['content-type']);
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
