// The neighbour lookup behind `listActiveChangesTouching`: the active changes
// that share a service or CI with one change and whose planned window overlaps
// its own, answered from the `change_refs` index (see change-refs.ts) and the
// read cache. The overlap gate asks it on every validation into authorize.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Change } from '../../domain/change.ts';
import type { TouchingQuery } from '../change-store.ts';
import { ANY_DAY, NO_WINDOW, refKey, windowDays } from '../change-refs.ts';
import { instantKey } from '../instant-key.ts';
import type { MirrorReadCache } from '../mirror-read-cache.ts';

interface Shape {
  refCount: number;
  dayCount: number;
  windowed: boolean;
}

export class SqliteNeighbours {
  readonly #db: DatabaseSync;
  readonly #cache: MirrorReadCache;
  /** A change without its payload by id, through the read cache; undefined when the mirror lacks it. */
  readonly #core: (id: string) => Change | undefined;
  /** Statements per shape (how many refs and days), prepared on first use. */
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
    const onDays = days === null || days[0] === ANY_DAY ? [] : [...days, ANY_DAY];
    const params: (string | number)[] = [query.instance, query.excludeId ?? '', ...refs, ...onDays];
    if (window !== undefined) params.push(instantKey(window.end), instantKey(window.start));
    const shape: Shape = { refCount: refs.length, dayCount: onDays.length, windowed: window !== undefined };
    this.#cache.refresh();
    // Every validation of a change into authorize asks the same: answered once while the mirror is unchanged.
    const key = `touching:${shape.refCount}:${shape.dayCount}:${shape.windowed}:${limit}\u0000${params.join('\u0000')}`;
    return this.#cache.lookup(key, () => this.#query(params, limit, shape)) as Change[];
  }

  #query(params: readonly (string | number)[], limit: number, shape: Shape): Change[] {
    const matches = this.#statement(shape, false).all(...params) as { id: string }[];
    // Usually a handful: sorted here from the cached changes. Past the limit, SQLite picks the most recent.
    const ids = matches.length <= limit ? matches : (this.#statement(shape, true).all(...params, limit) as { id: string }[]);
    const found = ids.map(({ id }) => this.#core(id)).filter((c) => c !== undefined);
    return found.length > 1 ? mostRecentFirst(found) : found;
  }

  /**
   * Indexed changes other than one, under any of `refCount` refs, on any of
   * `dayCount` day buckets (0: every bucket), in a planned window (`windowed`):
   * their ids, unordered, or (`ordered`) the most recently updated first up to a
   * limit. Placeholders are spelled out per shape, not passed as a JSON list:
   * SQLite then probes the primary key directly, several times faster on this
   * per-validation path.
   */
  #statement({ refCount, dayCount, windowed }: Shape, ordered: boolean): StatementSync {
    const key = `${refCount}:${dayCount}:${windowed}:${ordered}`;
    let stmt = this.#statements.get(key);
    if (stmt === undefined) {
      const matching = `SELECT DISTINCT change_id AS id FROM change_refs
          WHERE instance = ? AND change_id <> ? AND ref IN (${placeholders(refCount)})${dayCount > 0 ? ` AND day IN (${placeholders(dayCount)})` : ''}
          ${windowed ? `AND day <> ${NO_WINDOW} AND planned_start < ? AND planned_end > ?` : ''}`;
      const sql = ordered ? `SELECT id FROM change_cores WHERE id IN (${matching}) ORDER BY updated_at DESC, id LIMIT ?` : matching;
      stmt = this.#db.prepare(sql);
      this.#statements.set(key, stmt);
    }
    return stmt;
  }
}

/** Most recently updated first, then by id: the order the store's SQL gives (`updated_at DESC, id`). */
function mostRecentFirst(changes: Change[]): Change[] {
  const keyed = changes.map((change) => ({ change, at: instantKey(change.updatedAt) }));
  keyed.sort((a, b) => (a.at === b.at ? (a.change.id < b.change.id ? -1 : a.change.id > b.change.id ? 1 : 0) : a.at > b.at ? -1 : 1));
  return keyed.map((k) => k.change);
}

/** `?, ?, ?` for n placeholders. */
function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
