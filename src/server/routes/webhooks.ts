// Webhook ingress: `POST /v1/webhooks/<system>/:instance`. The signature is
// checked on the raw bytes before anything is parsed; a verified delivery is
// stored (de-duplicated on the source's delivery id) before the 202, so an
// accepted delivery is never lost, and the work happens later, from the store.

import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ConnectorInstance } from '../../kit/connector.ts';
import type { System } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { DeliveryStore } from '../../store/delivery-store.ts';
import { STORE_FAULT_TEXT, type StoreHealthState } from '../../store/store-health.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { FORM_ENCODED, isFormEncoded } from '../form-encoded.ts';
import { nestsDeeperThan } from '../json-depth.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';

/** Jira caps a delivery well below this; anything larger is not a webhook. */
export const WEBHOOK_BODY_LIMIT = 1_048_576;

/** Deepest nesting a delivery may have; real ones nest a dozen levels at most. Deeper bodies get 400 before anything stores them. */
export const WEBHOOK_MAX_DEPTH = 100;

export interface WebhookRouteDeps {
  /** The registered systems: one route each. */
  systems: readonly string[];
  deliveries: DeliveryStore;
  /** The connector of a configured instance. */
  connectorOf(instance: string): ConnectorInstance | undefined;
  metrics: Metrics;
  /** The store's health as the monitor last found it; absent: taken as healthy. */
  storeHealth?: () => StoreHealthState;
  /** Called once a delivery is stored (wakes the processor). */
  onAccepted?: () => void;
  clock?: () => Date;
}

export interface WebhookAccepted {
  accepted: true;
  /** A replay of a delivery already stored: acknowledged, not processed again. */
  duplicate: boolean;
  deliveryId: string;
}

const WebhookAcceptedSchema = z.object({
  accepted: z.literal(true),
  duplicate: z.boolean().meta({ description: 'A replay of a delivery already stored: acknowledged, not processed again.' }),
  deliveryId: z.string(),
});

export const webhookRoute = (system: System) =>
  defineRoute({
    method: 'POST',
    url: `/v1/webhooks/${system}/:instance`,
    operationId: `receive${system[0]?.toUpperCase()}${system.slice(1)}Webhook`,
    summary: `Signed ${system} webhook delivery`,
    description: `The signature is verified over the raw bytes (any content type is taken), then the delivery is stored and answered 202; it is processed from the store. While the store cannot keep it (its file missing, a corrupt page, a full disk, or a lock held past the retry bound) the answer is 503 with Retry-After, so the sender retries. A replayed delivery id is answered 202 \`duplicate: true\`. Bodies over ${WEBHOOK_BODY_LIMIT} bytes get 413, bodies nested deeper than ${WEBHOOK_MAX_DEPTH} levels or not a JSON object 400 (form-encoded ones saying to send application/json).`,
    tags: ['webhooks'],
    access: 'public',
    params: z.object({ instance: z.string().min(1).max(200).meta({ description: 'The configured instance id.' }) }),
    body: { raw: true, description: 'The delivery as the source sent it: a JSON object, signed.', schema: z.looseObject({}), limit: WEBHOOK_BODY_LIMIT },
    answers: { 202: { description: 'Stored (or a duplicate of a stored delivery)', schema: WebhookAcceptedSchema } },
    errors: ['CG_INSTANCE_UNKNOWN', 'CG_WEBHOOK_UNSUPPORTED', 'CG_WEBHOOK_SIGNATURE_INVALID', 'CG_WEBHOOK_SIGNATURE_MISSING', 'CG_INPUT_INVALID'],
    store: true,
  });

/** The delivery as JSON; `where` names the route's system and instance and the content type the sender gave. */
function parseBody(raw: Buffer, where: { system: System; instance: string; contentType: string | string[] | undefined }): Record<string, unknown> {
  if (nestsDeeperThan(raw, WEBHOOK_MAX_DEPTH)) {
    throw new ChangegateError('CG_INPUT_INVALID', `body: nested deeper than ${WEBHOOK_MAX_DEPTH} levels`, { details: { field: 'body', where: 'body', maxDepth: WEBHOOK_MAX_DEPTH } });
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    // A sender left at form encoding: what to change, not the parser's complaint. JSON merely labelled so parsed above.
    if (isFormEncoded(where.contentType)) {
      throw new ChangegateError('CG_INPUT_INVALID', `body: form-encoded (${FORM_ENCODED}), but the ${where.system} webhook of instance "${where.instance}" takes JSON: set the webhook's content type to application/json`, {
        cause: err,
        details: { field: 'body', where: 'body', instance: where.instance, contentType: FORM_ENCODED },
      });
    }
    throw new ChangegateError('CG_INPUT_INVALID', `body: not valid JSON (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
      details: { field: 'body', where: 'body' },
    });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChangegateError('CG_INPUT_INVALID', 'body: expected a JSON object', { details: { field: 'body', where: 'body' } });
  }
  return body as Record<string, unknown>;
}

export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): void {
  const clock = deps.clock ?? (() => new Date());

  const handle = async (system: System, instance: string, raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<WebhookAccepted> => {
    const connector = deps.connectorOf(instance);
    if (!connector || connector.system !== system) {
      throw new ChangegateError('CG_INSTANCE_UNKNOWN', `params instance: no ${system} instance "${instance}" is configured`, {
        details: { field: 'instance', where: 'params', system, instance },
      });
    }
    const webhook = connector.webhook;
    if (!webhook) {
      // 404 (the error table's status) says "nothing to post to here": Jira and ServiceNow stop retrying on it.
      throw new ChangegateError('CG_WEBHOOK_UNSUPPORTED', `params instance: the ${system} connector of "${instance}" takes no webhooks`, {
        details: { field: 'instance', where: 'params', system, instance },
      });
    }
    const verification = webhook.verify(raw, headers);
    if (!verification.ok) {
      deps.metrics.webhookDeliveries.inc({ instance, outcome: 'rejected' });
      const code = verification.code ?? 'CG_WEBHOOK_SIGNATURE_INVALID';
      const what = code === 'CG_WEBHOOK_SIGNATURE_MISSING' ? 'carries no signature' : 'carries a signature that does not match its body';
      throw new ChangegateError(code, `headers x-hub-signature: the delivery ${what}`, { details: { field: 'x-hub-signature', where: 'headers', instance } });
    }
    let body: Record<string, unknown>;
    try {
      body = parseBody(raw, { system, instance, contentType: headers['content-type'] });
    } catch (err) {
      deps.metrics.webhookDeliveries.inc({ instance, outcome: 'rejected' });
      throw err;
    }
    const deliveryId = webhook.deliveryId(headers) ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    // A held lock is worth the bounded retry (it may clear); a store that cannot keep the delivery is not: 503, the sender retries.
    const health = deps.storeHealth?.();
    if (health !== undefined && !health.ok && health.reason !== 'locked') {
      throw new ChangegateError('CG_STORE_UNAVAILABLE', `the delivery was not stored: ${STORE_FAULT_TEXT[health.reason]} (since ${health.since}); retry later`, {
        details: { reason: health.reason, since: health.since, instance },
      });
    }
    const { duplicate } = await deps.deliveries.record({ system, instance, deliveryId, receivedAt: clock().toISOString(), body });
    deps.metrics.webhookDeliveries.inc({ instance, outcome: duplicate ? 'duplicate' : 'accepted' });
    if (!duplicate) deps.onAccepted?.();
    return { accepted: true, duplicate, deliveryId };
  };

  // Encapsulated: the raw-body parser and the smaller limit apply to these routes only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));
    for (const system of deps.systems) {
      registerRoute(scope, webhookRoute(system), ({ params, body }, request) => handle(system, params.instance, body, request.headers));
    }
  });
}
