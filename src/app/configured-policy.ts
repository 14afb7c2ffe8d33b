// The policy a configuration names (`policy:`, else the shipped default), as
// `serve`, `config validate` and `check` load it: refused when invalid or when
// an override names a system this build lacks; when a configuration file was
// given, an override or waiver naming an instance it lacks is a warning.

import type { LoadedConfig } from '../config/load-config.ts';
import { loadPolicy, type Policy } from '../policy/policy-config.ts';

export function configuredPolicy(loaded: LoadedConfig): Policy {
  const instances = loaded.file === null ? {} : { instances: loaded.config.instances.map((i) => i.id) };
  return loadPolicy(loaded.config.policy, { systems: loaded.registry.systems, ...instances });
}
