// The shape of changegate.yaml, validated once at the edge. Types are inferred
// from the schemas, so the rest of the code trusts them.

import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import { extraQueryProblem } from '../../connectors/servicenow/keyset-query.ts';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `2m`, `1h`, or a number of milliseconds. */
export const Duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(DURATION, 'expected a duration such as 30s, 2m or 1h').transform((text) => {
    const [, amount, unit] = DURATION.exec(text) as unknown as [string, string, keyof typeof UNIT_MS];
    return Number(amount) * UNIT_MS[unit];
  }),
]);

const Secret = z.string().min(1).describe('secret');

export const BasicAuth = z
  .object({ kind: z.literal('basic'), username: z.string().min(1), password: Secret })
  .strict();

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

const CommonInstance = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes'),
  baseUrl: z.url().transform((u) => u.replace(/\/+$/, '')),
  /** node-cron expression; the instance is synced on it by `serve`. */
  schedule: z.string().refine((expr) => validCron(expr), 'expected a cron expression such as */2 * * * *').default('*/2 * * * *'),
  overlap: Duration.default(120_000),
  pageSize: z.number().int().min(1).max(10_000).default(1000),
  /** Per-request timeout. */
  timeout: Duration.default(30_000),
  /** Attempts after the first for a transient failure. */
  retries: z.number().int().min(0).max(20).default(6),
  /** Requests per second at most (0: unlimited). */
  maxRequestsPerSecond: z.number().min(0).default(0),
  mapping: z.string().optional(),
  /**
   * Post verdicts, notes and reactive enforcement to the tickets (needs write access). Off by default:
   * changegate then assesses and stores every change but writes nothing, so a first start against a
   * busy instance does not put a note on every open change before someone decides it should.
   */
  writeBack: z.boolean().default(false),
  /** What reactive enforcement does with a transition the policy forbids: comment only, or move it back and explain. */
  enforcement: z.enum(['advisory', 'enforce']).default('advisory'),
  /** `POST /v1/validate` when the mirror is stale or lacks the change: allow (open) or deny (closed). */
  failMode: z.enum(['open', 'closed']).default('open'),
  /** The mirror counts as stale when the instance's last successful sync is older than this. */
  maxStaleness: Duration.default(900_000),
};

export const ServiceNowInstance = z
  .object({
    ...CommonInstance,
    system: z.literal('servicenow'),
    auth: ServiceNowAuth,
    /** Extra encoded query ANDed to every change read, e.g. `active=true`. */
    query: z
      .string()
      .superRefine((query, ctx) => {
        const problem = extraQueryProblem(query);
        if (problem) ctx.addIssue({ code: 'custom', message: `query ${problem}` });
      })
      .optional(),
  })
  .strict();
export type ServiceNowInstance = z.infer<typeof ServiceNowInstance>;

export const JiraBasicAuth = z.object({ kind: z.literal('basic'), email: z.string().min(1), apiToken: Secret }).strict();

/** OAuth 2.0 (3LO): requests go through the Atlassian gateway for `cloudId`; the rotated refresh token lives in memory only. */
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

export function isTimeZone(zone: string): boolean {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone !== '';
  } catch {
    return false;
  }
}

export const JiraInstance = z
  .object({
    ...CommonInstance,
    system: z.literal('jira'),
    flavor: z.enum(['cloud', 'datacenter']).default('cloud'),
    auth: JiraAuth,
    projects: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a Jira project key such as ITSM (upper-case letters, digits, _)')).min(1),
    /** Issue type names read as change requests. */
    issueTypes: z.array(z.string().min(1)).min(1).default(['[System] Change']),
    webhookSecret: Secret.optional(),
    allowUnsignedWebhooks: z.boolean().default(false),
    /** Zone in which JQL reads date literals (the API user's profile zone; usually the site default). */
    siteTimeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Europe/Berlin or UTC').default('UTC'),
  })
  .strict()
  .superRefine((instance, ctx) => {
    const kind = instance.auth.kind;
    if (instance.flavor === 'cloud' && kind === 'pat') {
      ctx.addIssue({ code: 'custom', path: ['auth', 'kind'], message: 'pat is for Jira Data Center; Jira Cloud takes basic (email + API token) or oauth2' });
    }
    if (instance.flavor === 'datacenter' && kind !== 'pat') {
      ctx.addIssue({ code: 'custom', path: ['auth', 'kind'], message: `${kind} is for Jira Cloud; Jira Data Center takes pat (a personal access token)` });
    }
  });
export type JiraInstance = z.infer<typeof JiraInstance>;

export const StoreConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sqlite'), path: z.string().default('./data/changegate.db') }).strict(),
  z.object({ kind: z.literal('mongo'), uri: Secret, database: z.string().default('changegate') }).strict(),
]);
export type StoreConfig = z.infer<typeof StoreConfig>;

export const ServerConfig = z
  .object({
    listen: z
      .string()
      .regex(/^[^:]+:\d{1,5}$/, 'expected host:port')
      .default('127.0.0.1:8080'),
    /** Bearer tokens `/v1/validate` and `/v1/changes` require (webhooks are signed instead); several allow rotation. Empty: open. */
    apiTokens: z.array(Secret).default([]),
  })
  .strict();

/** Instances are a discriminated union on `system`; Jira joins it with its connector. */
export const InstanceConfig = z.discriminatedUnion('system', [ServiceNowInstance, JiraInstance]);
export type InstanceConfig = z.infer<typeof InstanceConfig>;

export const ChangegateConfig = z
  .object({
    store: StoreConfig.default({ kind: 'sqlite', path: './data/changegate.db' }),
    server: ServerConfig.prefault({}),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).strict().default({ level: 'info' }),
    instances: z.array(InstanceConfig).default([]),
    /** The policy file (lifecycle gates, CAB scorecard, calendar, custom CEL rules). */
    policy: z.string().optional(),
    /** When `serve` re-assesses the open changes for the clock alone (windows opening, hypercare elapsing, waivers ending). */
    reassess: z.string().refine((expr) => validCron(expr), 'expected a cron expression such as */5 * * * *').default('*/5 * * * *'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.instances.forEach((instance, index) => {
      if (seen.has(instance.id)) {
        ctx.addIssue({ code: 'custom', path: ['instances', index, 'id'], message: `duplicate instance id "${instance.id}"` });
      }
      seen.add(instance.id);
    });
  });
export type ChangegateConfig = z.infer<typeof ChangegateConfig>;
