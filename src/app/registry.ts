// The shipped systems, for the program and its tests: the one place besides
// src/main.ts that imports the connector registry (connectors/index.ts).

import { connectors } from '../../connectors/index.ts';
import { createConnectorRegistry } from '../kit/connector-registry.ts';
import { configSchemaFor } from '../config/schema.ts';

export const registry = createConnectorRegistry(connectors);

/** The changegate.yaml schema with the shipped systems. */
export const ChangegateConfig = configSchemaFor(registry);

/** One `instances:` entry of the shipped systems. */
export const InstanceConfig = registry.instanceSchema;
