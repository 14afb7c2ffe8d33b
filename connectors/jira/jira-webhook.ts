// Jira webhook deliveries. Admin webhooks saved with a secret carry
// `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (WebSub style; not
// `X-Hub-Signature-256`). The signature is checked on the raw bytes with a
// timing-safe compare before anything is parsed, and the payload is trusted for
// nothing but the issue id: the engine re-fetches the issue.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ConnectorWebhook, WebhookVerification } from '../../src/kit/connector.ts';
import type { JiraInstance } from './jira-config.ts';

type Headers = Record<string, string | string[] | undefined>;

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;
const ISSUE_ID = /^\d{1,18}$/;

function header(headers: Headers, name: string): string | null {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined || first.trim() === '' ? null : first.trim();
  }
  return null;
}

/** Compares the signature header with the HMAC of the body; both sides are 32 bytes before the compare, so lengths never leak or throw. */
export function verifyHubSignature(rawBody: Buffer, signatureHeader: string, secret: string): boolean {
  const m = SIGNATURE.exec(signatureHeader);
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = m === null ? Buffer.alloc(expected.length) : Buffer.from(m[1] as string, 'hex');
  // Compare even a malformed header, so its handling takes the same time as a wrong one.
  return timingSafeEqual(given, expected) && m !== null;
}

export type JiraWebhookInstance = Pick<JiraInstance, 'webhookSecret' | 'allowUnsignedWebhooks'>;

export function createJiraWebhook(instance: JiraWebhookInstance): ConnectorWebhook {
  return {
    verify(rawBody, headers): WebhookVerification {
      const signature = header(headers, 'x-hub-signature');
      if (signature === null) {
        return instance.allowUnsignedWebhooks ? { ok: true } : { ok: false, code: 'CG_WEBHOOK_SIGNATURE_MISSING' };
      }
      // A signed delivery to an instance with no secret cannot be checked; accepting it would make the secret optional.
      if (instance.webhookSecret === undefined) {
        return instance.allowUnsignedWebhooks ? { ok: true } : { ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' };
      }
      return verifyHubSignature(rawBody, signature, instance.webhookSecret) ? { ok: true } : { ok: false, code: 'CG_WEBHOOK_SIGNATURE_INVALID' };
    },

    deliveryId(headers) {
      return header(headers, 'x-atlassian-webhook-identifier');
    },

    toRecordIds(body) {
      if (typeof body !== 'object' || body === null) return [];
      const issue = (body as { issue?: unknown }).issue;
      if (typeof issue !== 'object' || issue === null) return [];
      const id = (issue as { id?: unknown }).id;
      const text = typeof id === 'number' && Number.isSafeInteger(id) ? String(id) : typeof id === 'string' ? id : '';
      return ISSUE_ID.test(text) ? [text] : [];
    },
  };
}
