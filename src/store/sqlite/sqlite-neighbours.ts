// The neighbour lookup behind `listActiveChangesTouching`: the active changes
// that share a service or CI with one change and whose planned window overlaps
// its own, most recently updated first, at most a limit. The overlap gate asks
// it on every assessment and validation into authorize.
//
// Answered from `change_refs` (see change-refs.ts and the schema), whose rows
// are kept in answer order under each (ref, day), and under each ref alone by
// the `change_refs_by_ref_recent` index. One statement reads, for each shared
// ref (and day of the window), its rows most recent first, the window checked
// on the row itself, and SQLite merges them as a UNION (a change under several
// refs or days is one row) in that same order, stopping at the limit: no sort,
// and only about `limit` rows read past one seek per ref and day, however many
// changes a busy CI carries. Only the changes returned are read whole (through
// the read cache). Rows of a shared day whose window misses this one are
// skipped in the walk, read from the key alone.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Change } from '../../domain/change.ts';
import type { TouchingQuery } from '../change-store.ts';
import { ANY_DAY, NO_WINDOW, refKey, windowDays } from '../change-refs.ts';
import { instantKey } from '../instant-key.ts';
import type { MirrorReadCache } from '../mirror-read-cache.ts';
import { mergeMostRecent, type RecentRow } from '../recent-merge.ts';

/** Which rows one arm reads: one day of a ref, every windowed day of a ref (a long window), or all of a ref (no window). */
export type ArmKind = 'day' | 'windowed' | 'any';

/** Parameters every arm shares (?1..?4), then the limit (?5); each arm's own follow. */
const SHARED = 5;
const ARM_SQL: Record<ArmKind, (at: number) => string> = {
  day: (at) => `SELECT DISTINCT updated_at, change_id FROM change_refs
    WHERE instance = ?1 AND ref = ?${at} AND day = ?${at + 1} AND planned_start < ?2 AND planned_end > ?3 AND change_id <> ?4`,
  windowed: (at) => `SELECT DISTINCT updated_at, change_id FROM change_refs INDEXED BY change_refs_by_ref_recent
    WHERE instance = ?1 AND ref = ?${at} AND day <> ${NO_WINDOW} AND planned_start < ?2 AND planned_end > ?3 AND change_id <> ?4`,
  any: (at) => `SELECT DISTINCT updated_at, change_id FROM change_refs INDEXED BY change_refs_by_ref_recent
    WHERE instance = ?1 AND ref = ?${at} AND change_id <> ?4`,
};
const ARM_PARAMS: Record<ArmKind, number> = { day: 2, windowed: 1, any: 1 };

/**
 * Arms in one statement at most: a change naming a service and a CI (four refs
 * by id and name) over a day or two needs a dozen. One naming more refs × days
 * is answered by several statements, each up to the limit, whose answers are
 * merged in the same order (recent-merge.ts); a statement per shape stays small.
 */
const MAX_ARMS = 16;

export class SqliteNeighbours {
  readonly #db: DatabaseSync;
  readonly #cache: MirrorReadCache;
  /** A change without its payload by id, through the read cache; undefined when the mirror lacks it. */
  readonly #core: (id: string) => Change | undefined;
  /** Statements per kind and number of arms, prepared on first use. */
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, cache: MirrorReadCache, core: (id: string) => Change | undefined) {
    this.#db = db;
    this.#cache = cache;
    this.#core = core;
  }

  /** `limit` already clamped by the store. */
  find(query: TouchingQuery, limit: number): Change[] {
    const refs = [...new Set(query.refs.map(refKey))].filter((k) => k !== '');
    const window = query.plannedOverlap;
    const days = window === undefined ? null : windowDays(window.start, window.end);
    if (refs.length === 0 || days?.[0] === NO_WINDOW) return [];
    // Unused by the `any` arms: bound all the same, so every kind takes the same first parameters.
    const shared = [query.instance, window === undefined ? '' : instantKey(window.end), window === undefined ? '' : instantKey(window.start), query.excludeId ?? '', limit];
    let kind: ArmKind;
    let arms: (string | number)[][];
    if (window === undefined) [kind, arms] = ['any', refs.map((ref) => [ref])];
    else if (days?.[0] === ANY_DAY) [kind, arms] = ['windowed', refs.map((ref) => [ref])];
    // A long window is indexed under ANY_DAY alone: every short window reads that bucket too.
    else [kind, arms] = ['day', refs.flatMap((ref) => [...(days ?? []), ANY_DAY].map((day) => [ref, day]))];
    this.#cache.refresh();
    // Every validation of a change into authorize asks the same: answered once while the mirror is unchanged.
    const key = `touching:${kind}\u0000${shared.join('\u0000')}\u0001${arms.map((arm) => arm.join('\u0000')).join('\u0001')}`;
    return this.#cache.lookup(key, () => this.#query(kind, shared, arms, limit)) as Change[];
  }

  #query(kind: ArmKind, shared: readonly (string | number)[], arms: readonly (string | number)[][], limit: number): Change[] {
    const answers: RecentRow[][] = [];
    for (let at = 0; at < arms.length; at += MAX_ARMS) {
      const chunk = arms.slice(at, at + MAX_ARMS);
      answers.push(this.#statement(kind, chunk.length).all(...shared, ...chunk.flat()) as unknown as RecentRow[]);
    }
    const ids = answers.length === 1 ? (answers[0] as RecentRow[]).map((row) => row[1]) : mergeMostRecent(answers.map((rows) => rows[Symbol.iterator]()), limit);
    return ids.map((id) => this.#core(id)).filter((c) => c !== undefined);
  }

  /** `arms` arms of one kind as one UNION, most recent first up to ?5 (rows as [updated_at, change_id] arrays). */
  #statement(kind: ArmKind, arms: number): StatementSync {
    const key = `${kind}:${arms}`;
    let stmt = this.#statements.get(key);
    if (stmt === undefined) {
      stmt = this.#db.prepare(neighbourSql(kind, arms));
      stmt.setReturnArrays(true);
      this.#statements.set(key, stmt);
    }
    return stmt;
  }
}

/** The statement for `arms` arms of one kind: exported so a test can hold its plan to an ordered index walk. */
export function neighbourSql(kind: ArmKind, arms: number): string {
  const union = Array.from({ length: arms }, (_, i) => ARM_SQL[kind](SHARED + 1 + i * ARM_PARAMS[kind])).join('\n    UNION ');
  return `${union}\n    ORDER BY updated_at DESC, change_id LIMIT ?5`;
}
