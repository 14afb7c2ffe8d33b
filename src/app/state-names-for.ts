// How each configured instance's site names the states, from its mapping
// through its connector's declaration: what notes and verdicts on the ticket
// say ("Implementing", not "implement"). Read once per instance.

import type { InstanceConfig } from '../config/schema.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { stateLabel, type StateNamer } from '../kit/ticket-note.ts';

export function stateNamesFor(instances: readonly InstanceConfig[], registry: ConnectorRegistry): (instance: string) => StateNamer {
  const byInstance = new Map<string, StateNamer>();
  for (const instance of instances) {
    const names = registry.get(instance.system).stateNames?.(instance) ?? new Map();
    byInstance.set(instance.id, (state) => names.get(state) ?? stateLabel(state));
  }
  return (instance) => byInstance.get(instance) ?? stateLabel;
}
