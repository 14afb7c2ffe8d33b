// Teaches `changegate mappings validate` the policy file (`kind: policy`).
// Whatever runs the validation (the CLI) calls this once before validating.

import { registerMappingKind } from '../mapping/validate-mappings.ts';
import { POLICY_KIND, validatePolicySource } from './policy-config.ts';

export function registerPolicyKind(): void {
  registerMappingKind(POLICY_KIND, validatePolicySource);
}
