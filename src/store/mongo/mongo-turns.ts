// Who wins a contested claim, decided by a unique key rather than by a
// conditional update. MongoDB applies a find-and-modify atomically, so two
// replicas racing for one due item cannot both take it; FerretDB (the tests'
// server, and a deployment choice for some) matches and then writes without
// isolating the two, so both can. An insert into a primary key is atomic on
// every server: the claimant that first inserts the turn `(item, next
// attempt)` is the one that takes the item; the other gets a duplicate key and
// moves on. Attempts only grow, so each claim of an item has a turn of its own.
// Turns are forgotten when their item settles, or, for a lock, as soon as
// its document moved (mongo-run-locks.ts).
//
// A claimant writes the item right after it takes the turn. One killed between
// the two leaves a turn no attempt ever follows, and its item would wait for
// that turn forever; a turn asked for again after ABANDONED_TURN_MS is taken
// to be such a one and handed to the asker (one asker: the stale turn is
// deleted by its time, then inserted again by primary key).

import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './mongo-connection.ts';

/** Far longer than a live claimant takes between its turn and its write (one round trip). */
export const ABANDONED_TURN_MS = 30_000;

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
  async take(item: string, attempt: number, now: Date = new Date()): Promise<boolean> {
    const _id = `${item}\u0000${attempt}`;
    if (await this.#insert({ _id, item, at: now })) return true;
    const held = await this.#turns.findOne({ _id });
    if (held === null || now.getTime() - held.at.getTime() < ABANDONED_TURN_MS) return false;
    if ((await this.#turns.deleteOne({ _id, at: held.at })).deletedCount !== 1) return false;
    return this.#insert({ _id, item, at: now });
  }

  async #insert(turn: TurnDoc): Promise<boolean> {
    try {
      await this.#turns.insertOne(turn);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /** Forgets one turn: for a claimant whose write now refuses, by itself, whoever took the turn after it. */
  async forgetTurn(item: string, attempt: number): Promise<void> {
    await this.#turns.deleteOne({ _id: `${item}\u0000${attempt}` });
  }

  async forget(items: readonly string[]): Promise<void> {
    if (items.length > 0) await this.#turns.deleteMany({ item: { $in: [...items] } });
  }
}
