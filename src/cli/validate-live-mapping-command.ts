// `changegate mappings validate --instance ID`: checks an instance's mapping
// against the live site, for systems whose connector can (Jira: field names,
// issue types and workflow statuses).

import { connectorContext, stateOf } from '../app/build-connectors.ts';
import { loadDemo } from '../app/load-demo.ts';
import { loadConfig } from '../config/load-config.ts';
import type { InstanceConfig, StoreConfig } from '../config/schema.ts';
import { ChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { createLogger, type Logger } from '../log.ts';
import { createMetrics } from '../observability/metrics.ts';
import { openOAuthTokens } from '../store/open-stores.ts';
import { terminalJson, terminalText } from './terminal-text.ts';

type LiveMappingCheck = NonNullable<NonNullable<ReturnType<ConnectorRegistry['get']>['capabilities']>['checkLiveMapping']>;

/** Prints one line per problem; returns the exit code (0 clean, 2 problems). */
export async function validateLiveMapping(registry: ConnectorRegistry, instanceId: string, configPath: string | undefined, out: { write(text: string): unknown }, json = false): Promise<number> {
  const loaded = loadConfig(registry, { path: configPath });
  const { config } = loaded;
  // No configuration: the built-in demo's instances, as sync and check take them (their sites are its simulators).
  const demo = loaded.file === null ? await loadDemo() : null;
  const instances = demo === null ? config.instances : demo.demoInstanceConfigs({ servicenow: 'http://127.0.0.1', jira: 'http://127.0.0.1' }, 'unused');
  const instance = instances.find((i) => i.id === instanceId);
  if (!instance) {
    const where = demo === null ? 'no configured instance' : 'no configuration given (--config or CHANGEGATE_CONFIG), and the built-in demo has no instance';
    throw new ChangegateError('CG_INSTANCE_UNKNOWN', `${where} "${instanceId}" (known: ${instances.map((i) => i.id).join(', ') || 'none'})`, {
      details: { instance: instanceId },
    });
  }
  const definition = registry.get(instance.system);
  const check = definition.capabilities?.checkLiveMapping;
  if (check === undefined) {
    if (json) {
      out.write(`${JSON.stringify({ format: 1, exitCode: 0, instance: instance.id, checked: false, mappingFile: null, problems: [] }, null, 2)}\n`);
      return 0;
    }
    out.write(`${instance.id} is a ${definition.title} instance: its mapping is checked offline only (mappings validate DIR); its states are fixed by the platform\n`);
    return 0;
  }
  const logger = createLogger({ level: 'warn', destination: process.stderr });
  if (demo === null) return checkInstance(instance, check, config.store, logger, out, json);
  // The demo's sites are its simulators: started for the check, seeded as `changegate demo` seeds them (check starts them too).
  const started = await demo.startDemoInstances({ logger: createLogger({ level: 'error', destination: process.stderr }) });
  try {
    return await checkInstance(started.instances.find((i) => i.id === instance.id) ?? instance, check, config.store, logger, out, json);
  } finally {
    await started.close();
  }
}

async function checkInstance(instance: InstanceConfig, check: LiveMappingCheck, store: StoreConfig, logger: Logger, out: { write(text: string): unknown }, json: boolean): Promise<number> {
  // Where the service keeps rotated tokens (its state directory, or its shared store): an OAuth 2.0 refresh token
  // rotates, and this run must refresh from, and leave the rotated one, where the service looks.
  const tokens = await openOAuthTokens(store);
  let checked: Awaited<ReturnType<typeof check>>;
  try {
    checked = await check(instance, connectorContext(instance, { logger, metrics: createMetrics({ defaultMetrics: false }), ...stateOf(store, tokens?.tokens) }));
  } finally {
    await tokens?.close();
  }
  const { mappingFile, problems } = checked;
  if (json) {
    const code = problems.length === 0 ? 0 : 2;
    out.write(`${terminalJson(JSON.stringify({ format: 1, exitCode: code, instance: instance.id, checked: true, mappingFile, problems }, null, 2))}\n`);
    return code;
  }
  if (problems.length === 0) {
    out.write(`ok      ${mappingFile} matches the fields, issue types and statuses of ${instance.id} (${instance.baseUrl})\n`);
    return 0;
  }
  // A problem quotes the site's status, issue type and field names, which its administrators write: escaped, so each prints as it reads.
  out.write(`invalid ${mappingFile} against ${instance.id} (${instance.baseUrl})\n${problems.map((p) => `  ${terminalText(p)}\n`).join('')}`);
  return 2;
}
