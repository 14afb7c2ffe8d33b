// The reads the Jira connector needs, one interface for both flavours:
//   Cloud        jira.js v6 endpoint functions (platform v3 + Service Management),
//                driven through a jira.js `Client` backed by our HTTP client
//   Data Center  REST v2 directly (`/rest/api/2/search` with startAt/total,
//                wiki-markup strings, users by name/key), Bearer PAT
// Both share one transport (jira-http.ts), so retries, rate-limit waits, the
// revoked-token check and error codes are the same everywhere.

import type { JiraInstance } from './jira-config.ts';
import type { RequestInfo } from '../../src/http/http-client.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { RetryPolicy } from '../../src/http/retry-classifier.ts';
import { createCloudApi, type ResponseValidation } from './jira-cloud-api.ts';
import { createDataCenterApi } from './jira-dc-api.ts';
import type { JiraClient } from './jira-api.ts';
import { createJiraHttp, type JiraHttp } from './jira-http.ts';

export type { CallContext } from './jira-http.ts';
export type { FieldInfo, IssueTypeStatuses, JiraClient, ListPage, RawIssue, SearchPage, SearchPosition, SearchRequest } from './jira-api.ts';

export type JiraClientInstance = Pick<JiraInstance, 'id' | 'baseUrl' | 'auth' | 'flavor' | 'timeout' | 'retries' | 'maxRequestsPerSecond'>;

export interface JiraClientDeps {
  logger: Logger;
  onRequest?: (info: RequestInfo) => void;
  retry?: Partial<RetryPolicy>;
  /** Cloud responses are checked against jira.js's schemas: 'warn' (default) logs drift once per endpoint, 'throw' fails (tests). */
  responseValidation?: ResponseValidation;
  /** Defaults to one built from the instance. */
  http?: JiraHttp;
}

export function createJiraClient(instance: JiraClientInstance, deps: JiraClientDeps): JiraClient {
  const http =
    deps.http ??
    createJiraHttp(instance, {
      logger: deps.logger,
      ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
      ...(deps.retry ? { retry: deps.retry } : {}),
    });
  return instance.flavor === 'datacenter'
    ? createDataCenterApi(instance.id, http)
    : createCloudApi(instance.id, http, { logger: deps.logger, validation: deps.responseValidation ?? 'warn' });
}
