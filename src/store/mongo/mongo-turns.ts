// Who wins a contested claim, decided by a unique key rather than by a
// conditional update. MongoDB applies a find-and-modify atomically, so two
// replicas racing for one due item cannot both take it; FerretDB (the tests'
// server, and a deployment choice for some) matches and then writes without
// isolating the two, so both can. An insert into a primary key is atomic on
// every server: the claimant that first inserts the turn `(item, next
// attempt)` is the one that takes the item; the other gets a duplicate key and
// moves on. Attempts only grow, so each claim of an item has a turn of its own.
// Turns are forgotten when their item settles.

import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './mongo-connection.ts';

interface TurnDoc {
  /** `item\u0000attempt`. */
  _id: string;
  item: string;
  at: Date;
}

export class MongoTurns {
  readonly #turns: Collection<TurnDoc>;

  constructor(db: Db) {
    this.#turns = db.collection<TurnDoc>('claim_turns');
  }

  static async ensureIndexes(db: Db): Promise<void> {
    await db.collection<TurnDoc>('claim_turns').createIndex({ item: 1 }, { name: 'by_item' });
  }

  /** True for the one caller that takes attempt `attempt` of `item`. */
  async take(item: string, attempt: number): Promise<boolean> {
    try {
      await this.#turns.insertOne({ _id: `${item}\u0000${attempt}`, item, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async forget(items: readonly string[]): Promise<void> {
    if (items.length > 0) await this.#turns.deleteMany({ item: { $in: [...items] } });
  }
}
