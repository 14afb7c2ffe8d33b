// The configuration of one Jira Cloud / Data Center instance (an entry of
// `instances:` with `system: jira`): the common fields plus credentials,
// projects, issue types and webhook settings.

import { z } from 'zod';
import { instanceConfig, isTimeZone, Secret } from '../../src/kit/instance-config.ts';

export const JiraBasicAuth = z
  .object({ kind: z.literal('basic').describe('Email and API token (Jira Cloud).'), email: z.string().min(1).describe('The integration account\'s email.'), apiToken: Secret })
  .strict();

/** OAuth 2.0 (3LO): requests go through the Atlassian gateway for `cloudId`; the rotated refresh token is kept beside the store. */
export const JiraOAuth2Auth = z
  .object({
    kind: z.literal('oauth2').describe('OAuth 2.0 (3LO) through the Atlassian gateway (Jira Cloud).'),
    clientId: z.string().min(1).describe('The OAuth app\'s client id.'),
    clientSecret: Secret,
    accessToken: Secret.optional(),
    refreshToken: Secret,
    cloudId: z.string().min(1).describe('The site\'s cloud id (from accessible-resources).'),
  })
  .strict();

/** Data Center personal access token, sent as `Authorization: Bearer <token>`. */
export const JiraPatAuth = z.object({ kind: z.literal('pat').describe('Personal access token (Jira Data Center).'), token: Secret }).strict();

export const JiraAuth = z.discriminatedUnion('kind', [JiraBasicAuth, JiraOAuth2Auth, JiraPatAuth]);
export type JiraAuth = z.infer<typeof JiraAuth>;

export const JiraInstance = instanceConfig('jira', {
  flavor: z.enum(['cloud', 'datacenter']).default('cloud').describe('Jira Cloud or Jira Data Center.'),
  auth: JiraAuth.describe('How changegate signs in: basic or oauth2 (Cloud), pat (Data Center).'),
  projects: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a Jira project key such as ITSM (upper-case letters, digits, _)')).min(1).describe('Keys of the JSM projects whose change issues are mirrored, e.g. [ITSM].'),
  /** Issue type names read as change requests. */
  issueTypes: z.array(z.string().min(1)).min(1).default(['[System] Change']).describe('Issue type names read as change requests.'),
  webhookSecret: Secret.optional().describe('Secret the site signs webhook deliveries with (HMAC); write it as ${VAR}.'),
  allowUnsignedWebhooks: z.boolean().default(false).describe('Accept deliveries without a signature (only behind a trusted proxy).'),
  /** Zone in which JQL reads date literals (the API user's profile zone; usually the site default). */
  siteTimeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Europe/Berlin or UTC').default('UTC').describe('Zone in which JQL reads date literals (the API user\'s profile zone), e.g. Europe/Berlin.'),
}).superRefine((instance, ctx) => {
  const kind = instance.auth.kind;
  if (instance.flavor === 'cloud' && kind === 'pat') {
    ctx.addIssue({ code: 'custom', path: ['auth', 'kind'], message: 'pat is for Jira Data Center; Jira Cloud takes basic (email + API token) or oauth2' });
  }
  if (instance.flavor === 'datacenter' && kind !== 'pat') {
    ctx.addIssue({ code: 'custom', path: ['auth', 'kind'], message: `${kind} is for Jira Cloud; Jira Data Center takes pat (a personal access token)` });
  }
});
export type JiraInstance = z.infer<typeof JiraInstance>;
