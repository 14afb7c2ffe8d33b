// What `POST /v1/validate` needs per configured instance: its fail mode, its
// staleness bound and the native state values its mapping knows (plugins send
// the ticket's own state value).

import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import type { ValidationInstance } from '../assess/transition-validation.ts';
import type { InstanceConfig } from '../config/schema.ts';

export function validationInstances(instances: readonly InstanceConfig[]): Map<string, ValidationInstance> {
  return new Map(
    instances.map((i) => {
      const states = i.system === 'servicenow' ? loadServiceNowMapping(i.mapping).states : loadJiraMapping(i.mapping).states;
      return [i.id, { id: i.id, system: i.system, failMode: i.failMode, maxStalenessMs: i.maxStaleness, states }] as const;
    }),
  );
}
