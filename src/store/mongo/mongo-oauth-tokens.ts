// Rotating OAuth 2.0 tokens on MongoDB, for replicas that share no disk (the
// token file of an embedded store has no counterpart there). One document per
// instance in `oauth_tokens` holds the newest token set of its grant, with a
// version that only grows; a holder refreshes under a lease in
// `oauth_token_leases` (the run-lock documents of mongo-run-locks.ts, which
// lapse after OAUTH_REFRESH_WINDOW_MS if their holder dies), so one replica
// refreshes at a time and the others, waiting for the lease, find the rotated
// tokens when they get it.
//
// A save is a compare-and-swap: it goes through only while the document still
// holds the refresh token that was spent, and moves the version from n to n+1
// by winning the turn n+1 first (mongo-turns.ts: a conditional update alone is
// not isolated on FerretDB), so a holder whose lease lapsed never writes over a
// newer save. Only single-document operations, as every port here.
//
// The tokens are secrets: they are never part of a filter or an error's
// details (ids are instance ids, versions are numbers), so no server log or
// changegate log line carries them; the document itself is as sensitive as the
// client secret in the configuration.

import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Collection } from 'mongodb';
import { OAUTH_REFRESH_WINDOW_MS, type OAuthTokens, type OAuthTokenStore, type OAuthTokenStores } from '../../kit/oauth-token-store.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';
import { MongoRunLocks } from './mongo-run-locks.ts';
import { MongoTurns } from './mongo-turns.ts';

export const OAUTH_TOKENS_COLLECTION = 'oauth_tokens';
const LEASES_COLLECTION = 'oauth_token_leases';
const WHAT = 'the MongoDB OAuth token store';
/** How often a holder waiting for the lease asks again: a refresh is one round trip to Atlassian, usually well under a second. */
const LEASE_POLL_MS = 100;

interface TokenDoc extends OAuthTokens {
  /** The instance. */
  _id: string;
  /** sha256 of the configured refresh token these tokens descend from (never the token itself). */
  configured: string;
  /** 1, 2, 3 … per save. */
  version: number;
  rotatedAt: Date;
}

const fingerprint = (token: string): string => createHash('sha256').update(token).digest('hex');

export class MongoOAuthTokenStores implements OAuthTokenStores {
  readonly #conn: MongoConnection;
  readonly #docs: Collection<TokenDoc>;
  readonly #leases: MongoRunLocks;
  readonly #turns: MongoTurns;

  constructor(conn: MongoConnection) {
    this.#conn = conn;
    this.#docs = conn.db.collection<TokenDoc>(OAUTH_TOKENS_COLLECTION);
    this.#leases = new MongoRunLocks(conn, LEASES_COLLECTION);
    this.#turns = new MongoTurns(conn.db);
  }

  open(instanceId: string, configuredRefreshToken: string): OAuthTokenStore {
    const configured = fingerprint(configuredRefreshToken);
    const details = { instance: instanceId, collection: OAUTH_TOKENS_COLLECTION };
    const run = <T>(op: string, fn: () => Promise<T>): Promise<T> => this.#conn.run(WHAT, op, details, fn);
    /** The instance's document, and whether it holds this grant's tokens (not an earlier grant's). */
    const load = async (): Promise<{ doc: TokenDoc | null; ours: boolean }> => {
      const doc = await this.#docs.findOne({ _id: instanceId });
      return { doc, ours: doc !== null && doc.configured === configured && typeof doc.refreshToken === 'string' };
    };
    return {
      where: `the MongoDB collection ${OAUTH_TOKENS_COLLECTION}`,
      details: { collection: OAUTH_TOKENS_COLLECTION },
      read: () =>
        run('read', async () => {
          const { doc, ours } = await load();
          return ours && doc !== null ? tokensOf(doc) : null;
        }),
      replace: (spent, tokens) =>
        run('replace', async () => {
          const { doc, ours } = await load();
          // Tokens saved for an earlier grant (another configured token) are replaced by this grant's first.
          const held = ours && doc !== null ? doc.refreshToken : configuredRefreshToken;
          if (held !== spent) return false;
          const body = { ...tokensOf(tokens), configured, rotatedAt: new Date() };
          if (doc === null) {
            try {
              await this.#docs.insertOne({ _id: instanceId, ...body, version: 1 });
              return true;
            } catch (err) {
              if (isDuplicateKey(err)) return false;
              throw err;
            }
          }
          const turn = `${OAUTH_TOKENS_COLLECTION}:${instanceId}`;
          if (!(await this.#turns.take(turn, doc.version + 1))) return false;
          const saved = await this.#docs.replaceOne({ _id: instanceId, version: doc.version }, { ...body, version: doc.version + 1 });
          // The version itself refuses any later writer that read an older one: the turns have done their part.
          if (saved.matchedCount === 1) await this.#turns.forget([turn]);
          return saved.matchedCount === 1;
        }),
      locked: async (fn) => {
        const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
        let lease = await run('lock', () => this.#leases.acquire(instanceId, holder, OAUTH_REFRESH_WINDOW_MS, new Date()));
        while (lease === null) {
          await sleep(LEASE_POLL_MS + Math.random() * LEASE_POLL_MS);
          lease = await run('lock', () => this.#leases.acquire(instanceId, holder, OAUTH_REFRESH_WINDOW_MS, new Date()));
        }
        const taken = lease;
        try {
          return await fn();
        } finally {
          // A release that fails (the store gone) leaves the lease to lapse: the next holder waits for it, no longer.
          await this.#leases.release(taken).catch(() => false);
        }
      },
    };
  }
}

function tokensOf(from: OAuthTokens): OAuthTokens {
  return {
    refreshToken: from.refreshToken,
    ...(typeof from.accessToken === 'string' ? { accessToken: from.accessToken } : {}),
    ...(typeof from.expiresAt === 'number' ? { expiresAt: from.expiresAt } : {}),
  };
}
