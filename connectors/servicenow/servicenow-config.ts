// The configuration of one ServiceNow instance (an entry of `instances:` with
// `system: servicenow`): the common fields plus credentials and the extra query.

import { z } from 'zod';
import { instanceConfig, Secret } from '../../src/kit/instance-config.ts';
import { extraQueryProblem } from './keyset-query.ts';

export const BasicAuth = z
  .object({ kind: z.literal('basic').describe('HTTP Basic with an integration user.'), username: z.string().min(1).describe('The integration user.'), password: Secret })
  .strict();

export const OAuthClientCredentials = z
  .object({
    kind: z.literal('oauth').describe('OAuth 2.0 through the instance\'s oauth_token.do.'),
    grant: z.literal('client_credentials').describe('Client credentials grant.'),
    clientId: z.string().min(1).describe('The OAuth application registry entry\'s client id.'),
    clientSecret: Secret,
    scope: z.string().optional().describe('OAuth scope to request, if the instance restricts them.'),
  })
  .strict();

export const OAuthPassword = z
  .object({
    kind: z.literal('oauth').describe('OAuth 2.0 through the instance\'s oauth_token.do.'),
    grant: z.literal('password').describe('Resource owner password grant.'),
    clientId: z.string().min(1).describe('The OAuth application registry entry\'s client id.'),
    clientSecret: Secret,
    username: z.string().min(1).describe('The integration user.'),
    password: Secret,
    scope: z.string().optional().describe('OAuth scope to request, if the instance restricts them.'),
  })
  .strict();

export const ServiceNowAuth = z.discriminatedUnion('kind', [BasicAuth, z.discriminatedUnion('grant', [OAuthClientCredentials, OAuthPassword])]);
export type ServiceNowAuth = z.infer<typeof ServiceNowAuth>;

export const ServiceNowInstance = instanceConfig('servicenow', {
  auth: ServiceNowAuth.describe('How changegate signs in: basic, or oauth with grant client_credentials or password.'),
  /** Extra encoded query ANDed to every change read, e.g. `active=true`. */
  query: z
    .string()
    .superRefine((query, ctx) => {
      const problem = extraQueryProblem(query);
      if (problem) ctx.addIssue({ code: 'custom', message: `query ${problem}` });
    })
    .optional()
    .describe('Extra encoded query ANDed to every change read, e.g. active=true.'),
  /** How changegate's work notes are written: plain text, or HTML inside [code]…[/code] where the instance renders it. */
  workNotes: z
    .enum(['text', 'html'])
    .default('text')
    .describe('How changegate writes work notes: text (default, shown the same everywhere) or html (headings and tables inside [code]…[/code]; only where the instance renders [code] in journals, glide.ui.security.allow_codetag).'),
});
export type ServiceNowInstance = z.infer<typeof ServiceNowInstance>;
