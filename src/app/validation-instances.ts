// What `POST /v1/validate` needs per configured instance: its fail mode, its
// staleness bound and the native state values its mapping knows (plugins send
// the ticket's own state value).

import type { ValidationInstance } from '../assess/transition-validation.ts';
import type { InstanceConfig } from '../config/schema.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';

export function validationInstances(instances: readonly InstanceConfig[], registry: ConnectorRegistry): Map<string, ValidationInstance> {
  return new Map(
    instances.map((i) => {
      const states = registry.get(i.system).nativeStates(i);
      return [i.id, { id: i.id, system: i.system, failMode: i.failMode, maxStalenessMs: i.maxStaleness, states }] as const;
    }),
  );
}
