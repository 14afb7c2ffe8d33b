// `changegate mappings validate --instance ID`: checks an instance's mapping
// against the live site, for systems whose connector can (Jira: field names,
// issue types and workflow statuses).

import { connectorContext, stateOf } from '../app/build-connectors.ts';
import { loadConfig } from '../config/load-config.ts';
import { ChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { createLogger } from '../log.ts';
import { createMetrics } from '../observability/metrics.ts';
import { openOAuthTokens } from '../store/open-stores.ts';
import { terminalJson, terminalText } from './terminal-text.ts';

/** Prints one line per problem; returns the exit code (0 clean, 2 problems). */
export async function validateLiveMapping(registry: ConnectorRegistry, instanceId: string, configPath: string | undefined, out: { write(text: string): unknown }, json = false): Promise<number> {
  const { config } = loadConfig(registry, { path: configPath });
  const instance = config.instances.find((i) => i.id === instanceId);
  if (!instance) {
    throw new ChangegateError('CG_INSTANCE_UNKNOWN', `no configured instance "${instanceId}" (known: ${config.instances.map((i) => i.id).join(', ') || 'none'})`, {
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
  // Where the service keeps rotated tokens (its state directory, or its shared store): an OAuth 2.0 refresh token
  // rotates, and this run must refresh from, and leave the rotated one, where the service looks.
  const tokens = await openOAuthTokens(config.store);
  let checked: Awaited<ReturnType<typeof check>>;
  try {
    checked = await check(instance, connectorContext(instance, { logger, metrics: createMetrics({ defaultMetrics: false }), ...stateOf(config.store, tokens?.tokens) }));
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
