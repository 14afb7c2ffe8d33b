// Each configured instance's own-write signature (its integration user and the
// fields changegate writes), from its connector's declaration: what the
// history needs to mark changegate's write-backs among the revisions.

import type { InstanceConfig } from '../config/schema.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import type { OwnWrites } from '../kit/connector.ts';

export function ownWritesOf(instances: readonly InstanceConfig[], registry: ConnectorRegistry): (instance: string) => OwnWrites | undefined {
  const byId = new Map(instances.map((i) => [i.id, registry.get(i.system).ownWrites?.(i)] as const));
  return (instance) => byId.get(instance);
}
