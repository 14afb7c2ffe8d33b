import { createHmac } from 'node:crypto';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { pagerdutySource } from '../../../src/events/sources/pagerduty.ts';
import { delivery, fixtureBytes, fixtureJson, without } from '../../support/source-delivery.ts';

const raw = fixtureBytes('pagerduty_v3_incident_triggered.json');
const triggered = fixtureJson('pagerduty_v3_incident_triggered.json');
const normalise = (body: unknown) => pagerdutySource.normalise('pd', delivery('{}'), body);
const sign = (secret: string, body: Buffer = raw) => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;

function withIncident(change: (event: Record<string, unknown>, data: Record<string, unknown>) => void): Record<string, unknown> {
  const body = structuredClone(triggered) as { event: Record<string, unknown> & { data: Record<string, unknown> } };
  change(body.event, body.event.data);
  return body;
}

describe('pagerduty source: incidents', () => {
  it('turns a real incident.triggered delivery into one firing incident', () => {
    expect(normalise(triggered)).toEqual({
      ci: [],
      monitor: [{
        id: 'pd:incident:Q19Z7CCJDTBD40',
        source: 'pd',
        kind: 'incident',
        status: 'firing',
        severity: 'high',
        service: 'Event_Catchall_ocean',
        labels: { service_id: 'PZ55WG8', escalation_policy: 'SRE-ISBU-Ocean', urgency: 'high', incident_number: '320681', teams: 'ISBU-Ocean' },
        title: 'ALARM: CRITICAL | AWS APP | ELB | mm-carrier-updates-worker-stg-al2-r2... in US East (N. Virginia)',
        startsAt: '2025-08-02T15:45:53.000Z',
        endsAt: null,
        fingerprint: 'Q19Z7CCJDTBD40',
        url: 'https://example-inc.pagerduty.com/incidents/Q19Z7CCJDTBD40',
      }],
    });
  });

  it('marks incident.resolved as resolved at the time it occurred, under the same id as the trigger', () => {
    const resolved = withIncident((event, data) => {
      event['event_type'] = 'incident.resolved';
      event['occurred_at'] = '2025-08-02T16:10:00.000Z';
      data['status'] = 'resolved';
    });
    const [incident] = normalise(resolved).monitor;
    expect(incident).toMatchObject({ id: 'pd:incident:Q19Z7CCJDTBD40', status: 'resolved', endsAt: '2025-08-02T16:10:00.000Z' });
  });

  it.each([
    ['incident.acknowledged', 'acknowledged'],
    ['incident.unacknowledged', 'triggered'],
    ['incident.escalated', 'acknowledged'],
  ])('keeps an incident firing from its creation on %s (status %s), under the same id', (type, status) => {
    const update = withIncident((event, data) => {
      event['event_type'] = type;
      event['occurred_at'] = '2025-08-02T15:50:00.000Z';
      data['status'] = status;
    });
    expect(normalise(update).monitor).toEqual([expect.objectContaining({ id: 'pd:incident:Q19Z7CCJDTBD40', status: 'firing', startsAt: '2025-08-02T15:45:53.000Z', endsAt: null })]);
  });

  // PagerDuty sends the reopened incident as it stands: status triggered (or acknowledged), created_at unchanged.
  it.each(['triggered', 'acknowledged'])('marks incident.reopened (status %s) as firing again from the time it was reopened, under the same id', (status) => {
    const reopened = withIncident((event, data) => {
      event['id'] = '01FVT0K1YF7RNB3MFHLVJZ6TQG';
      event['event_type'] = 'incident.reopened';
      event['occurred_at'] = '2025-08-02T17:02:11.412Z';
      data['status'] = status;
    });
    expect(normalise(reopened).monitor).toEqual([expect.objectContaining({
      id: 'pd:incident:Q19Z7CCJDTBD40',
      status: 'firing',
      startsAt: '2025-08-02T17:02:11.412Z',
      endsAt: null,
      fingerprint: 'Q19Z7CCJDTBD40',
      title: 'ALARM: CRITICAL | AWS APP | ELB | mm-carrier-updates-worker-stg-al2-r2... in US East (N. Virginia)',
    })]);
  });

  it('falls back to the incident\'s creation for a reopening that says not when it happened', () => {
    const undated = without(withIncident((event) => { event['event_type'] = 'incident.reopened'; }), 'event.occurred_at');
    expect(normalise(undated).monitor[0]).toMatchObject({ status: 'firing', startsAt: '2025-08-02T15:45:53.000Z' });
  });

  it('takes the severity from the priority when the account set one, else from the urgency', () => {
    const p1 = withIncident((_event, data) => { data['priority'] = { id: 'PX', type: 'priority_reference', summary: 'P1' }; data['urgency'] = 'low'; });
    expect(normalise(p1).monitor[0]?.severity).toBe('critical');
    const low = withIncident((_event, data) => { data['urgency'] = 'low'; });
    expect(normalise(low).monitor[0]?.severity).toBe('low');
  });

  it('ignores pings, service events and incident notes (their data is not an incident)', () => {
    expect(normalise({ event: { id: 'e', event_type: 'pagey.ping', resource_type: 'pagey', data: { message: 'Hello from your friend Pagey!' } } })).toEqual({ ci: [], monitor: [] });
    expect(normalise({ event: { id: 'e', event_type: 'service.updated', resource_type: 'service', data: { id: 'PSVC' } } })).toEqual({ ci: [], monitor: [] });
    const note = withIncident((event, data) => { event['event_type'] = 'incident.annotated'; data['type'] = 'incident_note'; });
    expect(normalise(note)).toEqual({ ci: [], monitor: [] });
  });

  it('tolerates unknown fields and missing optional ones', () => {
    const slim = without(triggered, 'event.data.service', 'event.data.teams', 'event.data.urgency', 'event.data.html_url', 'event.data.created_at', 'event.agent');
    (slim['event'] as Record<string, unknown>)['brand_new'] = { x: 1 };
    expect(normalise(slim).monitor[0]).toMatchObject({ service: null, severity: null, url: null, startsAt: '2025-08-02T15:45:53.839Z', labels: { incident_number: '320681' } });
  });

  it.each([
    ['event', { id: 'x' }],
    ['event.event_type', without(triggered, 'event.event_type')],
    ['event.data', without(triggered, 'event.data')],
    ['event.data.id', without(triggered, 'event.data.id')],
    ['event.data.created_at', without(triggered, 'event.data.created_at', 'event.occurred_at')],
  ])('rejects a body without a usable %s with CG_EVENT_INVALID naming it', (field, body) => {
    let caught: unknown;
    try {
      normalise(body);
    } catch (err) {
      caught = err;
    }
    expect(isChangegateError(caught, 'CG_EVENT_INVALID')).toBe(true);
    expect((caught as { details: { field: string } }).details.field).toBe(field);
  });
});

describe('pagerduty source: signatures', () => {
  it('accepts a valid signature, and any one of several during rotation', () => {
    expect(pagerdutySource.verify(delivery(raw, { 'x-pagerduty-signature': sign('current') }), ['current'])).toEqual({ ok: true });
    const rotating = `${sign('old')},${sign('new')}`;
    expect(pagerdutySource.verify(delivery(raw, { 'x-pagerduty-signature': rotating }), ['new'])).toEqual({ ok: true });
    expect(pagerdutySource.verify(delivery(raw, { 'x-pagerduty-signature': rotating }), ['old'])).toEqual({ ok: true });
    expect(pagerdutySource.verify(delivery(raw, { 'x-pagerduty-signature': sign('new') }), ['old', 'new'])).toEqual({ ok: true });
  });

  it('rejects a signature by another secret or over another body, and a delivery without one', () => {
    expect(pagerdutySource.verify(delivery(raw, { 'x-pagerduty-signature': sign('other') }), ['current'])).toMatchObject({ ok: false, reason: 'invalid' });
    const tampered = Buffer.from(raw.toString('utf8').replace('triggered', 'resolved'));
    expect(pagerdutySource.verify(delivery(tampered, { 'x-pagerduty-signature': sign('current') }), ['current'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(pagerdutySource.verify(delivery(raw, { 'x-pagerduty-signature': sign('current').replace('v1=', 'v0=') }), ['current'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(pagerdutySource.verify(delivery(raw), ['current'])).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('names the delivery by X-Webhook-Id, else by the event id in the body', () => {
    expect(pagerdutySource.deliveryId(delivery(raw, { 'x-webhook-id': 'wh-1' }))).toBe('wh-1');
    expect(pagerdutySource.deliveryId(delivery(raw))).toBe('event:01FVSY3TYZRNGRHL3BIQ1RTDG1');
    expect(pagerdutySource.deliveryId(delivery('not json'))).toBeNull();
  });

  it('never throws on arbitrary bytes and signature headers, and accepts none it was not signed for', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.string(), (bytes, signature) => {
        const result = pagerdutySource.verify(delivery(Buffer.from(bytes), { 'x-pagerduty-signature': signature }), ['a-secret']);
        expect(result.ok).toBe(false);
        expect(() => pagerdutySource.deliveryId(delivery(Buffer.from(bytes)))).not.toThrow();
      }),
    );
  });
});
