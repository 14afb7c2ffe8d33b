// Prometheus Alertmanager webhooks (`version: "4"`). The payload carries no
// signature: the receiver takes the credential Alertmanager sends through its
// `http_config` (`authorization` bearer, or basic auth with the secret as the
// password). Alertmanager names no delivery, so the route de-duplicates by a
// hash of the body. Each alert is one event per (fingerprint, startsAt), so its
// resolution updates it; a Watchdog alert is a heartbeat (heartbeat.ts).

import { createHash } from 'node:crypto';
import type { MonitorEvent, Severity } from '../../domain/events.ts';
import { arr, instant, INSTANT_FORMAT, invalid, obj, str, type Json } from '../event-fields.ts';
import type { EventSourceKind } from '../event-source-kit.ts';
import { verifyAuthorization } from '../event-signatures.ts';

const SEVERITIES: Record<string, Severity> = {
  critical: 'critical',
  page: 'critical',
  high: 'high',
  error: 'high',
  major: 'high',
  warning: 'medium',
  medium: 'medium',
  minor: 'low',
  low: 'low',
  info: 'info',
  informational: 'info',
  none: 'info',
};

export function severityOf(label: string | null | undefined): Severity | null {
  return label === null || label === undefined ? null : (SEVERITIES[label.toLowerCase()] ?? null);
}

function labelsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value) ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Older Alertmanagers send no fingerprint: a hash of the sorted labels names the alert as well. */
function fingerprintOf(alert: Json, labels: Record<string, string>): string {
  const given = str(alert['fingerprint']);
  if (given !== null) return given;
  const sorted = Object.keys(labels).toSorted().map((k) => `${k}=${labels[k]}`).join(',');
  return createHash('sha256').update(sorted).digest('hex').slice(0, 16);
}

function alertOf(sourceId: string, raw: unknown, index: number): MonitorEvent {
  const alert = obj(raw);
  if (alert === null) throw invalid('alertmanager', `alerts[${index}]`, 'expected an object');
  const startsAt = instant(alert['startsAt']);
  if (startsAt === null) throw invalid('alertmanager', `alerts[${index}].startsAt`, `expected ${INSTANT_FORMAT}`);
  const labels = labelsOf(alert['labels']);
  const annotations = labelsOf(alert['annotations']);
  const fingerprint = fingerprintOf(alert, labels);
  const endsAt = instant(alert['endsAt']);
  const status = str(alert['status']) === 'resolved' ? 'resolved' : 'firing';
  return {
    id: `${sourceId}:${fingerprint}:${startsAt}`,
    source: sourceId,
    kind: 'alert',
    status,
    severity: severityOf(labels['severity'] ?? labels['priority']),
    service: labels['service'] ?? labels['app'] ?? labels['job'] ?? null,
    labels,
    title: annotations['summary'] ?? annotations['title'] ?? labels['alertname'] ?? null,
    startsAt,
    // `0001-01-01T00:00:00Z` while firing, and a future `endsAt` is only Alertmanager's resolve timeout.
    endsAt: status === 'resolved' && endsAt !== null && !endsAt.startsWith('0001-') ? endsAt : null,
    fingerprint,
    url: str(alert['generatorURL']),
  };
}

export const alertmanagerSource: EventSourceKind = {
  kind: 'alertmanager',
  signs: false,
  verify: (delivery, secrets) => verifyAuthorization(delivery, secrets),
  deliveryId: () => null,
  normalise(sourceId, _delivery, body) {
    const payload = obj(body);
    if (payload === null) throw invalid('alertmanager', 'body', 'expected a JSON object');
    if (!Array.isArray(payload['alerts'])) throw invalid('alertmanager', 'alerts', 'expected a list of alerts');
    return { ci: [], monitor: arr(payload['alerts']).map((alert, i) => alertOf(sourceId, alert, i)) };
  },
};
