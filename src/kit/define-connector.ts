// A connector is a declaration: which system it speaks for, its instance
// configuration, its mapping kinds, and how to open an instance (streams read
// one page at a time, a re-fetch of one record, the writer, webhook
// verification), plus optional capabilities. The engine owns the loop,
// cursors, retries' scheduling and persistence; the registry
// (connectors/index.ts) lists the declarations once, and the config schema,
// the mapping validator, the webhook routes, the validation instances and the
// CLI are derived from it.

import type { z } from 'zod';
import type { CanonicalState } from '../domain/change.ts';
import type { RequestInfo } from '../http/http-client.ts';
import type { Calendar } from './calendar.ts';
import type { ConnectorInstance, OwnWrites, StreamDeclaration } from './connector.ts';
import type { BaseInstanceConfig } from './instance-config.ts';
import type { Logger } from './logger.ts';
import type { MappingKind } from './mapping-file.ts';
import type { OAuthTokenStores } from './oauth-token-store.ts';

/** What the engine hands a connector when it opens an instance. */
export interface ConnectorContext {
  /** Already bound to the instance (`instance` field set). */
  logger: Logger;
  /** Told about every HTTP request the instance makes (metrics). */
  onRequest: (info: RequestInfo) => void;
  /** A directory for per-instance state that is not mirror data (a rotated OAuth refresh token); absent: keep it in memory. */
  stateDir?: string;
  /**
   * Where a store shared by replicas on several hosts (MongoDB) keeps rotating OAuth tokens, one holder refreshing at
   * a time; there is no state directory then. Absent: the state directory's files serve (embedded store).
   */
  oauthTokens?: OAuthTokenStores;
}

/** Reads an instance's ITSM calendar (blackout and maintenance windows); throws on failure. */
export type CalendarReader = (signal?: AbortSignal) => Promise<Calendar>;

export interface ConnectorCapabilities<C> {
  /** The system publishes change calendars (ServiceNow schedules): merged with the policy calendar, refreshed periodically. */
  calendars?(instance: C, context: ConnectorContext): CalendarReader;
  /** `changegate mappings validate --instance ID`: problems of the instance's mapping against the live site, one line each (empty: none). */
  checkLiveMapping?(instance: C, context: ConnectorContext): Promise<{ mappingFile: string; problems: string[] }>;
}

export interface ConnectorDefinition<C extends BaseInstanceConfig = BaseInstanceConfig> {
  /** The `system:` value of its instances, the `/v1/webhooks/<system>/:instance` segment, the first part of change ids. */
  system: string;
  /** How people name the system ("ServiceNow"). */
  title: string;
  /** The instance schema (built with `instanceConfig(system, shape)`); refinements allowed. */
  config: z.ZodType<C, unknown>;
  /** The mapping file kinds it reads, for `mappings validate`. */
  mappingKinds: readonly MappingKind[];
  /** Streams in the order the engine syncs them; the last carries the changes themselves, after their children (see ConnectorInstance.streams). */
  streams: readonly StreamDeclaration[];
  /**
   * Native state values and labels the instance's mapping knows, to canonical
   * states: what a plugin sends to `/v1/validate` and `check --to` accepts.
   */
  nativeStates(instance: C): ReadonlyMap<string, CanonicalState>;
  /**
   * How the site names each canonical state its mapping reaches (a status name,
   * a state's label): what notes and verdicts on the ticket say. States it
   * leaves out are named by their canonical label.
   */
  stateNames?(instance: C): ReadonlyMap<CanonicalState, string>;
  /**
   * Opens one configured instance: reader, re-fetch, writer, and webhook
   * verification when the instance takes webhooks (`/v1/webhooks/<system>/:instance`
   * exists for every registered system; an instance without `webhook` answers
   * CG_WEBHOOK_UNSUPPORTED there).
   */
  open(instance: C, context: ConnectorContext): ConnectorInstance;
  /**
   * How changegate's own write-backs come back as revisions: the integration
   * user and the fields its writes touch. A revision is changegate's own when
   * its author is that user and its diff touches only those fields.
   */
  ownWrites?(instance: C): OwnWrites;
  /**
   * What an instance's configuration allows but probably does not mean, each at a path inside
   * the instance: `config validate` prints them and `serve` logs them at start. What can never
   * be right is refused by `config` instead.
   */
  configWarnings?(instance: C): readonly ConfigWarning[];
  capabilities?: ConnectorCapabilities<C>;
}

/** A valid configuration that is probably a mistake: where (a path inside the instance) and why. */
export interface ConfigWarning {
  path: readonly PropertyKey[];
  message: string;
}

/** A definition as the registry holds it, its instance type erased. */
export type AnyConnectorDefinition = ConnectorDefinition<BaseInstanceConfig>;

/** Typed at the declaration; erased for the registry (the registry only hands each definition instances its own schema parsed). */
export function defineConnector<C extends BaseInstanceConfig>(definition: ConnectorDefinition<C>): AnyConnectorDefinition {
  return definition as unknown as AnyConnectorDefinition;
}
