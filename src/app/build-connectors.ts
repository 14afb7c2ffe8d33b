// Turns configured instances into connector instances (one place knows every system).

import type { ConnectorInstance } from '../../connectors/connector.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import type { InstanceConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../server/metrics.ts';

export function buildConnector(instance: InstanceConfig, deps: { logger: Logger; metrics: Metrics }): ConnectorInstance {
  switch (instance.system) {
    case 'servicenow': {
      const mapping = loadServiceNowMapping(instance.mapping);
      return createServiceNowConnector(instance, {
        mapping,
        logger: deps.logger.child({ instance: instance.id }),
        onRequest: (info) => {
          deps.metrics.upstreamRequests.inc({ instance: instance.id, method: info.method, status: String(info.status ?? info.code ?? 'error') });
          deps.metrics.upstreamDuration.observe({ instance: instance.id }, info.ms / 1000);
        },
      });
    }
    case 'jira': {
      const mapping = loadJiraMapping(instance.mapping);
      return createJiraConnector(instance, {
        mapping,
        logger: deps.logger.child({ instance: instance.id }),
        onRequest: (info) => {
          deps.metrics.upstreamRequests.inc({ instance: instance.id, method: info.method, status: String(info.status) });
          deps.metrics.upstreamDuration.observe({ instance: instance.id }, info.ms / 1000);
        },
      });
    }
  }
}
