// The Jira Cloud / Data Center (JSM) connector as the registry lists it: JQL
// reads of change issues with their approvals and comments, signed admin
// webhooks, write-back of the verdict issue property, comments and transitions,
// and a check of the mapping against the live site.

import { join } from 'node:path';
import type { CanonicalState } from '../../src/domain/change.ts';
import { defineConnector, type ConnectorContext } from '../../src/kit/define-connector.ts';
import { createJiraAuth, type JiraAuthSetup } from './jira-auth.ts';
import { createJiraClient } from './jira-client.ts';
import { JiraInstance } from './jira-config.ts';
import { createJiraConnector, JIRA_STREAMS } from './jira-connector.ts';
import { createFieldResolver } from './jira-fields.ts';
import { createJiraHttp } from './jira-http.ts';
import { loadJiraMapping, validateJiraMappingSource } from './jira-mapping.ts';
import { JIRA_MAPPING_KIND } from './jira-mapping-schema.ts';
import { createStatusNameResolver } from './jira-status-names.ts';
import { createJiraWriter } from './jira-writer.ts';
import { oauthTokenFile } from './oauth-token-file.ts';
import { validateMappingAgainstSite } from './validate-live-mapping.ts';

/**
 * The instance's credentials. An OAuth 2.0 grant's rotated tokens, shared by every holder, live where the store
 * keeps them (a shared store's own collection), else in `oauth-<id>.json` in the state directory.
 */
function authOf(instance: JiraInstance, { logger, stateDir, oauthTokens }: ConnectorContext): JiraAuthSetup {
  const auth = instance.auth;
  if (auth.kind !== 'oauth2') return createJiraAuth(instance, { logger });
  const tokenStore = oauthTokens?.open(instance.id, auth.refreshToken) ?? (stateDir === undefined ? undefined : oauthTokenFile(join(stateDir, `oauth-${instance.id}.json`), auth.refreshToken));
  return createJiraAuth(instance, { logger, ...(tokenStore ? { tokenStore } : {}) });
}

export const jira = defineConnector<JiraInstance>({
  system: 'jira',
  title: 'Jira Service Management',
  config: JiraInstance,
  mappingKinds: [
    {
      kind: JIRA_MAPPING_KIND,
      validate: validateJiraMappingSource,
      // The statuses of the JSM change template's workflow as commonly cited (sites rename them; `--instance` checks the live one).
      standardStates: {
        section: 'statuses',
        source: 'a status of the JSM change workflow',
        states: [
          { value: 'Planning', label: 'Planning', suggested: 'assess' },
          { value: 'Awaiting CAB approval', label: 'Awaiting CAB approval', suggested: 'authorize' },
          { value: 'Awaiting implementation', label: 'Awaiting implementation', suggested: 'scheduled' },
          { value: 'Implementing', label: 'Implementing', suggested: 'implement' },
          { value: 'Peer review', label: 'Peer review', suggested: 'review' },
          { value: 'Completed', label: 'Completed', suggested: 'closed' },
          { value: 'Failed', label: 'Failed', suggested: 'failed' },
          { value: 'Canceled', label: 'Canceled', suggested: 'canceled' },
        ],
      },
    },
  ],
  streams: JIRA_STREAMS,
  nativeStates: (instance) => loadJiraMapping(instance.mapping).states,
  // The first status mapped to each state, as the mapping names it (sites naming statuses by id get the id).
  stateNames(instance) {
    const names = new Map<CanonicalState, string>();
    for (const [status, state] of loadJiraMapping(instance.mapping).states) if (!names.has(state)) names.set(state, status);
    return names;
  },
  open(instance, context) {
    const { logger, onRequest } = context;
    const mapping = loadJiraMapping(instance.mapping);
    // One auth for reads and write-back: an OAuth 2.0 refresh token rotates, so two holders would lock each other out.
    const auth = authOf(instance, context);
    const http = createJiraHttp(instance, { logger, onRequest, auth });
    const client = createJiraClient(instance, { logger, http });
    const resolver = createFieldResolver(client, mapping.fieldRefs, { logger, mappingFile: mapping.file });
    const connector = createJiraConnector(instance, { mapping, logger, onRequest, client, resolver });
    // Comment posts and transitions are not retried inside the call: the outbox retries them after checking the issue.
    const once = createJiraHttp({ ...instance, retries: 0 }, { logger, onRequest, auth });
    // The verdict names statuses the mapping keys by id as the site does: the Forge validator compares names.
    const statuses = createStatusNameResolver(client, instance.projects, { logger, mappingFile: mapping.file });
    connector.writer = createJiraWriter({
      http,
      once,
      flavor: instance.flavor,
      mapping,
      fields: () => resolver.resolve({ calls: 0 }),
      statusNames: (ids) => statuses.names(ids, { calls: 0 }),
    });
    return connector;
  },
  // The pair is the way to move a site to signed webhooks (signed deliveries are checked, the rest still taken), never an end state.
  configWarnings: (instance) =>
    instance.webhookSecret !== undefined && instance.allowUnsignedWebhooks
      ? [
          {
            path: ['allowUnsignedWebhooks'],
            message:
              'true while webhookSecret is set: a delivery without a signature is still accepted, so the secret keeps no forged delivery out ' +
              '(only signed ones are checked); remove allowUnsignedWebhooks once every webhook of the site sends the secret',
          },
        ]
      : [],
  ownWrites: (instance) => ({
    // Changelog authors carry an accountId and (unless the account hides it) the e-mail basic auth signs in with; a PAT or OAuth grant names no user.
    users: instance.auth.kind === 'basic' ? [instance.auth.email] : [],
    // The verdict and evidence issue properties, a comment and the evidence bundle's attachment; each bumps `updated`.
    paths: ['raw.fields.comment', 'raw.fields.attachment', 'raw.fields.updated', 'raw.properties', 'updatedAt'],
  }),
  capabilities: {
    async checkLiveMapping(instance, context) {
      const { logger, onRequest } = context;
      const mapping = loadJiraMapping(instance.mapping);
      // `mappings validate --instance` holds the same grant as the service: it refreshes from, and saves to, the same token store.
      const http = createJiraHttp(instance, { logger, onRequest, auth: authOf(instance, context) });
      const problems = await validateMappingAgainstSite(instance, mapping, createJiraClient(instance, { logger, http }));
      return { mappingFile: mapping.file, problems };
    },
  },
});
