// Webhook ingress as Jira (and an attacker) would meet it: signed deliveries
// made by the Jira simulator, replayed, altered, oversized or malformed, each
// answered with the right status and code, nothing stored that was refused,
// and the process still serving afterwards.

import { createHash, createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { http, passthrough } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PATH, SECRET, type Captured, type World } from './webhooks-world.ts';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledFrame: 'error' }));
afterAll(() => msw.close());

let world: World;
afterEach(async () => {
  await world.close();
});

const sign = (raw: Buffer | string, secret = SECRET): string => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

/** A JSON object `levels` deep: `{"issue":{"issue":…{"id":"10001"}…}}`. */
const nested = (levels: number): string => `${'{"issue":'.repeat(levels - 1)}{"id":"10001"${'}'.repeat(levels)}`;

/** One issue created on the site, and the signed delivery Jira made for it. */
async function oneDelivery(w: World): Promise<{ delivery: Captured; issueId: string }> {
  const issue = w.sim.createIssue({ summary: 'Rotate TLS certificates for the edge', 'Change type': 'Normal' });
  const [delivery] = await w.deliveriesMade();
  if (!delivery) throw new Error('the simulator made no delivery');
  return { delivery, issueId: issue.id };
}

function errorOf(response: { json(): unknown }): { code: string; message: string; details: Record<string, unknown> } {
  return (response.json() as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
}

describe('POST /v1/webhooks/jira/:instance', () => {
  it('stores a signed delivery before answering 202 with its delivery id, then mirrors the re-fetched issue', async () => {
    world = await createWorld(msw);
    const { delivery, issueId } = await oneDelivery(world);

    const response = await world.post(delivery.raw, delivery.headers);
    expect(response.statusCode).toBe(202);
    const id = delivery.headers['x-atlassian-webhook-identifier'];
    expect(response.json()).toEqual({ accepted: true, duplicate: false, deliveryId: id });
    // Durable before the answer, nothing processed yet.
    expect(await world.deliveries.get(`jira:jsm-hooks:${id}`)).toMatchObject({ status: 'pending', body: JSON.parse(delivery.raw.toString('utf8')) });
    expect(await world.changes.getChange(`jira:jsm-hooks:${issueId}`)).toBeNull();

    expect(await world.processor.drain()).toBe(1);
    expect((await world.changes.getChange(`jira:jsm-hooks:${issueId}`))?.change.title).toBe('Rotate TLS certificates for the edge');
    expect(await world.deliveries.get(`jira:jsm-hooks:${id}`)).toMatchObject({ status: 'done', attempts: 1 });
    expect(await world.metric('accepted')).toBe(1);
    expect(await world.metric('processed')).toBe(1);
  });

  it('answers a replayed delivery id 202 duplicate and processes it once', async () => {
    world = await createWorld(msw);
    const { delivery, issueId } = await oneDelivery(world);
    const id = delivery.headers['x-atlassian-webhook-identifier'];

    expect((await world.post(delivery.raw, delivery.headers)).json()).toEqual({ accepted: true, duplicate: false, deliveryId: id });
    // Jira's retry of the same delivery, before and after it was processed.
    const retry = { ...delivery.headers, 'x-atlassian-webhook-retry': '1' };
    const replay = await world.post(delivery.raw, retry);
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toEqual({ accepted: true, duplicate: true, deliveryId: id });
    await world.processor.drain();
    expect((await world.post(delivery.raw, retry)).json()).toEqual({ accepted: true, duplicate: true, deliveryId: id });
    await world.processor.drain();

    expect(world.fetched).toEqual([issueId]);
    expect(world.accepted()).toBe(1);
    expect(await world.metric('duplicate')).toBe(2);
    expect(await world.changes.listRevisions(`jira:jsm-hooks:${issueId}`)).toHaveLength(1);
  });

  it('refuses a wrong signature, a body altered by one byte and a missing signature with 401, storing nothing', async () => {
    world = await createWorld(msw);
    const { delivery } = await oneDelivery(world);

    const wrong = await world.post(delivery.raw, { ...delivery.headers, 'x-hub-signature': sign(delivery.raw, 'not-the-secret') });
    expect(wrong.statusCode).toBe(401);
    expect(errorOf(wrong)).toMatchObject({ code: 'CG_WEBHOOK_SIGNATURE_INVALID', details: { field: 'x-hub-signature' } });

    const altered = Buffer.from(delivery.raw);
    const at = altered.indexOf('Rotate');
    altered[at] = 'r'.charCodeAt(0);
    const tampered = await world.post(altered, delivery.headers);
    expect(tampered.statusCode).toBe(401);
    expect(errorOf(tampered).code).toBe('CG_WEBHOOK_SIGNATURE_INVALID');

    const { 'x-hub-signature': _dropped, ...unsigned } = delivery.headers;
    const missing = await world.post(delivery.raw, unsigned);
    expect(missing.statusCode).toBe(401);
    expect(errorOf(missing).code).toBe('CG_WEBHOOK_SIGNATURE_MISSING');

    expect(await world.deliveries.pendingCount()).toBe(0);
    expect(await world.metric('rejected')).toBe(3);
    // Still serving: the genuine delivery goes through.
    expect((await world.post(delivery.raw, delivery.headers)).statusCode).toBe(202);
  });

  it('accepts an unsigned delivery where the instance allows it, de-duplicating on the body hash when there is no delivery id', async () => {
    world = await createWorld(msw, { instance: { webhookSecret: undefined, allowUnsignedWebhooks: true } });
    const { delivery } = await oneDelivery(world);
    const bare = { 'content-type': 'application/json' };

    const first = await world.post(delivery.raw, bare);
    expect(first.statusCode).toBe(202);
    const deliveryId = `sha256:${createHash('sha256').update(delivery.raw).digest('hex')}`;
    expect(first.json()).toEqual({ accepted: true, duplicate: false, deliveryId });
    expect((await world.post(delivery.raw, bare)).json()).toEqual({ accepted: true, duplicate: true, deliveryId });
    // A different body is a different delivery.
    const other = await world.post(Buffer.concat([delivery.raw, Buffer.from(' ')]), bare);
    expect(other.json()).toMatchObject({ duplicate: false });
    expect(await world.deliveries.pendingCount()).toBe(2);
  });

  it('answers invalid JSON with a valid signature 400 naming the body, and a JSON array likewise', async () => {
    world = await createWorld(msw);
    for (const raw of ['{"webhookEvent": "jira:issue_updated", "issue": {', '[{"issue": {"id": "10001"}}]']) {
      const response = await world.post(raw, { 'content-type': 'application/json', 'x-hub-signature': sign(raw), 'x-atlassian-webhook-identifier': 'bad-json' });
      expect(response.statusCode).toBe(400);
      expect(errorOf(response)).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field: 'body' } });
      expect(errorOf(response).message).toMatch(/^body: /);
    }
    // Garbage with a wrong signature is refused for the signature: nothing is parsed before it is verified.
    const garbage = await world.post('{not json', { 'content-type': 'application/json', 'x-hub-signature': sign('{not json', 'other') });
    expect(garbage.statusCode).toBe(401);
    expect(await world.deliveries.pendingCount()).toBe(0);
  });

  it('refuses a signed body nested 5,000 levels deep with 400 before storing it; 100 levels and braces inside strings are taken', async () => {
    world = await createWorld(msw);
    const post = (raw: string, id: string) => world.post(raw, { 'content-type': 'application/json', 'x-hub-signature': sign(raw), 'x-atlassian-webhook-identifier': id });

    const deep = await post(nested(5000), 'deep');
    expect(deep.statusCode).toBe(400);
    expect(errorOf(deep)).toMatchObject({ code: 'CG_INPUT_INVALID', details: { field: 'body', maxDepth: 100 } });
    expect(await world.deliveries.pendingCount()).toBe(0);

    expect((await post(nested(100), 'at-the-limit')).statusCode).toBe(202);
    expect((await post(nested(101), 'one-past')).statusCode).toBe(400);
    const braces = JSON.stringify({ webhookEvent: 'jira:issue_updated', comment: { body: `${'{['.repeat(5000)} \\" ${']}'.repeat(5000)}` } });
    expect((await post(braces, 'braces-in-a-string')).statusCode).toBe(202);
    expect(await world.deliveries.pendingCount()).toBe(2);
    expect(await world.metric('rejected')).toBe(2);
  });

  it('answers a form-encoded body 400 saying to set the content type to application/json, storing nothing', async () => {
    world = await createWorld(msw);
    const { delivery } = await oneDelivery(world);
    // A sender set to form encoding: the same JSON, as the value of a form field.
    const raw = new URLSearchParams({ payload: delivery.raw.toString('utf8') }).toString();
    const { 'content-length': _length, ...headers } = delivery.headers;
    const response = await world.post(raw, { ...headers, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'x-hub-signature': sign(raw) });
    expect([response.statusCode, errorOf(response)]).toEqual([
      400,
      {
        code: 'CG_INPUT_INVALID',
        kind: 'input',
        message: 'body: form-encoded (application/x-www-form-urlencoded), but the jira webhook of instance "jsm-hooks" takes JSON: set the webhook\'s content type to application/json',
        details: { field: 'body', where: 'body', instance: 'jsm-hooks', contentType: 'application/x-www-form-urlencoded' },
      },
    ]);
    expect(await world.deliveries.pendingCount()).toBe(0);
  });

  it('takes the raw bytes whatever the content type says', async () => {
    world = await createWorld(msw);
    const { delivery } = await oneDelivery(world);
    for (const type of ['text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded']) {
      const response = await world.post(delivery.raw, { ...delivery.headers, 'content-type': type, 'x-atlassian-webhook-identifier': `as-${type}` });
      expect(response.statusCode).toBe(202);
    }
    const { 'content-type': _type, ...untyped } = delivery.headers;
    expect((await world.post(delivery.raw, { ...untyped, 'x-atlassian-webhook-identifier': 'untyped' })).statusCode).toBe(202);
  });

  it('answers an unknown instance 404 CG_INSTANCE_UNKNOWN, and an instance whose connector takes no webhooks 404 CG_WEBHOOK_UNSUPPORTED', async () => {
    world = await createWorld(msw);
    const { delivery } = await oneDelivery(world);

    const unknown = await world.post(delivery.raw, delivery.headers, '/v1/webhooks/jira/no-such-instance');
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown)).toMatchObject({ code: 'CG_INSTANCE_UNKNOWN', details: { instance: 'no-such-instance' } });
    // A ServiceNow instance is not a Jira one.
    const crossed = await world.post(delivery.raw, delivery.headers, '/v1/webhooks/jira/sn-prod');
    expect(errorOf(crossed).code).toBe('CG_INSTANCE_UNKNOWN');
    const servicenow = await world.post('{"sys_id":"x"}', { 'content-type': 'application/json' }, '/v1/webhooks/servicenow/sn-prod');
    expect(servicenow.statusCode).toBe(404);
    expect(errorOf(servicenow)).toMatchObject({ code: 'CG_WEBHOOK_UNSUPPORTED', details: { instance: 'sn-prod' } });
    // As the README says of the ServiceNow route: a configured ServiceNow instance is unsupported whatever the delivery
    // (a signed one too, no signature checked), any other id unknown, a Jira instance's included.
    const signed = await world.post(delivery.raw, delivery.headers, '/v1/webhooks/servicenow/sn-prod');
    expect([signed.statusCode, errorOf(signed).code]).toEqual([404, 'CG_WEBHOOK_UNSUPPORTED']);
    const nowhere = await world.post('{"sys_id":"x"}', { 'content-type': 'application/json' }, '/v1/webhooks/servicenow/no-such-instance');
    expect(nowhere.statusCode).toBe(404);
    expect(errorOf(nowhere)).toMatchObject({ code: 'CG_INSTANCE_UNKNOWN', details: { instance: 'no-such-instance' } });
    const jira = await world.post(delivery.raw, delivery.headers, '/v1/webhooks/servicenow/jsm-hooks');
    expect([jira.statusCode, errorOf(jira).code]).toEqual([404, 'CG_INSTANCE_UNKNOWN']);
    expect(await world.deliveries.pendingCount()).toBe(0);
  });

  it('answers a 5 MB body 413 CG_INPUT_INVALID over real HTTP and keeps serving', async () => {
    world = await createWorld(msw);
    const { delivery } = await oneDelivery(world);
    // Real sockets: msw lets loopback requests through.
    msw.use(http.post(/^http:\/\/127\.0\.0\.1:\d+\//, () => passthrough()));
    await world.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = world.app.server.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}${PATH}`;
    const huge = Buffer.alloc(5 * 1024 * 1024, 'a');
    const tooLarge = await postOverHttp(url, huge, { 'content-type': 'application/json', 'x-hub-signature': sign(huge) });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toMatchObject({ error: { code: 'CG_INPUT_INVALID' } });

    const after = await postOverHttp(url, delivery.raw, delivery.headers);
    expect(after.status).toBe(202);
    expect(await world.deliveries.pendingCount()).toBe(1);
  });
});

/** node:http, so the request bypasses msw's fetch interception and really crosses a socket. */
async function postOverHttp(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // The server may stop reading a body it has refused; the answer already arrived.
    req.on('error', (err) => (req.writableEnded ? undefined : reject(err)));
    req.end(body);
  });
}
