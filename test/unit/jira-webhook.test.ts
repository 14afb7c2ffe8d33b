import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createJiraWebhook, verifyHubSignature } from '../../connectors/jira/jira-webhook.ts';

const capture = (name: string): Buffer => readFileSync(new URL(`../fixtures/jira/${name}`, import.meta.url));
const UPDATED = capture('webhook-jira-issue_updated.cloud-capture.json');
const CREATED = capture('webhook-jira-issue_created.cloud-capture.json');
const SECRET = 'whsec-test-secret';
const sign = (body: Buffer, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const signed = createJiraWebhook({ webhookSecret: SECRET, allowUnsignedWebhooks: false });

describe('Jira webhook signature (X-Hub-Signature: sha256=<hex>)', () => {
  it('accepts a delivery signed over its raw bytes', () => {
    expect(signed.verify(UPDATED, { 'x-hub-signature': sign(UPDATED) })).toEqual({ ok: true });
    // Header names arrive in any case from other frameworks.
    expect(signed.verify(UPDATED, { 'X-Hub-Signature': sign(UPDATED).toUpperCase().replace('SHA256=', 'sha256=') })).toEqual({ ok: true });
  });

  it('rejects a body changed after signing, and a signature made with another secret', () => {
    const tampered = Buffer.from(UPDATED.toString('utf8').replace('KAN-22', 'KAN-23'));
    expect(signed.verify(tampered, { 'x-hub-signature': sign(UPDATED) })).toEqual({ ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' });
    expect(signed.verify(UPDATED, { 'x-hub-signature': sign(UPDATED, 'other') })).toEqual({ ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' });
  });

  it('rejects malformed signatures of any length without throwing', () => {
    for (const header of ['sha256=', 'sha256=abc', `sha256=${'0'.repeat(63)}`, `sha256=${'0'.repeat(66)}`, sign(UPDATED).replace('sha256=', 'sha1='), 'garbage']) {
      expect(signed.verify(UPDATED, { 'x-hub-signature': header })).toEqual({ ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' });
    }
    expect(verifyHubSignature(UPDATED, 'sha256=zz', SECRET)).toBe(false);
  });

  it('says the signature is missing unless the instance allows unsigned deliveries', () => {
    expect(signed.verify(UPDATED, {})).toEqual({ ok: false, code: 'CG_WEBHOOK_SIGNATURE_MISSING' });
    const lenient = createJiraWebhook({ webhookSecret: SECRET, allowUnsignedWebhooks: true });
    expect(lenient.verify(UPDATED, {})).toEqual({ ok: true });
    // Allowing unsigned deliveries does not excuse a wrong signature.
    expect(lenient.verify(UPDATED, { 'x-hub-signature': sign(UPDATED, 'other') })).toEqual({ ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' });
  });

  it('cannot check a signed delivery without a configured secret and refuses it', () => {
    const noSecret = createJiraWebhook({ allowUnsignedWebhooks: false });
    expect(noSecret.verify(UPDATED, { 'x-hub-signature': sign(UPDATED) })).toEqual({ ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' });
  });
});

describe('Jira webhook payload', () => {
  it('takes the delivery id from X-Atlassian-Webhook-Identifier', () => {
    expect(signed.deliveryId({ 'x-atlassian-webhook-identifier': 'f3c1b2a0-1111-4222-8333-944445555666' })).toBe('f3c1b2a0-1111-4222-8333-944445555666');
    expect(signed.deliveryId({ 'x-atlassian-webhook-identifier': ['a1', 'a2'] })).toBe('a1');
    expect(signed.deliveryId({})).toBeNull();
  });

  it('yields only the issue id of real Cloud captures, nothing else from the payload', () => {
    expect(signed.toRecordIds(JSON.parse(UPDATED.toString('utf8')))).toEqual(['10021']);
    expect(signed.toRecordIds(JSON.parse(CREATED.toString('utf8')))).toEqual(['10021']);
  });

  it('yields nothing for a payload without a usable issue id', () => {
    expect(signed.toRecordIds({ webhookEvent: 'jira:version_created', version: { id: '10000' } })).toEqual([]);
    expect(signed.toRecordIds({ issue: { id: '../../rest/api/3/myself' } })).toEqual([]);
    expect(signed.toRecordIds({ issue: { id: 10021 } })).toEqual(['10021']);
    expect(signed.toRecordIds(null)).toEqual([]);
  });
});
