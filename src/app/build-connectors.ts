// Turns configured instances into connector instances (one place knows every system).

import type { ConnectorInstance } from '../kit/connector.ts';
import { createJiraAuth } from '../../connectors/jira/jira-auth.ts';
import { createJiraClient } from '../../connectors/jira/jira-client.ts';
import { createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { createJiraHttp } from '../../connectors/jira/jira-http.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { createJiraWriter } from '../../connectors/jira/jira-writer.ts';
import { oauthTokenFile } from '../../connectors/jira/oauth-token-file.ts';
import { createServiceNowAuth } from '../../connectors/servicenow/servicenow-auth.ts';
import { createServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { createServiceNowConnector } from '../../connectors/servicenow/servicenow-connector.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { createServiceNowWriter } from '../../connectors/servicenow/servicenow-writer.ts';
import type { InstanceConfig } from '../config/schema.ts';
import { join } from 'node:path';
import type { RequestInfo } from '../http/http-client.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface BuildConnectorDeps {
  logger: Logger;
  metrics: Metrics;
  /** Where per-instance state that is not mirror data lives (rotated OAuth tokens); none: kept in memory. */
  stateDir?: string;
}

export function buildConnector(instance: InstanceConfig, deps: BuildConnectorDeps): ConnectorInstance {
  switch (instance.system) {
    case 'servicenow': {
      const mapping = loadServiceNowMapping(instance.mapping);
      const logger = deps.logger.child({ instance: instance.id });
      const onRequest = (info: RequestInfo): void => {
        deps.metrics.upstreamRequests.inc({ instance: instance.id, method: info.method, status: String(info.status ?? info.code ?? 'error') });
        deps.metrics.upstreamDuration.observe({ instance: instance.id }, info.ms / 1000);
      };
      // Reads and write-back share one set of credentials (one OAuth token).
      const auth = createServiceNowAuth(instance, { logger, onRequest });
      const client = createServiceNowClient(instance, { logger, onRequest, auth });
      const connector = createServiceNowConnector(instance, { mapping, logger, onRequest, client });
      // Appends and state moves are not retried inside the call: the outbox retries them after checking the ticket.
      const once = createServiceNowClient({ ...instance, retries: 0 }, { logger, onRequest, auth });
      connector.writer = createServiceNowWriter({ client, once, mapping });
      return connector;
    }
    case 'jira': {
      const mapping = loadJiraMapping(instance.mapping);
      const logger = deps.logger.child({ instance: instance.id });
      const onRequest = (info: RequestInfo): void => {
        deps.metrics.upstreamRequests.inc({ instance: instance.id, method: info.method, status: String(info.status) });
        deps.metrics.upstreamDuration.observe({ instance: instance.id }, info.ms / 1000);
      };
      // One auth for reads and write-back: an OAuth 2.0 refresh token rotates, so two holders would lock each other out.
      const tokenFile =
        instance.auth.kind === 'oauth2' && deps.stateDir !== undefined ? oauthTokenFile(join(deps.stateDir, `oauth-${instance.id}.json`), instance.auth.refreshToken) : undefined;
      const auth = createJiraAuth(instance, { logger, ...(tokenFile ? { tokenFile } : {}) });
      const http = createJiraHttp(instance, { logger, onRequest, auth });
      const connector = createJiraConnector(instance, { mapping, logger, onRequest, client: createJiraClient(instance, { logger, http }) });
      // Comment posts and transitions are not retried inside the call: the outbox retries them after checking the issue.
      const once = createJiraHttp({ ...instance, retries: 0 }, { logger, onRequest, auth });
      connector.writer = createJiraWriter({ http, once, flavor: instance.flavor, mapping });
      return connector;
    }
  }
}
