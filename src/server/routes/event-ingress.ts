// What every event route checks before it stores a delivery: the source is
// configured, the delivery carries a signature or token matching one of its
// secrets (over the raw bytes), and the store can keep it now.

import type { EventSourceConfig } from '../../config/schema.ts';
import { ChangegateError } from '../../errors.ts';
import type { EventSourceKind, SourceDelivery } from '../../events/event-source-kit.ts';
import { STORE_FAULT_TEXT } from '../../store/store-health.ts';
import type { EventRouteDeps } from './events.ts';

/** The checks every event route makes before it stores: a configured source, a verified delivery, a store that can keep it. */
export interface EventIngress {
  source(sourceId: string): { source: EventSourceConfig; kind: EventSourceKind };
  verify(found: { source: EventSourceConfig; kind: EventSourceKind }, delivery: SourceDelivery): void;
  storable(sourceId: string): void;
}

export function eventIngress(deps: EventRouteDeps): EventIngress {
  const byId = new Map(deps.sources.map((s) => [s.id, s]));
  return {
    source(sourceId) {
      const source = byId.get(sourceId);
      const kind = source === undefined ? undefined : deps.kindOf(source.kind);
      if (source === undefined || kind === undefined) {
        throw new ChangegateError('CG_EVENT_SOURCE_UNKNOWN', `params source: no event source "${sourceId}" is configured`, { details: { field: 'source', where: 'params', source: sourceId } });
      }
      return { source, kind };
    },
    verify({ source, kind }, delivery) {
      const verdict = kind.verify(delivery, source.secrets);
      if (verdict.ok) return;
      const code = verdict.reason === 'missing' ? 'CG_WEBHOOK_SIGNATURE_MISSING' : 'CG_WEBHOOK_SIGNATURE_INVALID';
      const what = verdict.reason === 'missing' ? 'carries no signature or token' : 'carries a signature or token that matches none of the source\'s secrets';
      throw new ChangegateError(code, `headers ${verdict.detail}: the delivery ${what}`, { details: { field: verdict.detail, where: 'headers', source: source.id } });
    },
    storable(sourceId) {
      const health = deps.storeHealth?.();
      if (health !== undefined && !health.ok && health.reason !== 'locked') {
        throw new ChangegateError('CG_STORE_UNAVAILABLE', `the delivery was not stored: ${STORE_FAULT_TEXT[health.reason]} (since ${health.since}); retry later`, {
          details: { reason: health.reason, since: health.since, source: sourceId },
        });
      }
    },
  };
}

export function deliveryOf(raw: Buffer, headers: Record<string, string | string[] | undefined>): SourceDelivery {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return { headers: flat, rawBody: raw };
}
