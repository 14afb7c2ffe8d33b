// The systems changegate speaks to, as the registry (connectors/index.ts) lists
// them. Everything that varies by system is looked up here: the instance
// schema of the config file, mapping kinds, webhook routes, native states.

import { z } from 'zod';
import { ChangegateError } from '../errors.ts';
import type { AnyConnectorDefinition } from './define-connector.ts';
import type { BaseInstanceConfig } from './instance-config.ts';
import type { MappingKind } from './mapping-file.ts';

const SYSTEM_NAME = /^[a-z][a-z0-9-]{1,30}$/;

export interface ConnectorRegistry {
  readonly definitions: readonly AnyConnectorDefinition[];
  /** System names in registry order. */
  readonly systems: readonly string[];
  /** The definition of a registered system; an unregistered one is a bug (config validation refuses it first): CG_INTERNAL. */
  get(system: string): AnyConnectorDefinition;
  find(system: string): AnyConnectorDefinition | undefined;
  /** One configured instance: a union over the registered systems, discriminated by `system`. */
  readonly instanceSchema: z.ZodType<BaseInstanceConfig, unknown>;
  /** Every mapping kind the registered systems read. */
  readonly mappingKinds: readonly MappingKind[];
}

export function createConnectorRegistry(definitions: readonly AnyConnectorDefinition[]): ConnectorRegistry {
  const bySystem = new Map<string, AnyConnectorDefinition>();
  const kinds = new Map<string, MappingKind>();
  for (const definition of definitions) {
    if (!SYSTEM_NAME.test(definition.system)) throw new Error(`connector registry: system name "${definition.system}" must match ${SYSTEM_NAME}`);
    if (bySystem.has(definition.system)) throw new Error(`connector registry: system "${definition.system}" is registered twice`);
    bySystem.set(definition.system, definition);
    for (const kind of definition.mappingKinds) {
      if (kinds.has(kind.kind)) throw new Error(`connector registry: mapping kind "${kind.kind}" is declared twice`);
      kinds.set(kind.kind, kind);
    }
  }
  const [first, ...rest] = definitions.map((d) => d.config) as unknown as [z.ZodObject, ...z.ZodObject[]];
  if (first === undefined) throw new Error('connector registry: no system registered');
  const instanceSchema = (rest.length === 0 ? first : z.discriminatedUnion('system', [first, ...rest])) as unknown as z.ZodType<BaseInstanceConfig, unknown>;
  return {
    definitions,
    systems: [...bySystem.keys()],
    find: (system) => bySystem.get(system),
    get(system) {
      const found = bySystem.get(system);
      if (found === undefined) {
        throw new ChangegateError('CG_INTERNAL', `no connector is registered for system "${system}" (registered: ${[...bySystem.keys()].join(', ')})`, { details: { system } });
      }
      return found;
    },
    instanceSchema,
    mappingKinds: [...kinds.values()],
  };
}
