// The Alertmanager and generic sources: a real Alertmanager v4 body in the
// canonical vocabulary, the credential checks (bearer, basic, HMAC with
// rotation), the Watchdog heartbeat, and tolerant or refused bodies.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isHeartbeat } from '../../../src/events/heartbeat.ts';
import { alertmanagerSource } from '../../../src/events/sources/alertmanager.ts';
import { genericSource } from '../../../src/events/sources/generic.ts';

const raw = readFileSync(new URL('../../fixtures/events/alertmanager_webhook_v4_firing.json', import.meta.url));
const none = { headers: {}, rawBody: raw };
const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, rawBody: raw });
const basic = (p: string) => ({ headers: { authorization: `Basic ${Buffer.from(`alertmanager:${p}`).toString('base64')}` }, rawBody: raw });
const alertBody = (status: string, alertname: string) => ({
  version: '4',
  alerts: [{ status, labels: { alertname, service: 'checkout', severity: 'critical' }, startsAt: '2026-03-12T10:00:00Z', endsAt: '2026-03-12T10:05:00Z', extra: true }],
});

describe('alertmanagerSource', () => {
  it('normalises a firing v4 body (golden)', () => {
    expect(alertmanagerSource.normalise('am', none, JSON.parse(raw.toString('utf8')))).toEqual({
      ci: [],
      monitor: [
        {
          id: 'am:c32443c5c37325c8:2021-08-22T06:47:54.913Z',
          source: 'am',
          kind: 'alert',
          status: 'firing',
          severity: 'medium',
          service: 'myjob',
          labels: { alertname: 'check2', instance: 'localhost:9980', job: 'myjob', output: 'warningout', severity: 'warning' },
          title: 'check2 alert summary',
          startsAt: '2021-08-22T06:47:54.913Z',
          endsAt: null,
          fingerprint: 'c32443c5c37325c8',
          url: 'http://owner-desktop:9090/graph?g0.expr=check2%7Bjob%3D%22myjob%22%7D+%3E+0&g0.tab=1',
        },
      ],
    });
  });

  it('takes a bearer token or a basic password matching any configured secret', () => {
    expect(alertmanagerSource.verify(bearer('t2'), ['t1', 't2'])).toEqual({ ok: true });
    expect(alertmanagerSource.verify(basic('t1'), ['t1', 't2'])).toEqual({ ok: true });
    expect(alertmanagerSource.verify(bearer('nope'), ['t1'])).toEqual({ ok: false, reason: 'invalid', detail: 'authorization' });
    expect(alertmanagerSource.verify(none, ['t1'])).toEqual({ ok: false, reason: 'missing', detail: 'authorization' });
    expect(alertmanagerSource.deliveryId(none)).toBeNull();
  });

  it('names an alert without a fingerprint by its labels, resolves it by the same id, and knows the Watchdog for a heartbeat', () => {
    const [firing] = alertmanagerSource.normalise('am', none, alertBody('firing', 'HighErrorRate')).monitor;
    const [resolved] = alertmanagerSource.normalise('am', none, alertBody('resolved', 'HighErrorRate')).monitor;
    expect(firing).toMatchObject({ status: 'firing', severity: 'critical', service: 'checkout', endsAt: null });
    expect(resolved).toMatchObject({ id: firing?.id, status: 'resolved', endsAt: '2026-03-12T10:05:00.000Z' });
    expect(isHeartbeat(firing!)).toBe(false);
    expect(isHeartbeat(alertmanagerSource.normalise('am', none, alertBody('firing', 'Watchdog')).monitor[0]!)).toBe(true);
  });

  it('refuses a body with no alert list or an alert without startsAt', () => {
    expect(() => alertmanagerSource.normalise('am', none, { version: '4' })).toThrow(expect.objectContaining({ code: 'CG_EVENT_INVALID', message: expect.stringContaining('alerts') }));
    expect(() => alertmanagerSource.normalise('am', none, { alerts: [{ labels: {} }] })).toThrow(expect.objectContaining({ code: 'CG_EVENT_INVALID', message: expect.stringContaining('alerts[0].startsAt') }));
  });
});

describe('genericSource', () => {
  const body = Buffer.from(JSON.stringify({ ci: [{ id: 'r1', status: 'success', kind: 'test', commit: 'abc', branch: 'ITSM-42-fix', tests: { passed: 10, failed: 0 } }] }));
  const signed = (secret: string) => ({ headers: { 'x-changegate-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`, 'x-changegate-delivery': 'd-1' }, rawBody: body });

  it('verifies the HMAC with any configured secret and names the delivery by its header', () => {
    expect(genericSource.verify(signed('b'), ['a', 'b'])).toEqual({ ok: true });
    expect(genericSource.verify(signed('c'), ['a', 'b'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(genericSource.verify({ headers: {}, rawBody: body }, ['a'])).toMatchObject({ ok: false, reason: 'missing' });
    expect(genericSource.deliveryId(signed('a'))).toBe('d-1');
  });

  it('normalises canonical events, defaulting what is missing, and refuses what it cannot use', () => {
    const [event] = genericSource.normalise('pipe', signed('a'), JSON.parse(body.toString('utf8'))).ci;
    expect(event).toMatchObject({ id: 'pipe:r1', source: 'pipe', kind: 'test', commit: 'abc', changeKeys: ['ITSM-42'], tests: { passed: 10, failed: 0, skipped: 0 }, repo: null, findings: null });
    expect(() => genericSource.normalise('pipe', signed('a'), { ci: [{ id: 'x', status: 'green' }] })).toThrow(expect.objectContaining({ code: 'CG_EVENT_INVALID', message: expect.stringContaining('ci[0].status') }));
    expect(() => genericSource.normalise('pipe', signed('a'), { hello: 1 })).toThrow(expect.objectContaining({ code: 'CG_EVENT_INVALID' }));
  });
});
