// Start-up: what a process that died held is handed back at once. Its outbox
// items, webhook deliveries and event deliveries would otherwise wait for their
// leases (the outbox's is ten minutes, long enough to cover one slow write;
// the inboxes' 30 s, in which a held ticket update, CI result or alert reaches
// no gate); an owner judged dead cannot be writing them any more. An owner judged alive, or one
// that cannot be judged from here, keeps its claims until their lease runs out.

import type { Logger } from '../log.ts';
import type { ClaimOwner, OwnerState } from '../store/claim-owner.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import type { EventStore } from '../store/event-store.ts';
import type { OutboxStore } from '../store/outbox-store.ts';

export interface ReleaseDeadClaimsDeps {
  outbox: Pick<OutboxStore, 'claimOwners' | 'releaseClaims'>;
  deliveries: Pick<DeliveryStore, 'claimOwners' | 'releaseClaims'>;
  events: Pick<EventStore, 'claimOwners' | 'releaseClaims'>;
  /** Synchronous on one host (the operating system knows), asynchronous on a shared store (a heartbeat lease is read). */
  judge: (owner: ClaimOwner) => OwnerState | Promise<OwnerState>;
  logger: Logger;
  now: Date;
}

export interface ReleasedClaims {
  outboxItems: number;
  deliveries: number;
  eventDeliveries: number;
  /** The owners judged dead. */
  owners: ClaimOwner[];
}

export async function releaseDeadClaims(deps: ReleaseDeadClaimsDeps): Promise<ReleasedClaims> {
  const { outbox, deliveries, events, judge, logger, now } = deps;
  const released: ReleasedClaims = { outboxItems: 0, deliveries: 0, eventDeliveries: 0, owners: [] };
  const owners = new Map<string, ClaimOwner>();
  for (const owner of [...(await outbox.claimOwners()), ...(await deliveries.claimOwners()), ...(await events.claimOwners())]) owners.set(owner.id, owner);
  for (const owner of owners.values()) {
    if ((await judge(owner)) !== 'dead') continue;
    released.owners.push(owner);
    released.outboxItems += await outbox.releaseClaims(owner.id, now);
    released.deliveries += await deliveries.releaseClaims(owner.id, now);
    released.eventDeliveries += await events.releaseClaims(owner.id, now);
  }
  if (released.owners.length > 0) {
    logger.warn(
      { outboxItems: released.outboxItems, deliveries: released.deliveries, eventDeliveries: released.eventDeliveries, owners: released.owners.map((o) => `${o.host}:${o.pid}`) },
      `released ${released.outboxItems} outbox items, ${released.deliveries} webhook deliveries and ${released.eventDeliveries} event deliveries held by ${released.owners.length} process(es) that died`,
    );
  }
  return released;
}
