// A minimal third system, declared the way a real connector is: its own
// folder and one registry entry, nothing else. Test-only; never shipped.
// It reads tickets from an in-memory FakeSite, verifies HMAC-signed webhooks
// and maps its three statuses onto the canonical lifecycle.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { changeId, type Change } from '../../../src/domain/change.ts';
import type { ConnectorInstance, StreamItem } from '../../../src/kit/connector.ts';
import { defineConnector } from '../../../src/kit/define-connector.ts';
import { instanceConfig, Secret } from '../../../src/kit/instance-config.ts';
import { validateYamlSource } from '../../../src/kit/mapping-file.ts';
import { buildChange } from '../change-builder.ts';
import { FakeSite, type FakeTicket } from './fake-site.ts';

export const FakeInstance = instanceConfig('fakeitsm', { token: Secret, webhookSecret: Secret });
export type FakeInstance = z.infer<typeof FakeInstance>;

const FakeMapping = z.object({ kind: z.literal('fakeitsm-mapping'), statuses: z.record(z.string(), z.enum(['new', 'implement', 'closed'])) }).strict();

const STATES = new Map([
  ['open', 'new'],
  ['doing', 'implement'],
  ['done', 'closed'],
] as const);

function toChange(instance: FakeInstance, ticket: FakeTicket): Change {
  const state = STATES.get(ticket.status as 'open') ?? 'new';
  return buildChange({
    id: changeId('fakeitsm', instance.id, ticket.id),
    system: 'fakeitsm',
    instance: instance.id,
    nativeId: ticket.id,
    key: ticket.key,
    url: `${instance.baseUrl}/tickets/${ticket.id}`,
    title: ticket.title,
    state,
    nativeState: ticket.status,
    nativeStateLabel: ticket.status,
    updatedAt: ticket.updatedAt,
    nativeRevision: Date.parse(ticket.updatedAt),
    raw: ticket,
  });
}

export const fakeItsm = defineConnector<FakeInstance>({
  system: 'fakeitsm',
  title: 'Fake ITSM',
  config: FakeInstance,
  mappingKinds: [{ kind: 'fakeitsm-mapping', validate: (source) => validateYamlSource(source, FakeMapping, 'CG_MAPPING_INVALID') }],
  streams: [{ name: 'changes', description: 'tickets by (updatedAt, id)' }],
  nativeStates: () => new Map(STATES),
  open(instance): ConnectorInstance {
    const site = FakeSite.at(instance.baseUrl);
    return {
      system: 'fakeitsm',
      instanceId: instance.id,
      streams: [{ name: 'changes', description: 'tickets by (updatedAt, id)' }],
      async readPage(request) {
        const rows = site.after(request.after, request.pageSize);
        const items: StreamItem[] = rows.map((t) => ({ kind: 'change', change: toChange(instance, t) }));
        const last = rows.at(-1);
        return { items, last: last ? { updatedAt: last.updatedAt, id: last.id } : null, total: null, hasMore: rows.length === request.pageSize, apiCalls: 1 };
      },
      async fetchOne(nativeId) {
        site.fetches++;
        const ticket = site.tickets.get(nativeId);
        return ticket === undefined ? null : [{ kind: 'change', change: toChange(instance, ticket) }];
      },
      webhook: {
        verify(raw, headers) {
          const given = headers['x-fake-signature'];
          if (typeof given !== 'string') return { ok: false, code: 'CG_WEBHOOK_SIGNATURE_MISSING' };
          const want = Buffer.from(createHmac('sha256', instance.webhookSecret).update(raw).digest('hex'));
          const got = Buffer.from(given);
          return { ok: got.length === want.length && timingSafeEqual(got, want) };
        },
        deliveryId: (headers) => (typeof headers['x-fake-delivery'] === 'string' ? headers['x-fake-delivery'] : null),
        toRecordIds: (body) => (typeof body === 'object' && body !== null && Array.isArray((body as { ids?: unknown }).ids) ? (body as { ids: unknown[] }).ids.map(String) : []),
      },
    };
  },
});
