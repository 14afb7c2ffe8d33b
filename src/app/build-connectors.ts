// Opens a configured instance through its system's declaration in the registry,
// with the metrics hook and the per-instance logger every connector gets.

import { dirname } from 'node:path';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import type { ConnectorInstance } from '../kit/connector.ts';
import type { ConnectorContext } from '../kit/define-connector.ts';
import type { OAuthTokenStores } from '../kit/oauth-token-store.ts';
import type { InstanceConfig, StoreConfig } from '../config/schema.ts';
import type { RequestInfo } from '../http/http-client.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface BuildConnectorDeps {
  logger: Logger;
  metrics: Metrics;
  /** Where per-instance state that is not mirror data lives (rotated OAuth tokens); none: kept in memory. */
  stateDir?: string;
  /** Rotated OAuth tokens kept by a store shared by replicas (StoreBundle.oauthTokens); they win over `stateDir`. */
  oauthTokens?: OAuthTokenStores;
}

/**
 * Where a configuration keeps per-instance state: a state directory beside an embedded store's file, or, for a
 * shared store (its replicas share no disk), the rotating OAuth tokens its adapter keeps (`tokens`, from the opened
 * bundle or from `openOAuthTokens`). Every process that opens an instance (serve, sync, `mappings validate
 * --instance`) takes it from here, so they all find the same tokens.
 */
export function stateOf(store: StoreConfig, tokens: OAuthTokenStores | undefined): Pick<BuildConnectorDeps, 'stateDir' | 'oauthTokens'> {
  if (store.kind === 'sqlite') return { stateDir: dirname(store.path) };
  return tokens === undefined ? {} : { oauthTokens: tokens };
}

/** What a connector of `instance` is handed: its own logger, the request metrics, the state directory or the shared OAuth tokens. */
export function connectorContext(instance: InstanceConfig, deps: BuildConnectorDeps): ConnectorContext {
  const onRequest = (info: RequestInfo): void => {
    deps.metrics.upstreamRequests.inc({ instance: instance.id, method: info.method, status: String(info.status ?? info.code ?? 'error') });
    deps.metrics.upstreamDuration.observe({ instance: instance.id }, info.ms / 1000);
  };
  return {
    logger: deps.logger.child({ instance: instance.id }),
    onRequest,
    ...(deps.stateDir === undefined ? {} : { stateDir: deps.stateDir }),
    ...(deps.oauthTokens === undefined ? {} : { oauthTokens: deps.oauthTokens }),
  };
}

export function buildConnector(instance: InstanceConfig, registry: ConnectorRegistry, deps: BuildConnectorDeps): ConnectorInstance {
  return registry.get(instance.system).open(instance, connectorContext(instance, deps));
}
