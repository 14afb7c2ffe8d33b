// Event ingress: `POST /v1/events/:source`. The delivery is verified on its raw
// bytes against each of the source's secrets, normalised once to refuse a body
// the source cannot use (422, nothing stored), then stored durably (raw body
// kept, de-duplicated by the source's delivery id or a hash of the body) before
// the 202: every 2xx means stored and going to be processed. The work itself
// (normalise, store events, correlate, re-assess) happens later, from the store.

import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EventSourceConfig } from '../../config/schema.ts';
import { ChangegateError } from '../../errors.ts';
import type { EventSourceKind, SourceDelivery } from '../../events/event-source-kit.ts';
import { isHeartbeat } from '../../events/heartbeat.ts';
import type { EventStore } from '../../store/event-store.ts';
import { STORE_FAULT_TEXT, type StoreHealthState } from '../../store/store-health.ts';
import { nestsDeeperThan } from '../json-depth.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';
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
  storeHealth?: () => StoreHealthState;
  /** Called once a new delivery is stored (wakes the event processor). */
  onAccepted?: () => void;
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
    body: { raw: true, description: 'The delivery as the source sent it: JSON, signed or carrying the source\'s token.', schema: z.looseObject({}), limit },
    answers: { 202: { description: 'Stored (or a duplicate of a stored delivery)', schema: EventAcceptedSchema } },
    errors: ['CG_EVENT_SOURCE_UNKNOWN', 'CG_WEBHOOK_SIGNATURE_INVALID', 'CG_WEBHOOK_SIGNATURE_MISSING', 'CG_EVENT_INVALID', 'CG_STORE_BUSY', 'CG_STORE_UNAVAILABLE'],
  });

function parse(raw: Buffer, source: string): unknown {
  if (nestsDeeperThan(raw, WEBHOOK_MAX_DEPTH)) {
    throw new ChangegateError('CG_EVENT_INVALID', `body: nested deeper than ${WEBHOOK_MAX_DEPTH} levels`, { details: { field: 'body', where: 'body', source } });
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ChangegateError('CG_EVENT_INVALID', `body: not valid JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err, details: { field: 'body', where: 'body', source } });
  }
}

function deliveryOf(raw: Buffer, headers: Record<string, string | string[] | undefined>): SourceDelivery {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return { headers: flat, rawBody: raw };
}

export function registerEventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  const clock = deps.clock ?? (() => new Date());
  const limit = deps.maxBodyBytes ?? EVENT_BODY_LIMIT;
  const byId = new Map(deps.sources.map((s) => [s.id, s]));

  const handle = async (sourceId: string, raw: Buffer, headers: Record<string, string | string[] | undefined>) => {
    const source = byId.get(sourceId);
    const kind = source === undefined ? undefined : deps.kindOf(source.kind);
    if (source === undefined || kind === undefined) {
      throw new ChangegateError('CG_EVENT_SOURCE_UNKNOWN', `params source: no event source "${sourceId}" is configured`, { details: { field: 'source', where: 'params', source: sourceId } });
    }
    const delivery = deliveryOf(raw, headers);
    const verdict = kind.verify(delivery, source.secrets);
    if (!verdict.ok) {
      const code = verdict.reason === 'missing' ? 'CG_WEBHOOK_SIGNATURE_MISSING' : 'CG_WEBHOOK_SIGNATURE_INVALID';
      const what = verdict.reason === 'missing' ? 'carries no signature or token' : 'carries a signature or token that matches none of the source\'s secrets';
      throw new ChangegateError(code, `headers ${verdict.detail}: the delivery ${what}`, { details: { field: verdict.detail, where: 'headers', source: sourceId } });
    }
    // Normalised here only to refuse what can never be processed; the processor normalises again from the stored bytes.
    const said = kind.normalise(source.id, delivery, parse(raw, sourceId));
    const deliveryId = kind.deliveryId(delivery) ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    const health = deps.storeHealth?.();
    if (health !== undefined && !health.ok && health.reason !== 'locked') {
      throw new ChangegateError('CG_STORE_UNAVAILABLE', `the delivery was not stored: ${STORE_FAULT_TEXT[health.reason]} (since ${health.since}); retry later`, {
        details: { reason: health.reason, since: health.since, source: sourceId },
      });
    }
    const kept: Record<string, string> = {};
    for (const [name, value] of Object.entries(delivery.headers)) if (value !== undefined && KEPT_HEADERS.test(name)) kept[name] = value;
    const receivedAt = clock().toISOString();
    const { duplicate } = await deps.events.record({ source: source.id, kind: source.kind, deliveryId, receivedAt, headers: kept, rawBody: raw });
    if (!duplicate) deps.onAccepted?.();
    // Alertmanager repeats a group's notification byte for byte (repeat_interval): the Watchdog's repeat is stored once
    // as a duplicate, yet it is the proof that monitoring still reports, so it still counts as a heartbeat.
    else if (said.monitor.some(isHeartbeat)) await deps.events.heartbeat(source.id, receivedAt);
    return { accepted: true as const, duplicate, deliveryId };
  };

  // Encapsulated: the raw-body parser and the configured limit apply to this route only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, body));
    registerRoute(scope, eventRoute(limit), ({ params, body }, request) => handle(params.source, body, request.headers));
  });
}
