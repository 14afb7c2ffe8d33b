// A monitoring source whose clock runs ahead of changegate's: Alertmanager
// posts a critical alert on a change's service, stamped seconds after our now,
// through POST /v1/events/:source. The event processor re-assesses the change
// in Review at once, and closed.no-alerts holds closure on the alert then, not
// only once our clock has caught up; an alert stamped further ahead than the
// allowance has not fired yet and holds nothing.

import { afterEach, describe, expect, it } from 'vitest';
import type { GateResult } from '../../src/domain/assessment.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { eventWorld, type EventWorld } from '../support/event-world.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const NOW = new Date('2026-03-02T12:00:00Z');
const SECOND = 1_000;
const I = 'sn-prod';
const iso = (ms: number): string => new Date(ms).toISOString();

let w: EventWorld;
afterEach(async () => {
  await w.close();
});

/** A change in Review on Payments API, implemented this morning, with the event routes, processor and runner as the app wires them. */
async function world(): Promise<{ processor: EventProcessor; changeId: string }> {
  const change = buildChange({
    nativeId: sysId(1),
    key: changeNumber(1),
    state: 'review',
    services: [{ id: 'payments-svc', name: 'Payments API' }],
    cis: [],
    createdAt: '2026-03-01T09:00:00Z',
    plannedStart: '2026-03-02T08:00:00Z',
    plannedEnd: '2026-03-02T09:00:00Z',
    actualStart: '2026-03-02T08:00:00Z',
    actualEnd: '2026-03-02T08:40:00Z',
    updatedAt: '2026-03-02T08:45:00Z',
  });
  w = await eventWorld({ now: NOW, instance: I, sources: [{ id: 'am', kind: 'alertmanager', secrets: ['am-token'] }], monitors: [{ id: 'am' }], changes: [change] });
  return { processor: w.processor, changeId: change.id };
}

/** One Alertmanager v4 notification, as its clock `aheadMs` ahead of ours stamps it: the Watchdog heartbeat and a critical alert that has just fired on Payments API. */
async function alertAhead(aheadMs: number): Promise<void> {
  const stampedNow = NOW.getTime() + aheadMs;
  const body = {
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    status: 'firing',
    receiver: 'changegate',
    alerts: [
      { status: 'firing', labels: { alertname: 'Watchdog', severity: 'none' }, annotations: {}, startsAt: iso(stampedNow - 3_600 * SECOND), endsAt: '0001-01-01T00:00:00Z', fingerprint: 'watchdog' },
      {
        status: 'firing',
        labels: { alertname: 'HighErrorRate', service: 'Payments API', severity: 'critical' },
        annotations: { summary: '5xx ratio above 5% on Payments API' },
        startsAt: iso(stampedNow - 5 * SECOND),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example/graph?g0.expr=errors',
        fingerprint: 'a1b2c3d4e5f60718',
      },
    ],
  };
  const response = await w.app.inject({ method: 'POST', url: '/v1/events/am', payload: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: 'Bearer am-token' } });
  expect(response.statusCode).toBe(202);
}

async function noAlerts(changeId: string): Promise<GateResult | undefined> {
  return (await w.stores.assessments.latestAssessment(changeId))?.assessment.gates.find((g) => g.id === 'closed.no-alerts');
}

describe('closed.no-alerts and a monitoring clock ahead of ours', () => {
  it('holds closure on a critical alert stamped 30 s ahead: it is firing now', async () => {
    const { processor, changeId } = await world();
    await alertAhead(30 * SECOND);
    expect(await processor.drain()).toBe(1);
    const gate = await noAlerts(changeId);
    expect(gate?.result).toBe('fail');
    expect(gate?.reason).toBe('critical alert "5xx ratio above 5% on Payments API" on Payments API is firing');
  });

  it('does not count an alert stamped beyond the 2-minute allowance: it has not fired yet', async () => {
    const { processor, changeId } = await world();
    await alertAhead(3 * 60 * SECOND);
    expect(await processor.drain()).toBe(1);
    const gate = await noAlerts(changeId);
    expect(gate?.result).toBe('pass');
    expect(gate?.reason).toBe('no critical or high alert or incident is firing on Payments API');
  });
});
