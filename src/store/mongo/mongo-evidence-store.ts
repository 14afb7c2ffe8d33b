// The evidence ledger on MongoDB: one document per entry, its _id the change
// and position (`<changeId>#<seq>`), so two replicas appending to one change at
// once cannot both take the same position: the loser's insert is refused by the
// primary key, and it reads the new head and chains after it. A unique index on
// (changeId, dedupeKey) keeps a replayed append single. Documents are only inserted.

import type { Collection } from 'mongodb';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../evidence/evidence-entry.ts';
import type { EvidenceStore } from '../evidence-store.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';

const WHAT = 'the MongoDB evidence ledger';
/** Enough for any real contention on one change; past it the append fails rather than spin. */
const MAX_TRIES = 50;

interface EvidenceDoc {
  _id: string;
  changeId: string;
  seq: number;
  dedupeKey: string;
  at: string;
  /** The entry as JSON text: payload keys need not be valid field names. */
  json: string;
}

export class MongoEvidenceStore implements EvidenceStore {
  readonly #conn: MongoConnection;
  readonly #entries: Collection<EvidenceDoc>;

  constructor(conn: MongoConnection) {
    this.#conn = conn;
    this.#entries = conn.db.collection<EvidenceDoc>('evidence');
  }

  static async ensureIndexes(conn: MongoConnection): Promise<void> {
    const entries = conn.db.collection<EvidenceDoc>('evidence');
    await entries.createIndex({ changeId: 1, dedupeKey: 1 }, { unique: true, name: 'evidence_dedupe' });
    await entries.createIndex({ changeId: 1, seq: 1 }, { name: 'evidence_chain' });
    await entries.createIndex({ at: 1, changeId: 1 }, { name: 'evidence_by_time' });
  }

  async append(changeId: string, draft: EvidenceDraft, dedupeKey: string): Promise<{ entry: EvidenceEntry; appended: boolean }> {
    return this.#conn.run(WHAT, 'appendEvidence', { changeId }, async () => {
      for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
        const known = await this.#entries.findOne({ changeId, dedupeKey });
        if (known !== null) return { entry: JSON.parse(known.json) as EvidenceEntry, appended: false };
        const head = await this.#entries.find({ changeId }).sort({ seq: -1 }).limit(1).next();
        const previous = head === null ? null : (JSON.parse(head.json) as EvidenceEntry);
        const entry = chainEntry(changeId, previous, draft);
        try {
          await this.#entries.insertOne({ _id: `${changeId}#${entry.seq}`, changeId, seq: entry.seq, dedupeKey, at: entry.at, json: JSON.stringify(entry) });
          return { entry, appended: true };
        } catch (err) {
          // Another writer took this position (or recorded the same key): read again and chain after it.
          if (!isDuplicateKey(err)) throw err;
        }
      }
      throw new Error(`could not append to the evidence of ${changeId}: the position was taken ${MAX_TRIES} times in a row`);
    });
  }

  async list(changeId: string): Promise<EvidenceEntry[]> {
    return this.#conn.run(WHAT, 'listEvidence', { changeId }, async () =>
      (await this.#entries.find({ changeId }).sort({ seq: 1 }).toArray()).map((d) => JSON.parse(d.json) as EvidenceEntry),
    );
  }

  async changesWithEntries(query: { since: string; until: string }): Promise<string[]> {
    return this.#conn.run(WHAT, 'changesWithEvidence', {}, async () => ((await this.#entries.distinct('changeId', { at: { $gte: query.since, $lt: query.until } })) as string[]).toSorted());
  }

  async close(): Promise<void> {
    // The connection is the bundle's; closing it closes every port.
  }
}
