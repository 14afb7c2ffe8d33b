// Every kind of file `changegate mappings validate` knows: those the registered
// connectors declare, and the policy file.

import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import type { MappingKind } from '../kit/mapping-file.ts';
import { POLICY_KIND, validatePolicySource } from '../policy/policy-config.ts';
import { servicesMappingKind } from '../events/services-mapping.ts';

export const POLICY_MAPPING_KIND: MappingKind = { kind: POLICY_KIND, validate: (source) => void validatePolicySource(source) };

/** `instances`: the configured instance ids, when a configuration was given; a policy naming another gets a warning. */
export function mappingKindsOf(registry: ConnectorRegistry, options: { instances?: readonly string[] } = {}): MappingKind[] {
  // Checked against the registered systems, as loading it for `serve` or `check` does.
  const checked = { systems: registry.systems, ...options };
  // The warnings are a second read of a file already found valid (policy files are small).
  const policy: MappingKind = { kind: POLICY_KIND, validate: (source) => void validatePolicySource(source, checked), warnings: (source) => validatePolicySource(source, checked) };
  return [...registry.mappingKinds, policy, servicesMappingKind];
}
