// Event ingress: `POST /v1/events/:source`. The delivery is verified on its raw
// bytes against each of the source's secrets, normalised once to refuse a body
// the source cannot use (422, nothing stored), then stored durably (raw body
// kept, de-duplicated by the source's delivery id or a hash of the body) before
// the 202: every 2xx means stored and going to be processed. The work itself
// (normalise, store events, correlate, re-assess) happens later, from the store.

import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { IngestedEvents } from '../../events/ingested-events.ts';
import { z } from 'zod';
import type { EventSourceConfig } from '../../config/schema.ts';
import { ChangegateError } from '../../errors.ts';
import { deliveryJson, type DeliveryJson, type EventSourceKind } from '../../events/event-source-kit.ts';
import { isHeartbeat } from '../../events/heartbeat.ts';
import type { EventStore } from '../../store/event-store.ts';
import type { StoreHealthState } from '../../store/store-health.ts';
import { FORM_ENCODED, isFormEncoded } from '../form-encoded.ts';
import { nestsDeeperThan } from '../json-depth.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';
import { deliveryOf, eventIngress } from './event-ingress.ts';
import { registerResultsRoute } from './event-results.ts';
import { WEBHOOK_MAX_DEPTH } from './webhooks.ts';

/** The default `events.maxBodyBytes`. */
export const EVENT_BODY_LIMIT = 1_048_576;

/** Headers a normaliser may read, kept with the raw body; credentials are never stored. */
const KEPT_HEADERS = /^(x-github-event|x-github-delivery|x-gitlab-event|x-gitlab-event-uuid|idempotency-key|x-changegate-delivery|x-event-key|x-pagerduty-webhook-id|content-type|user-agent)$/;

export interface EventRouteDeps {
  sources: readonly EventSourceConfig[];
  kindOf(kind: string): EventSourceKind | undefined;
  events: EventStore;
  maxBodyBytes?: number;
  /** Largest results file (`POST /v1/events/:source/results`); default 10 MiB (RESULTS_BODY_LIMIT). */
  maxResultsBytes?: number;
  storeHealth?: () => StoreHealthState;
  /** Called once a new delivery is stored (wakes the event processor). */
  onAccepted?: () => void;
  /** Where a stored delivery's events, normalised here, are left for this process's event processor. */
  ingested?: Pick<IngestedEvents, 'put'>;
  clock?: () => Date;
}

const EventAcceptedSchema = z.object({
  accepted: z.literal(true),
  duplicate: z.boolean().meta({ description: 'A replay of a delivery already stored: acknowledged, stored once, not processed again.' }),
  deliveryId: z.string(),
});

export const eventRoute = (limit: number) =>
  defineRoute({
    method: 'POST',
    url: '/v1/events/:source',
    operationId: 'receiveEvent',
    summary: 'Signed CI or monitoring event delivery',
    description: `The delivery is verified over the raw bytes against each secret of the configured source (several during rotation), checked to be usable by the source, stored with its raw body, and answered 202; it is processed from the store (events normalised, correlated with changes, the changes re-assessed). A replayed delivery (same delivery id, or the same body from a source that sends none) is answered 202 \`duplicate: true\` and stored once. While the store cannot keep it the answer is 503 with Retry-After. Bodies over ${limit} bytes (events.maxBodyBytes) get 413.`,
    tags: ['events'],
    access: 'public',
    params: z.object({ source: z.string().min(1).max(200).meta({ description: 'The configured event source id (events.sources[].id).' }) }),
    body: { raw: true, description: 'The delivery as the source sent it: JSON (from GitHub also form-encoded, the JSON in the field `payload`), signed or carrying the source\'s token.', schema: z.looseObject({}), limit },
    answers: { 202: { description: 'Stored (or a duplicate of a stored delivery)', schema: EventAcceptedSchema } },
    errors: ['CG_EVENT_SOURCE_UNKNOWN', 'CG_WEBHOOK_SIGNATURE_INVALID', 'CG_WEBHOOK_SIGNATURE_MISSING', 'CG_EVENT_INVALID'],
    store: true,
  });

function parse({ bytes, field }: DeliveryJson, { id: source, kind }: EventSourceConfig, contentType: string | undefined): unknown {
  if (nestsDeeperThan(bytes, WEBHOOK_MAX_DEPTH)) {
    throw new ChangegateError('CG_EVENT_INVALID', `${field}: nested deeper than ${WEBHOOK_MAX_DEPTH} levels`, { details: { field, where: 'body', source } });
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    // A source that reads form encoding (GitHub's `payload` field) has already taken its JSON out. Any other form body
    // is a webhook set to the wrong content type; JSON merely labelled so (curl -d) parsed above and is taken.
    if (field === 'body' && isFormEncoded(contentType)) {
      throw new ChangegateError('CG_EVENT_INVALID', `body: form-encoded (${FORM_ENCODED}), but source "${source}" (${kind}) takes JSON: set the webhook's content type to application/json`, {
        cause: err,
        details: { field, where: 'body', source, contentType: FORM_ENCODED },
      });
    }
    throw new ChangegateError('CG_EVENT_INVALID', `${field}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err, details: { field, where: 'body', source } });
  }
}

export function registerEventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  const clock = deps.clock ?? (() => new Date());
  const limit = deps.maxBodyBytes ?? EVENT_BODY_LIMIT;
  const ingress = eventIngress(deps);

  const handle = async (sourceId: string, raw: Buffer, headers: Record<string, string | string[] | undefined>) => {
    const found = ingress.source(sourceId);
    const { source, kind } = found;
    const delivery = deliveryOf(raw, headers);
    ingress.verify(found, delivery);
    // Normalised here only to refuse what can never be processed; the processor normalises again from the stored bytes.
    const said = kind.normalise(source.id, delivery, parse(deliveryJson(kind, delivery), source, delivery.headers['content-type']));
    const deliveryId = kind.deliveryId(delivery) ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    ingress.storable(sourceId);
    const kept: Record<string, string> = {};
    for (const [name, value] of Object.entries(delivery.headers)) if (value !== undefined && KEPT_HEADERS.test(name)) kept[name] = value;
    const receivedAt = clock().toISOString();
    const { id, duplicate } = await deps.events.record({ source: source.id, kind: source.kind, deliveryId, receivedAt, headers: kept, rawBody: raw });
    if (!duplicate) {
      deps.ingested?.put(id, said);
      deps.onAccepted?.();
    }
    // Alertmanager repeats a group's notification byte for byte (repeat_interval): the Watchdog's repeat is stored once
    // as a duplicate, yet it is the proof that monitoring still reports, so it still counts as a heartbeat.
    else if (said.monitor.some(isHeartbeat)) await deps.events.heartbeat(source.id, receivedAt);
    return { accepted: true as const, duplicate, deliveryId };
  };

  // Encapsulated: the raw-body parser and the configured limit apply to these routes only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, body));
    registerRoute(scope, eventRoute(limit), ({ params, body }, request) => handle(params.source, body, request.headers));
  });
  registerResultsRoute(app, deps, ingress);
}
