// The configuration of one ServiceNow instance (an entry of `instances:` with
// `system: servicenow`): the common fields plus credentials and the extra query.

import { z } from 'zod';
import { instanceConfig, Secret } from '../../src/kit/instance-config.ts';
import { extraQueryProblem } from './keyset-query.ts';

export const BasicAuth = z.object({ kind: z.literal('basic'), username: z.string().min(1), password: Secret }).strict();

export const OAuthClientCredentials = z
  .object({
    kind: z.literal('oauth'),
    grant: z.literal('client_credentials'),
    clientId: z.string().min(1),
    clientSecret: Secret,
    scope: z.string().optional(),
  })
  .strict();

export const OAuthPassword = z
  .object({
    kind: z.literal('oauth'),
    grant: z.literal('password'),
    clientId: z.string().min(1),
    clientSecret: Secret,
    username: z.string().min(1),
    password: Secret,
    scope: z.string().optional(),
  })
  .strict();

export const ServiceNowAuth = z.discriminatedUnion('kind', [BasicAuth, z.discriminatedUnion('grant', [OAuthClientCredentials, OAuthPassword])]);
export type ServiceNowAuth = z.infer<typeof ServiceNowAuth>;

export const ServiceNowInstance = instanceConfig('servicenow', {
  auth: ServiceNowAuth,
  /** Extra encoded query ANDed to every change read, e.g. `active=true`. */
  query: z
    .string()
    .superRefine((query, ctx) => {
      const problem = extraQueryProblem(query);
      if (problem) ctx.addIssue({ code: 'custom', message: `query ${problem}` });
    })
    .optional(),
});
export type ServiceNowInstance = z.infer<typeof ServiceNowInstance>;
