// Where a connector keeps the tokens of an OAuth 2.0 grant whose refresh token
// rotates (each refresh returns a new one and spends the one sent), shared by
// every process holding the grant: the service's replicas, `sync`, `mappings
// validate --instance`. Every holder refreshes inside `locked`, starting from
// what `read` answers, and saves with `replace`, which refuses when the store no
// longer holds the refresh token that was spent. So no two holders present one
// refresh token, and tokens saved late never overwrite newer ones.
//
// Two adapters: a file beside an embedded store's database (its state
// directory, connectors/jira/oauth-token-file.ts) and, for a store shared by
// replicas on several hosts, a document in that store (the MongoDB adapter's
// mongo-oauth-tokens.ts), which the composition root hands the connector as
// `ConnectorContext.oauthTokens`.

export interface OAuthTokens {
  refreshToken: string;
  accessToken?: string;
  /** Epoch milliseconds. */
  expiresAt?: number;
}

/**
 * How long a holder may keep `locked` before another holder takes it over (a holder that died, or one paused past
 * it). Whatever a holder does inside must end well within it: its token requests have deadlines for that.
 */
export const OAUTH_REFRESH_WINDOW_MS = 60_000;

export interface OAuthTokenStore {
  /** Where the tokens live, for messages ("the token file …", "the MongoDB collection …"). */
  where: string;
  /** The same, as error details (`{ file }`, `{ collection }`). */
  details: Record<string, unknown>;
  /** The newest tokens of the grant, or null when there are none for the configured refresh token (none saved yet, or saved for an earlier grant). */
  read(): Promise<OAuthTokens | null>;
  /**
   * Saves `tokens`, rotated from the refresh token `spent`, only if the store still holds `spent` (the configured
   * token while it holds none for this grant); false, writing nothing, when another holder saved newer ones meanwhile.
   */
  replace(spent: string, tokens: OAuthTokens): Promise<boolean>;
  /** Runs `fn` while no other holder of the grant (in this process or another) runs its own; waits for its turn. */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

/** The token stores of a store shared by several processes, one per grant. */
export interface OAuthTokenStores {
  /** The store of the instance's grant; tokens saved for another configured refresh token (an earlier grant) are not this one's. */
  open(instanceId: string, configuredRefreshToken: string): OAuthTokenStore;
}
