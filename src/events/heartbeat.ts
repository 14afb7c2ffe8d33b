// A monitoring source proves it is watching by reporting: Alertmanager's
// always-firing Watchdog alert (the kube-prometheus convention; any alert named
// `Watchdog` or `DeadMansSwitch`). Such an alert is a heartbeat, never an alert
// on a service.

import type { MonitorEvent } from '../domain/events.ts';

const HEARTBEAT_ALERTS = new Set(['watchdog', 'deadmansswitch']);

export function isHeartbeat(event: MonitorEvent): boolean {
  return HEARTBEAT_ALERTS.has((event.labels['alertname'] ?? '').toLowerCase());
}
