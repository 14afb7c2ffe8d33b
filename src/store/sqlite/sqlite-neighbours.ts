// The neighbour lookup behind `listActiveChangesTouching`: the active changes
// that share a service or CI with one change and whose planned window overlaps
// its own, most recently updated first, at most a limit. The overlap gate asks
// it on every assessment and validation into authorize.
//
// Answered from `change_refs` (see change-refs.ts and the schema), whose rows
// are kept in answer order under each (ref, day), and under each ref alone by
// the `change_refs_by_ref_recent` index: for each shared ref (and day of the
// window) one statement walks its rows most recent first, the window checked
// on the row itself, and a bounded merge (recent-merge.ts) takes the first
// `limit` distinct changes and stops. Only those are read whole (through the
// read cache). A lookup so reads about `limit` index rows plus one seek per
// stream, however many changes a busy CI carries; rows of a shared day whose
// window misses this one are skipped in the walk, read from the index alone.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Change } from '../../domain/change.ts';
import type { TouchingQuery } from '../change-store.ts';
import { ANY_DAY, NO_WINDOW, refKey, windowDays } from '../change-refs.ts';
import { instantKey } from '../instant-key.ts';
import type { MirrorReadCache } from '../mirror-read-cache.ts';
import { mergeMostRecent, type RecentRow } from '../recent-merge.ts';

/** Which rows one stream walks: one day of a ref, every windowed day of a ref (a long window), or all of a ref (no window). */
type StreamKind = 'day' | 'windowed' | 'any';

const ORDER = 'ORDER BY updated_at DESC, change_id';
const STREAM_SQL: Record<StreamKind, string> = {
  day: `SELECT updated_at, change_id FROM change_refs
    WHERE instance = ? AND ref = ? AND day = ? AND planned_start < ? AND planned_end > ? AND change_id <> ? ${ORDER}`,
  windowed: `SELECT updated_at, change_id FROM change_refs INDEXED BY change_refs_by_ref_recent
    WHERE instance = ? AND ref = ? AND day <> ${NO_WINDOW} AND planned_start < ? AND planned_end > ? AND change_id <> ? ${ORDER}`,
  any: `SELECT updated_at, change_id FROM change_refs INDEXED BY change_refs_by_ref_recent
    WHERE instance = ? AND ref = ? AND change_id <> ? ${ORDER}`,
};

/**
 * Statements kept per kind: a change naming a few services and CIs over a day
 * or two opens a dozen streams. A rare change with more prepares the rest per
 * lookup rather than keeping hundreds.
 */
const POOLED_PER_KIND = 64;

export class SqliteNeighbours {
  readonly #db: DatabaseSync;
  readonly #cache: MirrorReadCache;
  /** A change without its payload by id, through the read cache; undefined when the mirror lacks it. */
  readonly #core: (id: string) => Change | undefined;
  /**
   * Prepared statements per stream kind, one per stream open at once: a
   * statement is one cursor, and the merge keeps every stream of a lookup open.
   */
  readonly #pool: Record<StreamKind, StatementSync[]> = { day: [], windowed: [], any: [] };

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
    const excluded = query.excludeId ?? '';
    const streams: { kind: StreamKind; params: (string | number)[] }[] = [];
    if (window === undefined) {
      for (const ref of refs) streams.push({ kind: 'any', params: [query.instance, ref, excluded] });
    } else {
      const end = instantKey(window.end);
      const start = instantKey(window.start);
      if (days?.[0] === ANY_DAY) {
        for (const ref of refs) streams.push({ kind: 'windowed', params: [query.instance, ref, end, start, excluded] });
      } else {
        // A long window is indexed under ANY_DAY alone: every short window reads that bucket too.
        for (const ref of refs) for (const day of [...(days ?? []), ANY_DAY]) streams.push({ kind: 'day', params: [query.instance, ref, day, end, start, excluded] });
      }
    }
    this.#cache.refresh();
    // Every validation of a change into authorize asks the same: answered once while the mirror is unchanged.
    const key = `touching:${limit}\u0000${streams.map((s) => `${s.kind}\u0000${s.params.join('\u0000')}`).join('\u0001')}`;
    return this.#cache.lookup(key, () => this.#query(streams, limit)) as Change[];
  }

  #query(streams: readonly { kind: StreamKind; params: (string | number)[] }[], limit: number): Change[] {
    const used: Record<StreamKind, number> = { day: 0, windowed: 0, any: 0 };
    const open: Iterator<RecentRow>[] = [];
    try {
      for (const { kind, params } of streams) open.push(this.#statement(kind, used[kind]++).iterate(...params) as unknown as Iterator<RecentRow>);
      const ids = mergeMostRecent(open, limit);
      return ids.map((id) => this.#core(id)).filter((c) => c !== undefined);
    } finally {
      // Resets each statement the merge left mid-walk, so the next lookup starts it afresh.
      for (const rows of open) rows.return?.();
    }
  }

  /** The `n`th statement of a kind (rows as [updated_at, change_id] arrays), kept for the next lookup up to POOLED_PER_KIND. */
  #statement(kind: StreamKind, n: number): StatementSync {
    const pool = this.#pool[kind];
    const pooled = pool[n];
    if (pooled !== undefined) return pooled;
    const stmt = this.#db.prepare(STREAM_SQL[kind]);
    stmt.setReturnArrays(true);
    if (pool.length < POOLED_PER_KIND) pool.push(stmt);
    return stmt;
  }
}
