// The shape of changegate.yaml, validated once at the edge. The `instances:`
// entries are whatever the connector registry declares (each connector brings
// its own instance schema, src/kit/define-connector.ts); the rest is fixed here.
// Types are inferred from the schemas, so the rest of the code trusts them.

import { z } from 'zod';
import { equalityMatcher } from '../events/services-mapping.ts';
import { EVENT_SOURCES, eventSourceKind } from '../events/sources/index.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { CronExpression, Duration, Secret, type BaseInstanceConfig } from '../kit/instance-config.ts';

export { Duration, Secret, isTimeZone, type BaseInstanceConfig } from '../kit/instance-config.ts';

/**
 * The read cache's bounds (src/store/mirror-read-cache.ts): parsed changes, and the neighbour views the overlap
 * gate reads. Each process holds its own. The defaults keep a sync's memory flat; a `serve` answering
 * POST /v1/validate for a large instance does fewer store reads when its active changes fit (README, Memory).
 */
export const ReadCacheConfig = z
  .object({
    changesMB: z.number().int().min(1).max(4096).default(16).describe('Parsed changes kept, in MB (estimated): some 6,600 changes of a real instance per 16 MB.'),
    neighboursMB: z.number().int().min(1).max(4096).default(16).describe('Neighbour views kept for the overlap gate, in MB (estimated): some 20,000 per 16 MB.'),
  })
  .strict();
export type ReadCacheConfig = z.infer<typeof ReadCacheConfig>;
const readCache = ReadCacheConfig.optional().describe('Memory for parsed changes between reads (default 16 MB each).');

export const StoreConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sqlite').describe('The embedded SQLite store.'), path: z.string().default('./data/changegate.db').describe('Database file (created on first start).'), readCache }).strict(),
  z
    .object({
      // `mongo` is the name this kind had before the adapter existed; it is read as `mongodb`.
      kind: z.literal(['mongodb', 'mongo']).describe('A MongoDB store (Atlas, a replica set, a sharded cluster, or a compatible server such as FerretDB); `mongo` is an alias.'),
      uri: Secret.regex(/^mongodb(\+srv)?:\/\//, 'expected a MongoDB connection string (mongodb:// or mongodb+srv://)').describe(
        'Connection string, e.g. ${MONGODB_URI} (never logged).',
      ),
      database: z.string().default('changegate').describe('Database name.'),
      readCache,
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
      // Refused here, naming the field: the listener would otherwise fail at start-up with an internal error.
      .superRefine((listen, ctx) => {
        const port = /^[^:]+:(\d{1,5})$/.exec(listen)?.[1];
        if (port !== undefined && Number(port) > 65_535) ctx.addIssue({ code: 'custom', message: `port ${port} is outside 0–65535; expected host:port such as 127.0.0.1:8080` });
      })
      .default('127.0.0.1:8080')
      .describe('host:port the HTTP API listens on (CHANGEGATE_LISTEN wins).'),
    /** Bearer tokens `/v1/validate` and `/v1/changes` require (webhooks are signed instead); several allow rotation. Empty: open. */
    apiTokens: z.array(Secret).default([]).describe('Bearer tokens /v1/validate and /v1/changes require; several allow rotation; empty: open (CHANGEGATE_API_TOKENS wins).'),
    shutdownTimeout: Duration.default(30_000).describe(
      'How long `serve` waits, after SIGTERM or SIGINT, for the work in flight (HTTP requests, ticket write-backs, webhook deliveries; syncs stop at once) before it exits with status 1 naming what it waited for, e.g. 30s. Keep it below the supervisor\'s own kill timeout.',
    ),
  })
  .strict();

/** A credential given inline (`${VAR}`) or as a file holding it (a mounted secret), read when the pull starts. */
const PullCredential = {
  token: Secret.optional().describe('Bearer token (GitHub: a fine-grained or classic token with actions:read and deployments:read); write it as ${VAR}; never logged.'),
  tokenFile: z.string().min(1).optional().describe('A file holding the token (a mounted secret), read at start-up; instead of token.'),
};

/** A scheduled pull beside the webhooks: GitHub workflow runs and deployments, Alertmanager's active alerts. */
export const EventPullConfig = z
  .object({
    schedule: CronExpression.default('*/5 * * * *').describe('When to pull: a cron expression, e.g. */5 * * * * (every 5 minutes).'),
    baseUrl: z.url().default('https://api.github.com').describe('github: the REST API root (GitHub Enterprise Server: https://HOST/api/v3).'),
    repos: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected owner/name'))
      .default([])
      .describe('github: the repositories (owner/name) whose workflow runs and deployments are pulled.'),
    since: Duration.default(86_400_000).describe('github: how far back the first pull of a repository reads, e.g. 1d.'),
    urls: z.array(z.url()).default([]).describe('alertmanager: the Alertmanager base URLs whose /api/v2/alerts are pulled.'),
    filters: z.array(z.string().min(1)).default([]).describe('alertmanager: label matchers sent as filter= (e.g. team="payments"); none: every alert.'),
    timeout: Duration.default(30_000).describe('Per-request timeout, e.g. 30s.'),
    ...PullCredential,
  })
  .strict();
export type EventPullConfig = z.output<typeof EventPullConfig>;

const PULL_KINDS = new Set(['github', 'alertmanager']);
const at = (field: string): PropertyKey[] => ['pull', field];

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
    pull: EventPullConfig.optional().describe('github, alertmanager: also pull on a schedule (runs and deployments; active alerts), beside the webhooks.'),
    artifacts: z
      .object({
        token: Secret.describe('A GitHub token that may read Actions artifacts (actions:read); never logged.'),
        names: z.array(z.string().min(1).max(200)).min(1).describe('Artifact name patterns (* and ? wildcards), e.g. junit-*, codeql-sarif.'),
        apiUrl: z.url().default('https://api.github.com').describe('The REST API root (GitHub Enterprise Server: https://<host>/api/v3).'),
        maxBytes: z.number().int().min(1024).max(104_857_600).default(52_428_800).describe('Largest artifact archive downloaded; larger ones are skipped and logged.'),
      })
      .strict()
      .optional()
      .describe('A github source: when a workflow run completes, download its artifacts whose names match and read the JUnit and SARIF files inside.'),
    results: z
      .object({
        requireBoundSignature: z
          .boolean()
          .default(false)
          .describe('Take a results upload only with X-Changegate-Signature-256, which signs what it names (commit, change, ...) with the file; false: a signature over the file alone is still taken.'),
      })
      .strict()
      .optional()
      .describe('POST /v1/events/<id>/results from a source that signs (github, gitlab, grafana, pagerduty, generic).'),
  })
  .strict()
  .superRefine((source, ctx) => {
    if (source.results?.requireBoundSignature === true && eventSourceKind(source.kind)?.signs === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['results', 'requireBoundSignature'],
        message: `a ${source.kind} source sends its secret as a token, so a results upload from it cannot be signed over what it names; only ${EVENT_SOURCES.filter((s) => s.signs).map((s) => s.kind).join(', ')} sources can`,
      });
    }
    const pull = source.pull;
    if (pull === undefined) return;
    if (!PULL_KINDS.has(source.kind)) ctx.addIssue({ code: 'custom', path: ['pull'], message: `a ${source.kind} source cannot be pulled; pull is for ${[...PULL_KINDS].join(', ')}` });
    if (pull.token !== undefined && pull.tokenFile !== undefined) ctx.addIssue({ code: 'custom', path: at('tokenFile'), message: 'give token or tokenFile, not both' });
    if (source.kind === 'github') {
      if (pull.repos.length === 0) ctx.addIssue({ code: 'custom', path: at('repos'), message: 'expected at least one owner/name to pull' });
      if (pull.token === undefined && pull.tokenFile === undefined) ctx.addIssue({ code: 'custom', path: at('token'), message: 'the GitHub REST API needs a token (token or tokenFile)' });
    }
    if (source.kind === 'alertmanager' && pull.urls.length === 0) ctx.addIssue({ code: 'custom', path: at('urls'), message: 'expected at least one Alertmanager URL to pull' });
    // Which services a filtered pull watches is read from its equality matchers; any other matcher leaves it unknown.
    pull.filters.forEach((filter, index) => {
      if (source.services === undefined && equalityMatcher(filter) === null) {
        ctx.addIssue({ code: 'custom', path: ['pull', 'filters', index], message: `"${filter}" is not a label="value" matcher: list the services this source watches under services` });
      }
    });
  });
export type EventSourceConfig = z.infer<typeof EventSourceConfig>;

/** What is valid but weak in a source, for `config validate` and `serve`: results from a signing source taken signed over the file alone. */
export function eventSourceWarnings(source: EventSourceConfig): { path: string[]; message: string }[] {
  if (eventSourceKind(source.kind)?.signs !== true || source.results?.requireBoundSignature === true) return [];
  return [
    {
      path: ['results', 'requireBoundSignature'],
      message: `source "${source.id}" takes results uploads signed over the file alone: whoever holds one (a green test report) can post it again naming another commit or change; have the CI send X-Changegate-Signature-256 (README, Test and scan results) and set results.requireBoundSignature: true`,
    },
  ];
}

/** Prometheus queried during hypercare: error rate and latency of each service against its pre-deployment baseline. */
export const PrometheusConfig = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected lower-case letters, digits, ".", "_" or "-"')
      .default('prometheus')
      .describe('The source id its MonitorEvents and heartbeat carry.'),
    url: z.url().describe('The Prometheus base URL (its /api/v1/query is called).'),
    schedule: CronExpression.default('*/5 * * * *').describe('When to query the services of changes in hypercare: a cron expression.'),
    baselineOffset: Duration.default(600_000).describe('The baseline is the same query at the production deploy minus this, e.g. 10m.'),
    maxRatio: z.number().positive().default(2).describe('Degraded when a value is more than this many times its baseline (and above the service\'s floor).'),
    timeout: Duration.default(30_000).describe('Per-request timeout, e.g. 30s.'),
    ...PullCredential,
  })
  .strict()
  .refine((p) => p.token === undefined || p.tokenFile === undefined, { path: ['tokenFile'], message: 'give token or tokenFile, not both' });
export type PrometheusConfig = z.output<typeof PrometheusConfig>;

export const EventsConfig = z
  .object({
    sources: z.array(EventSourceConfig).default([]).describe('The event sources; none: no event is taken.'),
    maxBodyBytes: z.number().int().min(1024).max(26_214_400).default(1_048_576).describe('Largest delivery taken; larger ones get 413.'),
    maxResultsBytes: z
      .number()
      .int()
      .min(1024)
      .max(104_857_600)
      .default(10_485_760)
      .describe('Largest JUnit or SARIF file taken by POST /v1/events/<id>/results; larger ones get 413.'),
    services: z.string().default('mappings/services.yaml').describe('The services mapping (service -> repositories, pipelines, environments, alert labels).'),
    heartbeatMaxAge: Duration.default(900_000).describe('How recently a monitoring source must have reported (a Watchdog alert, a successful pull) for alert checks to pass.'),
    prometheus: PrometheusConfig.optional().describe('Prometheus queried during hypercare (PromQL per service in the services mapping).'),
  })
  .strict();
export type EventsConfig = z.output<typeof EventsConfig>;

export const EvidenceConfig = z
  .object({
    signingKey: z
      .object({
        file: z.string().min(1).optional().describe('An Ed25519 private key in PEM (PKCS#8), e.g. /run/secrets/changegate-evidence.pem.'),
        pem: Secret.optional().describe('The PEM itself, e.g. ${CHANGEGATE_EVIDENCE_KEY} (never logged).'),
      })
      .strict()
      .refine((key) => (key.file === undefined) !== (key.pem === undefined), 'give the key as file or as pem, one of the two')
      .optional()
      .describe('Ed25519 key the service signs evidence bundles with; `changegate evidence public-key` prints the public key to publish. None: bundles are unsigned.'),
  })
  .strict();
export type EvidenceConfig = z.output<typeof EvidenceConfig>;
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
  evidence: EvidenceConfig.prefault({}).describe('The evidence ledger: the key bundles are signed with.'),
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
        if (source.artifacts !== undefined && source.kind !== 'github') {
          ctx.addIssue({ code: 'custom', path: ['events', 'sources', index, 'artifacts'], message: `artifacts are fetched for kind github only (this source is ${source.kind})` });
        }
        sourceIds.add(source.id);
      });
      const prometheus = config.events.prometheus;
      // Its events and heartbeat carry its id: shared with a webhook source, the two would answer for each other.
      if (prometheus !== undefined && sourceIds.has(prometheus.id)) {
        ctx.addIssue({ code: 'custom', path: ['events', 'prometheus', 'id'], message: `"${prometheus.id}" is already an event source id; give Prometheus another id` });
      }
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
