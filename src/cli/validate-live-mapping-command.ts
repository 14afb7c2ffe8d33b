// `changegate mappings validate --instance ID`: checks an instance's mapping
// against the live site (Jira: field names, issue types and workflow statuses).

import { createJiraClient } from '../../connectors/jira/jira-client.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { validateMappingAgainstSite } from '../../connectors/jira/validate-live-mapping.ts';
import { loadConfig } from '../config/load-config.ts';
import { ChangegateError } from '../errors.ts';
import { createLogger } from '../log.ts';

/** Prints one line per problem; returns the exit code (0 clean, 2 problems). */
export async function validateLiveMapping(instanceId: string, configPath: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const { config } = loadConfig({ path: configPath });
  const instance = config.instances.find((i) => i.id === instanceId);
  if (!instance) {
    throw new ChangegateError('CG_INSTANCE_UNKNOWN', `no configured instance "${instanceId}" (known: ${config.instances.map((i) => i.id).join(', ') || 'none'})`, {
      details: { instance: instanceId },
    });
  }
  if (instance.system !== 'jira') {
    out.write(`${instance.id} is a ${instance.system} instance: its mapping is checked offline only (mappings validate DIR); ServiceNow states are fixed by the platform\n`);
    return 0;
  }
  const mapping = loadJiraMapping(instance.mapping);
  const client = createJiraClient(instance, { logger: createLogger({ level: 'warn', destination: process.stderr }) });
  const problems = await validateMappingAgainstSite(instance, mapping, client);
  if (problems.length === 0) {
    out.write(`ok      ${mapping.file} matches the fields, issue types and statuses of ${instance.id} (${instance.baseUrl})\n`);
    return 0;
  }
  out.write(`invalid ${mapping.file} against ${instance.id} (${instance.baseUrl})\n${problems.map((p) => `  ${p}\n`).join('')}`);
  return 2;
}
