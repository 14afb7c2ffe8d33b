// Every kind of file `changegate mappings validate` knows: those the registered
// connectors declare, and the policy file.

import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import type { MappingKind } from '../kit/mapping-file.ts';
import { POLICY_KIND, validatePolicySource } from '../policy/policy-config.ts';
import { servicesMappingKind } from '../events/services-mapping.ts';

export const POLICY_MAPPING_KIND: MappingKind = { kind: POLICY_KIND, validate: validatePolicySource };

export function mappingKindsOf(registry: ConnectorRegistry): MappingKind[] {
  // Checked against the registered systems, as loading it for `serve` or `check` does.
  const policy: MappingKind = { kind: POLICY_KIND, validate: (source) => validatePolicySource(source, { systems: registry.systems }) };
  return [...registry.mappingKinds, policy, servicesMappingKind];
}
