// Assessments and enforcement records on MongoDB: one document each, kept
// unique by index ((change, revision, outcome) for assessments, (change,
// revision) for enforcements), ordered by a counter (mongo-counters.ts).

import type { Collection, Filter } from 'mongodb';
import type { Assessment } from '../../domain/assessment.ts';
import type { CanonicalState } from '../../domain/change.ts';
import {
  type AssessmentHistoryQuery,
  type AssessmentStore,
  compareForHistory,
  type EnforcementAction,
  type EnforcementHistoryQuery,
  type EnforcementMode,
  type EnforcementOutcome,
  type EnforcementRecord,
  type HistoryAssessment,
  type StoredAssessment,
} from '../assessment-store.ts';
import { type MongoConnection, isDuplicateKey } from './mongo-connection.ts';
import { nextSeq } from './mongo-counters.ts';

const WHAT = 'the MongoDB assessment store';

interface AssessmentDoc {
  seq: number;
  changeId: string;
  revision: number;
  policyVersion: string;
  outcomeHash: string;
  inputHash: string;
  evaluatedAt: string;
  wroteBack: boolean;
  /** JSON text: an assessment quotes source values, whose keys need not be valid field names. */
  json: string;
}

interface EnforcementDoc {
  /** `changeId\u0000revision`: one record per revision. */
  _id: string;
  changeId: string;
  revision: number;
  from: string;
  to: string;
  fromNative: string | null;
  toNative: string;
  mode: string;
  action: string;
  outcome: string;
  reasons: string[];
  policyVersion: string;
  idempotencyKey: string | null;
  observedAt: string;
  recordedAt: string;
  detail: string | null;
}

function toStored(d: AssessmentDoc): StoredAssessment {
  return {
    changeId: d.changeId,
    revision: d.revision,
    policyVersion: d.policyVersion,
    outcomeHash: d.outcomeHash,
    inputHash: d.inputHash,
    evaluatedAt: d.evaluatedAt,
    wroteBack: d.wroteBack,
    assessment: JSON.parse(d.json) as Assessment,
  };
}

function toRecord(d: EnforcementDoc): EnforcementRecord {
  return {
    changeId: d.changeId,
    revision: d.revision,
    from: d.from as CanonicalState,
    to: d.to as CanonicalState,
    fromNative: d.fromNative,
    toNative: d.toNative,
    mode: d.mode as EnforcementMode,
    action: d.action as EnforcementAction,
    outcome: d.outcome as EnforcementOutcome,
    reasons: d.reasons,
    policyVersion: d.policyVersion,
    idempotencyKey: d.idempotencyKey,
    observedAt: d.observedAt,
    recordedAt: d.recordedAt,
    detail: d.detail,
  };
}

export class MongoAssessmentStore implements AssessmentStore {
  readonly #conn: MongoConnection;
  readonly #assessments: Collection<AssessmentDoc>;
  readonly #enforcements: Collection<EnforcementDoc>;

  constructor(conn: MongoConnection) {
    this.#conn = conn;
    this.#assessments = conn.db.collection<AssessmentDoc>('assessments');
    this.#enforcements = conn.db.collection<EnforcementDoc>('enforcements');
  }

  static async ensureIndexes(conn: MongoConnection): Promise<void> {
    const a = conn.db.collection<AssessmentDoc>('assessments');
    const e = conn.db.collection<EnforcementDoc>('enforcements');
    await Promise.all([
      a.createIndex({ changeId: 1, revision: 1, outcomeHash: 1 }, { name: 'one_per_outcome', unique: true }),
      a.createIndex({ changeId: 1, seq: 1 }, { name: 'by_change' }),
      a.createIndex({ changeId: 1, evaluatedAt: 1, seq: 1 }, { name: 'history' }),
      e.createIndex({ idempotencyKey: 1 }, { name: 'by_key' }),
      e.createIndex({ changeId: 1, revision: 1 }, { name: 'by_change' }),
      e.createIndex({ changeId: 1, recordedAt: 1, revision: 1 }, { name: 'history' }),
    ]);
  }

  async saveAssessment(a: StoredAssessment): Promise<boolean> {
    return this.#run('saveAssessment', { changeId: a.changeId }, async () => {
      const seq = await nextSeq(this.#conn.db, 'assessments');
      try {
        await this.#assessments.insertOne({
          seq,
          changeId: a.changeId,
          revision: a.revision,
          policyVersion: a.policyVersion,
          outcomeHash: a.outcomeHash,
          inputHash: a.inputHash,
          evaluatedAt: a.evaluatedAt,
          wroteBack: a.wroteBack,
          json: JSON.stringify(a.assessment),
        });
        return true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // The stored one stands for this one (AssessmentStore.saveAssessment).
        await this.#assessments.updateOne(
          { changeId: a.changeId, revision: a.revision, outcomeHash: a.outcomeHash },
          { $set: { inputHash: a.inputHash, policyVersion: a.policyVersion, ...(a.wroteBack ? { wroteBack: true } : {}) } },
        );
        return false;
      }
    });
  }

  async latestAssessment(changeId: string): Promise<StoredAssessment | null> {
    return this.#run('latestAssessment', { changeId }, async () => {
      const doc = await this.#assessments.findOne({ changeId }, { sort: { seq: -1 } });
      return doc === null ? null : toStored(doc);
    });
  }

  async latestWrittenBack(changeId: string): Promise<StoredAssessment | null> {
    return this.#run('latestWrittenBack', { changeId }, async () => {
      const doc = await this.#assessments.findOne({ changeId, wroteBack: true }, { sort: { seq: -1 } });
      return doc === null ? null : toStored(doc);
    });
  }

  async listAssessments(changeId: string): Promise<StoredAssessment[]> {
    return this.#run('listAssessments', { changeId }, async () => (await this.#assessments.find({ changeId }).sort({ seq: 1 }).toArray()).map(toStored));
  }

  /**
   * The history orders two assessments at one instant by their revision as text (`"10"` before `"9"`), which no
   * index holds: the page is read by `evaluatedAt` alone, with every assessment at the cursor's instant and at the
   * page's last one read whole (a change has a handful at one instant), then put in the history's order. Each
   * instant it holds is then whole, so whether one of an assessment's revision was stored before it there is known.
   */
  async listAssessmentsForHistory(changeId: string, query: AssessmentHistoryQuery): Promise<HistoryAssessment[]> {
    const sign = query.order === 'asc' ? 1 : -1;
    const limit = Math.max(1, Math.trunc(query.limit));
    const after = query.after;
    return this.#run('listAssessmentsForHistory', { changeId }, async () => {
      const at = (evaluatedAt: string): Promise<AssessmentDoc[]> => this.#assessments.find({ changeId, evaluatedAt }).toArray();
      const beyond: Filter<AssessmentDoc> = after === undefined ? { changeId } : { changeId, evaluatedAt: { [sign === 1 ? '$gt' : '$lt']: after.evaluatedAt } };
      const page = await this.#assessments.find(beyond).sort({ evaluatedAt: sign, seq: sign }).limit(limit).toArray();
      const last = page.at(-1);
      // A full page may end part way through its last instant: that instant is read whole instead.
      const cut = page.length === limit && last !== undefined ? last.evaluatedAt : undefined;
      const [atCursor, atCut] = await Promise.all([after === undefined ? [] : at(after.evaluatedAt), cut === undefined ? [] : at(cut)]);
      const docs = [...page.filter((d) => d.evaluatedAt !== cut), ...atCut];
      const firstSeq = new Map<string, number>();
      for (const d of [...atCursor, ...docs]) {
        const spot = `${d.evaluatedAt} ${d.revision}`;
        firstSeq.set(spot, Math.min(d.seq, firstSeq.get(spot) ?? d.seq));
      }
      if (after !== undefined) {
        // A cursor without a seq stands on the first stored of its revision there (its id carries none).
        const position = { ...after, seq: after.seq ?? firstSeq.get(`${after.evaluatedAt} ${after.revision}`) ?? 0 };
        docs.unshift(...atCursor.filter((d) => sign * compareForHistory(d, position) > 0));
      }
      docs.sort((a, b) => sign * compareForHistory(a, b));
      return docs.slice(0, limit).map((d) => ({ ...toStored(d), seq: d.seq, repeat: firstSeq.get(`${d.evaluatedAt} ${d.revision}`) !== d.seq }));
    });
  }

  async countAssessments(changeId: string): Promise<number> {
    return this.#run('countAssessments', { changeId }, () => this.#assessments.countDocuments({ changeId }));
  }

  async recordEnforcement(r: EnforcementRecord): Promise<boolean> {
    return this.#run('recordEnforcement', { changeId: r.changeId, revision: r.revision }, async () => {
      try {
        await this.#enforcements.insertOne({
          _id: `${r.changeId}\u0000${r.revision}`,
          changeId: r.changeId,
          revision: r.revision,
          from: r.from,
          to: r.to,
          fromNative: r.fromNative,
          toNative: r.toNative,
          mode: r.mode,
          action: r.action,
          outcome: r.outcome,
          reasons: r.reasons,
          policyVersion: r.policyVersion,
          idempotencyKey: r.idempotencyKey,
          observedAt: r.observedAt,
          recordedAt: r.recordedAt,
          detail: r.detail,
        });
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    });
  }

  async settleEnforcement(idempotencyKey: string, outcome: EnforcementOutcome, detail: string | null): Promise<boolean> {
    return this.#run('settleEnforcement', { idempotencyKey }, async () => {
      const res = await this.#enforcements.updateMany({ idempotencyKey, outcome: 'pending' }, { $set: { outcome, detail } });
      return res.matchedCount > 0;
    });
  }

  async listEnforcements(changeId: string): Promise<EnforcementRecord[]> {
    return this.#run('listEnforcements', { changeId }, async () => (await this.#enforcements.find({ changeId }).sort({ revision: 1 }).toArray()).map(toRecord));
  }

  async listEnforcementsForHistory(changeId: string, query: EnforcementHistoryQuery): Promise<EnforcementRecord[]> {
    const dir = query.order === 'asc' ? 1 : -1;
    const beyond = query.order === 'asc' ? '$gt' : '$lt';
    const filter: Filter<EnforcementDoc> = { changeId };
    if (query.after !== undefined) {
      const { recordedAt, revision } = query.after;
      filter.$or = [{ recordedAt: { [beyond]: recordedAt } }, { recordedAt, revision: { [beyond]: revision } }];
    }
    const limit = Math.max(1, Math.trunc(query.limit));
    return this.#run('listEnforcementsForHistory', { changeId }, async () => (await this.#enforcements.find(filter).sort({ recordedAt: dir, revision: dir }).limit(limit).toArray()).map(toRecord));
  }

  async enforcementsOf(changeId: string, revisions: readonly number[]): Promise<EnforcementRecord[]> {
    if (revisions.length === 0) return [];
    return this.#run('enforcementsOf', { changeId }, async () => (await this.#enforcements.find({ changeId, revision: { $in: [...revisions] } }).sort({ revision: 1 }).toArray()).map(toRecord));
  }

  async countEnforcements(changeId: string): Promise<number> {
    return this.#run('countEnforcements', { changeId }, () => this.#enforcements.countDocuments({ changeId }));
  }

  async close(): Promise<void> {
    // The client is the bundle's, closed once by the adapter.
  }

  #run<T>(op: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    return this.#conn.run(WHAT, op, details, fn);
  }
}
