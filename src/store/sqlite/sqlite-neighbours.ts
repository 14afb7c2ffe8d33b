// The neighbour lookup behind `listActiveChangesTouching`: the active changes
// that share a service or CI with one change and whose planned window overlaps
// its own, most recently updated first, at most a limit. The overlap gate asks
// it on every assessment and validation into authorize.
//
// Answered from `change_refs` (see change-refs.ts and the schema), whose rows
// are kept in answer order under each (ref, day), and under each ref alone by
// the `change_refs_by_ref_recent` index. First one statement probes every
// shared ref and day for at most limit + 1 distinct matches: most lookups find
// fewer, which are then the answer (sorted here). When there are more, a
// second statement reads, for each shared ref (and day), its rows most recent
// first, the window checked on the row itself, and SQLite merges them as a
// UNION (a change under several refs or days is one row) in that order,
// stopping at the limit: no sort of all matches. Either way about `limit` rows
// per ref and day are read past one seek each, however many changes a busy CI
// carries, and only the changes returned are read whole (through the read
// cache). Rows of a shared day whose window misses this one are skipped in the
// walk, read from the key alone. `views` answers the same with only what the
// overlap gate reads of each change (`NeighbourChange`), extracted by SQLite
// from the stored core and kept apart from the cores (mirror-read-cache.ts).

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { CanonicalState, Change, NeighbourChange, Ref } from '../../domain/change.ts';
import type { IndexedQuery, TouchingQuery } from '../change-store.ts';
import { ANY_DAY, INDEX_ONLY, NO_WINDOW, refKey, windowDays } from '../change-refs.ts';
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
    WHERE instance = ?1 AND ref = ?${at} AND day <> ${INDEX_ONLY} AND change_id <> ?4`,
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
  /** What the overlap gate reads of a change (NeighbourChange), as one JSON array: SQLite walks the core, the caller parses a seventh of it. */
  readonly #viewOf: StatementSync;
  /** Statements per kind and number of arms, prepared on first use. */
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, cache: MirrorReadCache, core: (id: string) => Change | undefined) {
    this.#db = db;
    this.#cache = cache;
    this.#core = core;
    this.#viewOf = db.prepare(`SELECT instance, json_extract(json, '$.key', '$.state', '$.plannedStart', '$.plannedEnd', '$.services', '$.cis') AS fields FROM change_cores WHERE id = ?`);
  }

  /** `limit` already clamped by the store. */
  find(query: TouchingQuery, limit: number): Change[] {
    return this.#answer('touching', query, limit, this.#core);
  }

  /** The same changes as `find`, as neighbour views. */
  views(query: TouchingQuery, limit: number): NeighbourChange[] {
    return this.#answer('views', query, limit, (id) => this.#view(id));
  }

  /** What the overlap gate reads of a change by id: from the read cache, or extracted by SQLite and parsed once into it; undefined when the mirror lacks it. */
  #view(id: string): NeighbourChange | undefined {
    const cached = this.#cache.viewById(id);
    if (cached !== undefined) return cached;
    const row = this.#viewOf.get(id) as { instance: string; fields: string } | undefined;
    if (row === undefined) return undefined;
    const [key, state, plannedStart, plannedEnd, services, cis] = JSON.parse(row.fields) as [string, CanonicalState, string | null, string | null, Ref[], Ref[]];
    return this.#cache.addView({ id, instance: row.instance, key, state, plannedStart, plannedEnd, services, cis }, row.fields.length);
  }

  #answer<T>(what: string, query: TouchingQuery, limit: number, read: (id: string) => T | undefined): T[] {
    const refs = [...new Set(query.refs.map(refKey))].filter((k) => k !== '');
    const window = query.plannedOverlap;
    const days = window === undefined ? null : windowDays(window.start, window.end);
    if (refs.length === 0 || days?.[0] === NO_WINDOW) return [];
    // Unused by the `any` arms: bound all the same, so every kind takes the same first parameters.
    const shared = [query.instance, window === undefined ? '' : instantKey(window.end), window === undefined ? '' : instantKey(window.start), query.excludeId ?? '', limit];
    const onDays = days === null || days[0] === ANY_DAY ? [] : [...days, ANY_DAY];
    const kind: ArmKind = window === undefined ? 'any' : onDays.length === 0 ? 'windowed' : 'day';
    this.#cache.refresh();
    // Every validation of a change into authorize asks the same: answered once while the mirror is unchanged.
    const key = `${what}:${kind}\u0000${shared.join('\u0000')}\u0001${refs.join('\u0000')}\u0001${onDays.join('\u0000')}`;
    return this.#cache.lookup(key, () =>
      this.#query(kind, shared, refs, onDays, limit)
        .map(read)
        .filter((c) => c !== undefined),
    ) as T[];
  }

  /**
   * The changes under any of the index keys (change-refs.ts `changeIndexKeys`),
   * most recent first up to `limit`: per key an ordered walk of the primary key
   * (instance, key, INDEX_ONLY) stopping at the limit, merged.
   */
  indexed(query: IndexedQuery, limit: number): Change[] {
    const keys = [...new Set(query.keys)].filter((k) => k !== '');
    if (keys.length === 0) return [];
    this.#cache.refresh();
    let stmt = this.#statements.get('indexed');
    if (stmt === undefined) {
      stmt = this.#db.prepare(`SELECT updated_at, change_id FROM change_refs WHERE instance = ? AND ref = ? AND day = ${INDEX_ONLY} ORDER BY updated_at DESC, change_id LIMIT ?`);
      stmt.setReturnArrays(true);
      this.#statements.set('indexed', stmt);
    }
    const walk = stmt;
    const streams = keys.map((key) => (walk.all(query.instance, key, limit) as unknown as RecentRow[])[Symbol.iterator]());
    return mergeMostRecent(streams, limit)
      .map((id) => this.#core(id))
      .filter((c) => c !== undefined);
  }

  /** The ids of the answer, in its order. */
  #query(kind: ArmKind, shared: readonly (string | number)[], refs: readonly string[], onDays: readonly number[], limit: number): string[] {
    // Most lookups match fewer changes than the limit: one statement finds them all (or says there are more) at the cost of what it finds.
    const few = this.#fewStatement(kind, refs.length, onDays.length).all(...shared.slice(0, 4), limit + 1, ...refs, ...onDays) as unknown as RecentRow[];
    let ids: string[];
    if (few.length <= limit) {
      ids = few.toSorted(byRecency).map((row) => row[1]);
    } else {
      // More than the limit: the walks in answer order, merged, stop at it.
      // A long window is indexed under ANY_DAY alone: every short window reads that bucket too (it is in onDays).
      const arms: (string | number)[][] = kind === 'day' ? refs.flatMap((ref) => onDays.map((day) => [ref, day])) : refs.map((ref) => [ref]);
      const answers: RecentRow[][] = [];
      for (let at = 0; at < arms.length; at += MAX_ARMS) {
        const chunk = arms.slice(at, at + MAX_ARMS);
        answers.push(this.#statement(kind, chunk.length).all(...shared, ...chunk.flat()) as unknown as RecentRow[]);
      }
      ids = answers.length === 1 ? (answers[0] as RecentRow[]).map((row) => row[1]) : mergeMostRecent(answers.map((rows) => rows[Symbol.iterator]()), limit);
    }
    return ids;
  }

  /**
   * Every match (distinct, unordered) under `refCount` refs on `dayCount` days
   * (0: any day), up to ?5 rows: placeholders spelled out per shape, so SQLite
   * probes the key for each ref and day directly.
   */
  #fewStatement(kind: ArmKind, refCount: number, dayCount: number): StatementSync {
    const key = `few:${kind}:${refCount}:${dayCount}`;
    let stmt = this.#statements.get(key);
    if (stmt === undefined) {
      const refsIn = Array.from({ length: refCount }, (_, i) => `?${SHARED + 1 + i}`).join(', ');
      const daysIn = Array.from({ length: dayCount }, (_, i) => `?${SHARED + 1 + refCount + i}`).join(', ');
      const where = { day: `AND day IN (${daysIn}) AND planned_start < ?2 AND planned_end > ?3`, windowed: `AND day <> ${NO_WINDOW} AND planned_start < ?2 AND planned_end > ?3`, any: `AND day <> ${INDEX_ONLY}` }[kind];
      stmt = this.#db.prepare(`SELECT DISTINCT updated_at, change_id FROM change_refs WHERE instance = ?1 AND ref IN (${refsIn}) ${where} AND change_id <> ?4 LIMIT ?5`);
      stmt.setReturnArrays(true);
      this.#statements.set(key, stmt);
    }
    return stmt;
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

/** Most recently updated first, then by id: the order the walks give. */
function byRecency(a: RecentRow, b: RecentRow): number {
  if (a[0] !== b[0]) return a[0] > b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

/** The statement for `arms` arms of one kind: exported so a test can hold its plan to an ordered index walk. */
export function neighbourSql(kind: ArmKind, arms: number): string {
  const union = Array.from({ length: arms }, (_, i) => ARM_SQL[kind](SHARED + 1 + i * ARM_PARAMS[kind])).join('\n    UNION ');
  return `${union}\n    ORDER BY updated_at DESC, change_id LIMIT ?5`;
}
