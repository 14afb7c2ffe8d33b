import { createHmac } from 'node:crypto';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { grafanaSource } from '../../../src/events/sources/grafana.ts';
import { delivery, fixtureBytes, fixtureJson } from '../../support/source-delivery.ts';

const NAME = 'CONSTRUCTED-grafana_webhook_firing.json';
const raw = fixtureBytes(NAME);
const body = fixtureJson(NAME);
const normalise = (value: unknown) => grafanaSource.normalise('grafana-prod', delivery('{}'), value);
const hmac = (secret: string, prefix = '') => createHmac('sha256', secret).update(prefix).update(raw).digest('hex');
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('grafana source: alerts', () => {
  it('turns each alert of a notification into a MonitorEvent, firing ones without an end', () => {
    expect(normalise(body)).toEqual({
      ci: [],
      monitor: [
        {
          id: 'grafana-prod:6f2c1b8e0a9d4c37:2026-03-14T08:51:03.157Z',
          source: 'grafana-prod',
          kind: 'alert',
          status: 'firing',
          severity: 'critical',
          service: 'checkout',
          labels: { alertname: 'CheckoutHighErrorRate', grafana_folder: 'Payments', service: 'checkout', severity: 'critical', team: 'payments' },
          title: 'Checkout error rate 7.2%',
          startsAt: '2026-03-14T08:51:03.157Z',
          endsAt: null,
          fingerprint: '6f2c1b8e0a9d4c37',
          url: 'https://grafana.example.com/alerting/grafana/ab12cd34/view?orgId=1',
        },
        {
          id: 'grafana-prod:91d0a4be37c2f805:2026-03-14T08:40:00.000Z',
          source: 'grafana-prod',
          kind: 'alert',
          status: 'resolved',
          severity: 'medium',
          service: 'checkout',
          labels: { alertname: 'CheckoutLatencyP95', grafana_folder: 'Payments', service: 'checkout', severity: 'warning' },
          title: 'Checkout p95 latency above 800 ms',
          startsAt: '2026-03-14T08:40:00.000Z',
          endsAt: '2026-03-14T09:05:00.000Z',
          fingerprint: '91d0a4be37c2f805',
          url: 'https://grafana.example.com/alerting/grafana/ef56ab78/view?orgId=1',
        },
      ],
    });
  });

  it('identifies an alert without a fingerprint by its labels, whatever their order', () => {
    const alert = { status: 'firing', startsAt: '2026-03-14T08:00:00Z', labels: { alertname: 'Down', service: 'checkout' } };
    const [first] = normalise({ alerts: [alert] }).monitor;
    const [reordered] = normalise({ alerts: [{ ...alert, labels: { service: 'checkout', alertname: 'Down' } }] }).monitor;
    const [other] = normalise({ alerts: [{ ...alert, labels: { alertname: 'Down', service: 'cart' } }] }).monitor;
    expect(first?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(reordered?.id).toBe(first?.id);
    expect(other?.fingerprint).not.toBe(first?.fingerprint);
  });

  it('tolerates unknown fields and missing optional ones (no labels, annotations, URLs or end)', () => {
    const slim = { alerts: [{ status: 'firing', startsAt: '2026-03-14T08:00:00Z', fingerprint: 'abc', future: { nested: true } }], newTopLevel: 1 };
    expect(normalise(slim).monitor[0]).toMatchObject({ severity: null, service: null, labels: {}, title: null, url: null, endsAt: null });
  });

  it.each([
    ['alerts', { status: 'firing' }],
    ['alerts[0].status', { alerts: [{ startsAt: '2026-03-14T08:00:00Z' }] }],
    ['alerts[1].startsAt', { alerts: [{ status: 'firing', startsAt: '2026-03-14T08:00:00Z' }, { status: 'resolved', startsAt: 'yesterday' }] }],
    ['alerts[0]', { alerts: ['firing'] }],
    ['body', 'alerts'],
  ])('rejects a body without a usable %s with CG_EVENT_INVALID naming it', (field, value) => {
    let caught: unknown;
    try {
      normalise(value);
    } catch (err) {
      caught = err;
    }
    expect(isChangegateError(caught, 'CG_EVENT_INVALID')).toBe(true);
    expect((caught as { details: { field: string } }).details.field).toBe(field);
  });
});

describe('grafana source: authentication', () => {
  it('accepts an HMAC signature over the body, or over timestamp:body, by any configured secret', () => {
    expect(grafanaSource.verify(delivery(raw, { 'x-grafana-alerting-signature': hmac('s2') }), ['s1', 's2'])).toEqual({ ok: true });
    const stamped = { 'x-grafana-alerting-signature': hmac('s1', '1773478263:'), 'x-grafana-alerting-timestamp': '1773478263' };
    expect(grafanaSource.verify(delivery(raw, stamped), ['s1'])).toEqual({ ok: true });
  });

  it('rejects a signature by another secret, over another timestamp or body, and a delivery with no credentials', () => {
    expect(grafanaSource.verify(delivery(raw, { 'x-grafana-alerting-signature': hmac('other') }), ['s1'])).toMatchObject({ ok: false, reason: 'invalid' });
    const stamped = { 'x-grafana-alerting-signature': hmac('s1', '1773478263:'), 'x-grafana-alerting-timestamp': '1773478264' };
    expect(grafanaSource.verify(delivery(raw, stamped), ['s1'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(grafanaSource.verify(delivery(Buffer.concat([raw, Buffer.from('\n')]), { 'x-grafana-alerting-signature': hmac('s1') }), ['s1'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(grafanaSource.verify(delivery(raw), ['s1'])).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('accepts basic auth or an Authorization scheme whose credentials are a configured secret', () => {
    expect(grafanaSource.verify(delivery(raw, { authorization: basic('grafana', 'pa:ss') }), ['grafana:pa:ss'])).toEqual({ ok: true });
    expect(grafanaSource.verify(delivery(raw, { authorization: basic('grafana', 'pass') }), ['old', 'pass'])).toEqual({ ok: true });
    expect(grafanaSource.verify(delivery(raw, { authorization: 'Bearer tok-123' }), ['tok-123'])).toEqual({ ok: true });
    expect(grafanaSource.verify(delivery(raw, { authorization: 'Bearer tok-124' }), ['tok-123'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(grafanaSource.verify(delivery(raw, { authorization: basic('grafana', 'wrong') }), ['grafana:pass'])).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('has no delivery id of its own (the route hashes the body)', () => {
    expect(grafanaSource.deliveryId(delivery(raw))).toBeNull();
  });

  it('never throws on arbitrary bytes and headers, and accepts none without a secret', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.dictionary(fc.constantFrom('authorization', 'x-grafana-alerting-signature', 'x-grafana-alerting-timestamp'), fc.string()), (bytes, headers) => {
        expect(grafanaSource.verify(delivery(Buffer.from(bytes), headers), ['a-long-secret-no-generator-makes']).ok).toBe(false);
      }),
    );
  });
});
