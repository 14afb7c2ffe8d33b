// The configuration of one Jira Cloud / Data Center instance (an entry of
// `instances:` with `system: jira`): the common fields plus credentials,
// projects, issue types and webhook settings.

import { z } from 'zod';
import { instanceConfig, isTimeZone, Secret } from '../../src/kit/instance-config.ts';

export const JiraBasicAuth = z.object({ kind: z.literal('basic'), email: z.string().min(1), apiToken: Secret }).strict();

/** OAuth 2.0 (3LO): requests go through the Atlassian gateway for `cloudId`; the rotated refresh token is kept beside the store. */
export const JiraOAuth2Auth = z
  .object({
    kind: z.literal('oauth2'),
    clientId: z.string().min(1),
    clientSecret: Secret,
    accessToken: Secret.optional(),
    refreshToken: Secret,
    cloudId: z.string().min(1),
  })
  .strict();

/** Data Center personal access token, sent as `Authorization: Bearer <token>`. */
export const JiraPatAuth = z.object({ kind: z.literal('pat'), token: Secret }).strict();

export const JiraAuth = z.discriminatedUnion('kind', [JiraBasicAuth, JiraOAuth2Auth, JiraPatAuth]);
export type JiraAuth = z.infer<typeof JiraAuth>;

export const JiraInstance = instanceConfig('jira', {
  flavor: z.enum(['cloud', 'datacenter']).default('cloud'),
  auth: JiraAuth,
  projects: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a Jira project key such as ITSM (upper-case letters, digits, _)')).min(1),
  /** Issue type names read as change requests. */
  issueTypes: z.array(z.string().min(1)).min(1).default(['[System] Change']),
  webhookSecret: Secret.optional(),
  allowUnsignedWebhooks: z.boolean().default(false),
  /** Zone in which JQL reads date literals (the API user's profile zone; usually the site default). */
  siteTimeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Europe/Berlin or UTC').default('UTC'),
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
