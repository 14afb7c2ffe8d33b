// The shape of changegate.yaml, validated once at the edge. The `instances:`
// entries are whatever the connector registry declares (each connector brings
// its own instance schema, src/kit/define-connector.ts); the rest is fixed here.
// Types are inferred from the schemas, so the rest of the code trusts them.

import { z } from 'zod';
import { EVENT_SOURCES, eventSourceKind } from '../events/sources/index.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { CronExpression, Duration, Secret, type BaseInstanceConfig } from '../kit/instance-config.ts';

export { Duration, Secret, isTimeZone, type BaseInstanceConfig } from '../kit/instance-config.ts';

export const StoreConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sqlite').describe('The embedded SQLite store.'), path: z.string().default('./data/changegate.db').describe('Database file (created on first start).') }).strict(),
  z
    .object({
      // `mongo` is the name this kind had before the adapter existed; it is read as `mongodb`.
      kind: z.literal(['mongodb', 'mongo']).describe('A MongoDB store (Atlas, a replica set, a sharded cluster, or a compatible server such as FerretDB); `mongo` is an alias.'),
      uri: Secret.describe('Connection string, e.g. ${MONGODB_URI} (never logged).'),
      database: z.string().default('changegate').describe('Database name.'),
    })
    .strict()
    .transform((config) => ({ ...config, kind: 'mongodb' as const })),
]);
export type StoreConfig = z.infer<typeof StoreConfig>;

export const ServerConfig = z
  .object({
    listen: z
      .string()
      .regex(/^[^:]+:\d{1,5}$/, 'expected host:port')
      .default('127.0.0.1:8080')
      .describe('host:port the HTTP API listens on (CHANGEGATE_LISTEN wins).'),
    /** Bearer tokens `/v1/validate` and `/v1/changes` require (webhooks are signed instead); several allow rotation. Empty: open. */
    apiTokens: z.array(Secret).default([]).describe('Bearer tokens /v1/validate and /v1/changes require; several allow rotation; empty: open (CHANGEGATE_API_TOKENS wins).'),
  })
  .strict();

/** One CI or monitoring event source posting to `POST /v1/events/<id>`. */
export const EventSourceConfig = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected lower-case letters, digits, ".", "_" or "-"')
      .describe('The source id: the last segment of its URL, POST /v1/events/<id>.'),
    kind: z
      .string()
      .refine((kind) => eventSourceKind(kind) !== undefined, { error: () => `expected one of ${EVENT_SOURCES.map((s) => s.kind).join(', ')}` })
      .describe('What sends it: github, alertmanager, generic (and the kinds the sources registry lists).'),
    secrets: z.array(Secret).min(1).describe('Webhook secrets or tokens, each one accepted (several while rotating); never logged.'),
    services: z
      .array(z.string().min(1))
      .optional()
      .describe('A monitoring source: the services it watches (as changes name them); absent: every service.'),
  })
  .strict();
export type EventSourceConfig = z.infer<typeof EventSourceConfig>;

export const EventsConfig = z
  .object({
    sources: z.array(EventSourceConfig).default([]).describe('The event sources; none: no event is taken.'),
    maxBodyBytes: z.number().int().min(1024).max(26_214_400).default(1_048_576).describe('Largest delivery taken; larger ones get 413.'),
    services: z.string().default('mappings/services.yaml').describe('The services mapping (service -> repositories, pipelines, environments, alert labels).'),
    heartbeatMaxAge: Duration.default(900_000).describe('How recently a monitoring source must have reported (a Watchdog alert) for alert checks to pass.'),
  })
  .strict();
export type EventsConfig = z.output<typeof EventsConfig>;

/** Leases (src/sync/lease-keeper.ts): which replica syncs an instance, and which runs the clock re-assessment, when several share a store. */
export const LeasesConfig = z
  .object({
    ttl: Duration.default(30_000).describe('How long a lease holds without renewal: a replica that dies hands its instances over within about ttl + renewEvery, e.g. 30s.'),
    renewEvery: Duration.default(10_000).describe('How often a replica renews the leases it holds and seeks free ones; at most a third of ttl, e.g. 10s.'),
  })
  .strict()
  .refine((leases) => leases.renewEvery * 3 <= leases.ttl, {
    path: ['renewEvery'],
    error: 'renewEvery must be at most a third of ttl, so a renewal delayed by a slow store still lands before the lease lapses',
  });
export type LeasesConfig = z.output<typeof LeasesConfig>;

/** Everything but the instances: the same whatever systems are registered. */
const commonShape = {
  store: StoreConfig.default({ kind: 'sqlite', path: './data/changegate.db' }).describe('Where the mirror, assessments and outbox live: sqlite (default) or mongodb.'),
  server: ServerConfig.prefault({}).describe('The HTTP API: listen address and API tokens.'),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('Least severe level logged.') })
    .strict()
    .default({ level: 'info' })
    .describe('Logging (JSON lines; readable lines on a terminal).'),
  /** The policy file (lifecycle gates, CAB scorecard, calendar, custom CEL rules). */
  policy: z.string().optional().describe('Policy file (gates, CAB scorecard, calendar, waivers, custom rules); default: mappings/policy.default.yaml.'),
  /** When `serve` re-assesses the open changes for the clock alone (windows opening, hypercare elapsing, waivers ending). */
  events: EventsConfig.prefault({}).describe('CI and monitoring events: sources, body limit, services mapping, heartbeat age.'),
  leases: LeasesConfig.prefault({}).describe('Leases per connector instance and for the clock re-assessment, renewed on a timer: ttl and renewEvery.'),
  reassess: CronExpression.default('*/5 * * * *').describe('When `serve` re-assesses open changes for the clock alone (windows opening, waivers ending): a cron expression.'),
};

const CommonConfig = z.object(commonShape).strict();

/** A configuration as the core reads it: instances carry their connector's own fields besides the common ones. */
export type ChangegateConfig = z.output<typeof CommonConfig> & { instances: BaseInstanceConfig[] };

/** The instance type the core works with (each connector narrows it to its own schema). */
export type InstanceConfig = BaseInstanceConfig;

const schemas = new WeakMap<ConnectorRegistry, z.ZodType<ChangegateConfig, unknown>>();

/** The schema of changegate.yaml for the registered systems (built once per registry). */
export function configSchemaFor(registry: ConnectorRegistry): z.ZodType<ChangegateConfig, unknown> {
  const known = schemas.get(registry);
  if (known) return known;
  const schema = z
    .object({ ...commonShape, instances: z.array(registry.instanceSchema).default([]).describe('The ServiceNow and Jira sites to mirror and govern; none: nothing is synced.') })
    .strict()
    .superRefine((config, ctx) => {
      const sourceIds = new Set<string>();
      config.events.sources.forEach((source, index) => {
        if (sourceIds.has(source.id)) ctx.addIssue({ code: 'custom', path: ['events', 'sources', index, 'id'], message: `duplicate event source id "${source.id}"` });
        sourceIds.add(source.id);
      });
      const seen = new Set<string>();
      config.instances.forEach((instance, index) => {
        if (seen.has(instance.id)) {
          ctx.addIssue({ code: 'custom', path: ['instances', index, 'id'], message: `duplicate instance id "${instance.id}"` });
        }
        seen.add(instance.id);
      });
    }) as unknown as z.ZodType<ChangegateConfig, unknown>;
  schemas.set(registry, schema);
  return schema;
}
