// A generic signed JSON source, for any pipeline or monitor that can send an
// HTTP request: `X-Changegate-Signature: sha256=<hex HMAC-SHA256 of the raw
// body>`, an optional `X-Changegate-Delivery` id, and a body in the canonical
// vocabulary, `{ "ci": [CiEvent…], "monitor": [MonitorEvent…] }`, where only
// `id` and `status` (and `startsAt` for an alert) are required; the rest
// defaults to null. Times are RFC 3339 date-times with a zone; any other time
// given is refused, naming it. Event ids are prefixed with the source id, so
// two sources never overwrite each other's events.

import { CI_EVENT_KINDS, CI_STATUSES, type CiEvent, type CiEventKind, type CiStatus, type MonitorEvent, type TestSummary } from '../../domain/events.ts';
import { findChangeKeys } from '../change-keys.ts';
import { arr, instant, INSTANT_FORMAT, invalid, obj, str, type Json } from '../event-fields.ts';
import type { EventSourceKind } from '../event-source-kit.ts';
import { verifyHmacHeader } from '../event-signatures.ts';
import { severityOf } from './alertmanager.ts';
import { header } from './payload-fields.ts';

const count = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0);

function testsOf(value: unknown): TestSummary | null {
  const t = obj(value);
  return t === null ? null : { passed: count(t['passed']), failed: count(t['failed']), skipped: count(t['skipped']) };
}

function findingsOf(value: unknown): CiEvent['findings'] {
  const f = obj(value);
  if (f === null) return null;
  const out: CiEvent['findings'] = {};
  for (const level of ['critical', 'high', 'medium', 'low', 'info'] as const) if (f[level] !== undefined) out[level] = count(f[level]);
  return out;
}

/** A time the sender gave (absent, null or '': none); one that is not an RFC 3339 date-time with a zone is refused, never guessed at. */
function timeOf(item: Json, field: string, path: string): string | null {
  const value = item[field];
  if (value === undefined || value === null || value === '') return null;
  const at = instant(value);
  if (at === null) throw invalid('generic', path, `expected ${INSTANT_FORMAT}`);
  return at;
}

function ciOf(sourceId: string, item: Json, i: number): CiEvent {
  const id = str(item['id']);
  if (id === null) throw invalid('generic', `ci[${i}].id`, 'expected a non-empty string');
  const status = str(item['status']);
  if (!CI_STATUSES.includes(status as CiStatus)) throw invalid('generic', `ci[${i}].status`, `expected one of ${CI_STATUSES.join(', ')}`);
  const kind = str(item['kind']) ?? 'build';
  if (!CI_EVENT_KINDS.includes(kind as CiEventKind)) throw invalid('generic', `ci[${i}].kind`, `expected one of ${CI_EVENT_KINDS.join(', ')}`);
  const given = arr(item['changeKeys']).filter((k): k is string => typeof k === 'string');
  const branch = str(item['branch']);
  return {
    id: `${sourceId}:${id}`,
    source: sourceId,
    kind: kind as CiEventKind,
    repo: str(item['repo']),
    commit: str(item['commit']),
    branch,
    runId: str(item['runId']),
    name: str(item['name']),
    status: status as CiStatus,
    environment: str(item['environment']),
    startedAt: timeOf(item, 'startedAt', `ci[${i}].startedAt`),
    finishedAt: timeOf(item, 'finishedAt', `ci[${i}].finishedAt`),
    url: str(item['url']),
    changeKeys: [...new Set([...given, ...findChangeKeys(branch, str(item['message']))])],
    tests: testsOf(item['tests']),
    findings: findingsOf(item['findings']),
    verified: typeof item['verified'] === 'boolean' ? item['verified'] : null,
  };
}

function monitorOf(sourceId: string, item: Json, i: number): MonitorEvent {
  const id = str(item['id']);
  if (id === null) throw invalid('generic', `monitor[${i}].id`, 'expected a non-empty string');
  const status = str(item['status']);
  if (status !== 'firing' && status !== 'resolved') throw invalid('generic', `monitor[${i}].status`, 'expected firing or resolved');
  const startsAt = timeOf(item, 'startsAt', `monitor[${i}].startsAt`);
  if (startsAt === null) throw invalid('generic', `monitor[${i}].startsAt`, `expected ${INSTANT_FORMAT}`);
  const endsAt = timeOf(item, 'endsAt', `monitor[${i}].endsAt`);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(item['labels']) ?? {})) if (typeof v === 'string') labels[k] = v;
  return {
    id: `${sourceId}:${id}`,
    source: sourceId,
    kind: str(item['kind']) === 'incident' ? 'incident' : 'alert',
    status,
    severity: severityOf(str(item['severity'])),
    service: str(item['service']) ?? labels['service'] ?? null,
    labels,
    title: str(item['title']),
    startsAt,
    endsAt: status === 'resolved' ? endsAt : null,
    fingerprint: str(item['fingerprint']) ?? id,
    url: str(item['url']),
  };
}

export const genericSource: EventSourceKind = {
  kind: 'generic',
  signs: true,
  verify: (delivery, secrets) => verifyHmacHeader(delivery, secrets, 'x-changegate-signature', 'sha256='),
  // A blank header (a template naming an unset variable) names no delivery: the body's hash de-duplicates instead.
  deliveryId: (delivery) => header(delivery.headers, 'x-changegate-delivery'),
  normalise(sourceId, _delivery, body) {
    const payload = obj(body);
    if (payload === null) throw invalid('generic', 'body', 'expected a JSON object');
    if (payload['ci'] === undefined && payload['monitor'] === undefined) throw invalid('generic', 'body', 'expected "ci" or "monitor" events');
    const items = (field: string): Json[] => {
      const list = payload[field];
      // A list sent as one object (or anything else) would otherwise read as no events: a 202 that stores nothing it said.
      // Null is an empty list (how Go writes an empty slice).
      if (list !== undefined && list !== null && !Array.isArray(list)) throw invalid('generic', field, 'expected a list of events');
      return arr(list).map((item, i) => {
        const o = obj(item);
        if (o === null) throw invalid('generic', `${field}[${i}]`, 'expected an object');
        return o;
      });
    };
    return { ci: items('ci').map((item, i) => ciOf(sourceId, item, i)), monitor: items('monitor').map((item, i) => monitorOf(sourceId, item, i)) };
  },
};
