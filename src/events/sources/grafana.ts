// Grafana Alerting webhook contact points. The body is Alertmanager-like
// (version "1"). Grafana authenticates a delivery in one of two ways, both
// accepted here: an Authorization header (basic auth, or any scheme with the
// configured credentials) and, from Grafana 12, an HMAC-SHA256 hex digest in
// `X-Grafana-Alerting-Signature`, over `timestamp:body` when a timestamp header
// is configured. The HMAC scheme is documented only by third parties so far,
// hence both the plain and the timestamped forms are tried.

import { createHash, createHmac } from 'node:crypto';
import type { MonitorEvent, Severity } from '../../domain/events.ts';
import type { EventSourceKind, NormalisedEvents, SourceDelivery, VerifyResult } from '../event-source-kit.ts';
import { authorizationMatches } from './header-credentials.ts';
import { bodyObject, endTime, header, invalidEvent, isObject, list, objectAt, sameDigest, stringRecord, text, timeField, type Json } from './payload-fields.ts';

const KIND = 'grafana';
/** The name Grafana's own provisioning examples give the optional timestamp header (the header name is configurable upstream). */
const TIMESTAMP_HEADER = 'x-grafana-alerting-timestamp';

function signatureMatches(delivery: SourceDelivery, signature: string, secrets: readonly string[]): boolean {
  if (!/^[0-9a-f]+$/i.test(signature)) return false;
  const given = Buffer.from(signature, 'hex');
  const timestamp = header(delivery.headers, TIMESTAMP_HEADER);
  return secrets.some((secret) => {
    const plain = createHmac('sha256', secret).update(delivery.rawBody).digest();
    if (sameDigest(given, plain)) return true;
    if (timestamp === null) return false;
    const stamped = createHmac('sha256', secret).update(`${timestamp}:`).update(delivery.rawBody).digest();
    return sameDigest(given, stamped);
  });
}

export function verifyGrafana(delivery: SourceDelivery, secrets: readonly string[]): VerifyResult {
  const signature = header(delivery.headers, 'x-grafana-alerting-signature');
  const authorization = header(delivery.headers, 'authorization');
  if (signature === null && authorization === null) {
    return { ok: false, reason: 'missing', detail: 'neither X-Grafana-Alerting-Signature nor Authorization header is present' };
  }
  if (signature !== null && signatureMatches(delivery, signature, secrets)) return { ok: true };
  if (authorization !== null && authorizationMatches(authorization, secrets)) return { ok: true };
  return { ok: false, reason: 'invalid', detail: signature !== null ? 'X-Grafana-Alerting-Signature matches no configured secret' : 'Authorization matches no configured secret' };
}

const SEVERITIES: Readonly<Record<string, Severity>> = {
  critical: 'critical', crit: 'critical', page: 'critical', p1: 'critical', fatal: 'critical', emergency: 'critical',
  high: 'high', major: 'high', error: 'high', p2: 'high',
  medium: 'medium', warning: 'medium', warn: 'medium', moderate: 'medium', p3: 'medium',
  low: 'low', minor: 'low', p4: 'low',
  info: 'info', informational: 'info', none: 'info', p5: 'info',
};

function severity(labels: Record<string, string>): Severity | null {
  const value = labels['severity'] ?? labels['priority'];
  return value === undefined ? null : (SEVERITIES[value.toLowerCase()] ?? null);
}

/** Older senders omit the fingerprint; a hash of the sorted labels identifies the same alert the same way. */
function labelsFingerprint(labels: Record<string, string>): string {
  const sorted = Object.entries(labels).toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

function alertEvent(sourceId: string, alert: unknown, index: number): MonitorEvent {
  const path = `alerts[${index}]`;
  if (!isObject(alert)) throw invalidEvent(KIND, path, 'must be an object');
  const status = text(alert, 'status');
  if (status !== 'firing' && status !== 'resolved') throw invalidEvent(KIND, `${path}.status`, 'must be firing or resolved', status ?? null);
  const startsAt = timeField(KIND, alert, 'startsAt', `${path}.startsAt`);
  if (startsAt === null) throw invalidEvent(KIND, `${path}.startsAt`, 'is missing', alert['startsAt'] ?? null);
  const labels = stringRecord(alert['labels']);
  const annotations: Json = objectAt(alert, 'annotations');
  const fingerprint = text(alert, 'fingerprint') ?? labelsFingerprint(labels);
  return {
    id: `${sourceId}:${fingerprint}:${startsAt}`,
    source: sourceId,
    kind: 'alert',
    status,
    severity: severity(labels),
    service: labels['service'] ?? null,
    labels,
    title: text(annotations, 'summary') ?? labels['alertname'] ?? null,
    startsAt,
    endsAt: status === 'resolved' ? endTime(KIND, alert, 'endsAt', `${path}.endsAt`) : null,
    fingerprint,
    url: text(alert, 'generatorURL') ?? text(alert, 'panelURL') ?? text(alert, 'dashboardURL'),
  };
}

export function normaliseGrafana(sourceId: string, _delivery: SourceDelivery, raw: unknown): NormalisedEvents {
  const body = bodyObject(KIND, raw);
  if (!Array.isArray(body['alerts'])) throw invalidEvent(KIND, 'alerts', 'must be an array');
  return { ci: [], monitor: list(body, 'alerts').map((alert, index) => alertEvent(sourceId, alert, index)) };
}

export const grafanaSource: EventSourceKind = {
  kind: KIND,
  signs: true,
  verify: verifyGrafana,
  // Grafana sends no delivery id: the route de-duplicates by a hash of the body.
  deliveryId: () => null,
  normalise: normaliseGrafana,
};
