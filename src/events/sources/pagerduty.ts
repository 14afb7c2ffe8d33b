// PagerDuty v3 webhook subscriptions. The body is signed with HMAC-SHA256 over
// the raw bytes; during a zero-downtime secret rotation PagerDuty sends one
// `v1=<hex>` per active secret in `X-PagerDuty-Signature`, so a delivery is
// accepted when any signature matches any configured secret. Incident events
// become MonitorEvents of kind `incident` (triggered, acknowledged,
// unacknowledged, escalated and reopened ones firing, resolved ones resolved);
// every other resource is ignored.

import { createHmac } from 'node:crypto';
import type { MonitorEvent, Severity } from '../../domain/events.ts';
import type { EventSourceKind, NormalisedEvents, SourceDelivery, VerifyResult } from '../event-source-kit.ts';
import { bodyObject, header, invalidEvent, isObject, list, objectAt, requireObject, requireText, sameDigest, text, timeField, type Json } from './payload-fields.ts';

const KIND = 'pagerduty';

export function verifyPagerduty(delivery: SourceDelivery, secrets: readonly string[]): VerifyResult {
  const value = header(delivery.headers, 'x-pagerduty-signature');
  if (value === null) return { ok: false, reason: 'missing', detail: 'X-PagerDuty-Signature header is missing' };
  const given = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('v1=') && /^[0-9a-f]+$/i.test(entry.slice(3)))
    .map((entry) => Buffer.from(entry.slice(3), 'hex'));
  const matched = secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(delivery.rawBody).digest();
    return given.some((signature) => sameDigest(signature, expected));
  });
  return matched ? { ok: true } : { ok: false, reason: 'invalid', detail: 'no v1 signature in X-PagerDuty-Signature matches a configured secret' };
}

/** X-Webhook-Id is the same across PagerDuty's retries; the event id in the body names the same delivery when a proxy drops the header. */
export function pagerdutyDeliveryId(delivery: SourceDelivery): string | null {
  const fromHeader = header(delivery.headers, 'x-webhook-id');
  if (fromHeader !== null) return fromHeader;
  try {
    const body: unknown = JSON.parse(delivery.rawBody.toString('utf8'));
    const event = isObject(body) ? objectAt(body, 'event') : {};
    const id = text(event, 'id');
    return id === null ? null : `event:${id}`;
  } catch {
    return null;
  }
}

/** Priorities are named by each account (P1…P5 by default); urgency is PagerDuty's own high/low. */
function severity(incident: Json): Severity | null {
  const priority = text(objectAt(incident, 'priority'), 'summary') ?? text(objectAt(incident, 'priority'), 'name');
  const byPriority: Record<string, Severity> = { P1: 'critical', P2: 'high', P3: 'medium', P4: 'low', P5: 'info' };
  const fromPriority = priority === null ? undefined : byPriority[priority.toUpperCase()];
  if (fromPriority !== undefined) return fromPriority;
  const urgency = text(incident, 'urgency');
  return urgency === 'high' ? 'high' : urgency === 'low' ? 'low' : null;
}

function labels(incident: Json): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: string | null): void => {
    if (value !== null) out[key] = value;
  };
  put('service_id', text(objectAt(incident, 'service'), 'id'));
  put('escalation_policy', text(objectAt(incident, 'escalation_policy'), 'summary'));
  put('urgency', text(incident, 'urgency'));
  put('priority', text(objectAt(incident, 'priority'), 'summary'));
  put('incident_number', text(incident, 'number'));
  put('incident_key', text(incident, 'incident_key'));
  const teams = list(incident, 'teams').flatMap((team) => (isObject(team) && text(team, 'summary') !== null ? [text(team, 'summary') ?? ''] : []));
  if (teams.length > 0) out['teams'] = teams.join(',');
  return out;
}

function incidentEvent(sourceId: string, event: Json): MonitorEvent {
  const eventType = requireText(KIND, event, 'event_type', 'event.event_type');
  const incident = requireObject(KIND, event, 'data', 'event.data');
  const id = requireText(KIND, incident, 'id', 'event.data.id');
  const occurredAt = timeField(KIND, event, 'occurred_at', 'event.occurred_at');
  const createdAt = timeField(KIND, incident, 'created_at', 'event.data.created_at') ?? occurredAt;
  if (createdAt === null) throw invalidEvent(KIND, 'event.data.created_at', 'is missing (and so is event.occurred_at)');
  // A reopened incident fires again (status `triggered` or `acknowledged`): this firing starts when it was reopened,
  // so the event store takes it over the resolved one and the hypercare watch posts it again. Its later
  // deliveries carry only `created_at`; the store keeps the reopened start for them (`settle`).
  const reopened = eventType === 'incident.reopened';
  const startsAt = reopened ? (occurredAt ?? createdAt) : createdAt;
  // A `resolved` event carries the incident as resolved; later annotations of a resolved incident keep status `resolved`.
  const resolved = !reopened && (eventType === 'incident.resolved' || text(incident, 'status') === 'resolved');
  return {
    id: `${sourceId}:incident:${id}`,
    source: sourceId,
    kind: 'incident',
    status: resolved ? 'resolved' : 'firing',
    severity: severity(incident),
    service: text(objectAt(incident, 'service'), 'summary'),
    labels: labels(incident),
    title: text(incident, 'title') ?? text(incident, 'summary'),
    startsAt,
    endsAt: resolved ? (timeField(KIND, incident, 'resolved_at', 'event.data.resolved_at') ?? occurredAt) : null,
    fingerprint: id,
    url: text(incident, 'html_url'),
  };
}

export function normalisePagerduty(sourceId: string, _delivery: SourceDelivery, raw: unknown): NormalisedEvents {
  const event = requireObject(KIND, bodyObject(KIND, raw), 'event');
  const resourceType = text(event, 'resource_type');
  const eventType = requireText(KIND, event, 'event_type', 'event.event_type');
  // Pings, services and anything PagerDuty adds later are not incidents.
  if (resourceType !== 'incident' && !eventType.startsWith('incident.')) return { ci: [], monitor: [] };
  // Notes, responder requests and status updates are incident events whose data is not the incident itself.
  const dataType = isObject(event['data']) ? text(event['data'], 'type') : null;
  if (dataType !== null && dataType !== 'incident') return { ci: [], monitor: [] };
  return { ci: [], monitor: [incidentEvent(sourceId, event)] };
}

export const pagerdutySource: EventSourceKind = {
  kind: KIND,
  signs: true,
  verify: verifyPagerduty,
  deliveryId: pagerdutyDeliveryId,
  normalise: normalisePagerduty,
};
