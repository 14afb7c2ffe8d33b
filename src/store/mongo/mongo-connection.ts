// One MongoDB client shared by every port of a bundle, and the way each port
// runs an operation on it. The driver retries a read or a write once across a
// primary step-down or a dropped connection (retryable reads and writes, on by
// default); what still fails is answered here in the store's vocabulary:
// an unreachable server CG_STORE_UNAVAILABLE (and the health check is told at
// once), anything else CG_STORE_FAILED. Nothing here spans documents: every
// operation the ports run is atomic on one document.

import { MongoClient, MongoNetworkError, MongoServerSelectionError, type Db } from 'mongodb';
import { ChangegateError } from '../../errors.ts';
import { STORE_FAULT_TEXT } from '../store-health.ts';

/** How long an operation waits for a usable server before it fails (a webhook then answers 503). */
export const DEFAULT_SERVER_SELECTION_MS = 5_000;

export interface MongoConnectionOptions {
  serverSelectionTimeoutMS?: number;
}

export class MongoConnection {
  readonly client: MongoClient;
  readonly db: Db;
  readonly #faultListeners: (() => void)[] = [];

  private constructor(client: MongoClient, db: Db) {
    this.client = client;
    this.db = db;
  }

  static async open(uri: string, database: string, options: MongoConnectionOptions = {}): Promise<MongoConnection> {
    let client: MongoClient;
    try {
      client = new MongoClient(uri, {
        serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? DEFAULT_SERVER_SELECTION_MS,
        retryReads: true,
        retryWrites: true,
        // Majority: an acknowledged write survives the loss of the primary that took it.
        writeConcern: { w: 'majority' },
      });
    } catch (err) {
      // The driver parses the connection string here (an unknown option, a malformed host): the operator's to fix, named as such.
      // Its message names the part it refused, never the URI, which may carry a password.
      throw new ChangegateError('CG_CONFIG_INVALID', `store.uri: the MongoDB driver refused the connection string: ${messageOf(err)}`, {
        cause: err,
        details: { field: 'store.uri', database },
      });
    }
    try {
      await client.connect();
      return new MongoConnection(client, client.db(database));
    } catch (err) {
      await client.close().catch(() => undefined);
      // The URI may carry a password: the message names the database, never the URI.
      throw new ChangegateError('CG_STORE_UNAVAILABLE', `cannot reach the MongoDB store (database ${database}): ${messageOf(err)}`, {
        cause: err,
        details: { reason: 'unreachable', database },
      });
    }
  }

  onFault(listener: () => void): void {
    this.#faultListeners.push(listener);
  }

  /** Runs one operation of a port; errors of the vocabulary pass through. */
  async run<T>(what: string, op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ChangegateError) throw err;
      if (isUnreachable(err)) {
        for (const listener of this.#faultListeners) listener();
        throw new ChangegateError('CG_STORE_UNAVAILABLE', `${what}: ${op} failed: ${STORE_FAULT_TEXT.unreachable} (${messageOf(err)})`, {
          cause: err,
          details: { ...details, op, reason: 'unreachable' },
        });
      }
      throw new ChangegateError('CG_STORE_FAILED', `${what}: ${op} failed: ${messageOf(err)}`, { cause: err, details: { ...details, op } });
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export function isUnreachable(err: unknown): boolean {
  return err instanceof MongoNetworkError || err instanceof MongoServerSelectionError;
}

/** A duplicate key (E11000): the unique index refused a second copy. */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 11000;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
