// Webhook ingress: `POST /v1/webhooks/<system>/:instance`. The signature is
// checked on the raw bytes before anything is parsed; a verified delivery is
// stored (de-duplicated on the source's delivery id) before the 202, so an
// accepted delivery is never lost, and the work happens later, from the store.

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ConnectorInstance } from '../../kit/connector.ts';
import type { System } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { DeliveryStore } from '../../store/delivery-store.ts';
import { errorBody } from '../http-errors.ts';
import type { Metrics } from '../../observability/metrics.ts';

/** Jira caps a delivery well below this; anything larger is not a webhook. */
export const WEBHOOK_BODY_LIMIT = 1_048_576;

export interface WebhookRouteDeps {
  /** The registered systems: one route each. */
  systems: readonly string[];
  deliveries: DeliveryStore;
  /** The connector of a configured instance. */
  connectorOf(instance: string): ConnectorInstance | undefined;
  metrics: Metrics;
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

function parseBody(raw: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
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

  const handle = async (system: System, instance: string, raw: Buffer, headers: Record<string, string | string[] | undefined>, reply: FastifyReply) => {
    const connector = deps.connectorOf(instance);
    if (!connector || connector.system !== system) {
      throw new ChangegateError('CG_INSTANCE_UNKNOWN', `params instance: no ${system} instance "${instance}" is configured`, {
        details: { field: 'instance', where: 'params', system, instance },
      });
    }
    const webhook = connector.webhook;
    if (!webhook) {
      // Not the error handler's table: a 404 says "nothing to post to here", and Jira/ServiceNow stop retrying on it.
      const error = new ChangegateError('CG_WEBHOOK_UNSUPPORTED', `params instance: the ${system} connector of "${instance}" takes no webhooks`, {
        details: { field: 'instance', where: 'params', system, instance },
      });
      deps.metrics.httpErrors.inc({ code: error.code });
      return reply.status(404).send(errorBody(error));
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
      body = parseBody(raw);
    } catch (err) {
      deps.metrics.webhookDeliveries.inc({ instance, outcome: 'rejected' });
      throw err;
    }
    const deliveryId = webhook.deliveryId(headers) ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    const { duplicate } = await deps.deliveries.record({ system, instance, deliveryId, receivedAt: clock().toISOString(), body });
    deps.metrics.webhookDeliveries.inc({ instance, outcome: duplicate ? 'duplicate' : 'accepted' });
    if (!duplicate) deps.onAccepted?.();
    const answer: WebhookAccepted = { accepted: true, duplicate, deliveryId };
    return reply.status(202).send(answer);
  };

  // Encapsulated: the raw-body parser and the smaller limit apply to these routes only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));
    for (const system of deps.systems) {
      scope.post<{ Params: { instance: string } }>(`/v1/webhooks/${system}/:instance`, { bodyLimit: WEBHOOK_BODY_LIMIT, config: { access: 'public' } }, (request, reply) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        return handle(system, request.params.instance, raw, request.headers, reply);
      });
    }
  });
}
