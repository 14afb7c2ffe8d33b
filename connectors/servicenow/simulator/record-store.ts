// In-memory tables. Rows are immutable string maps: an update replaces the row,
// so a cached query result or a row handed to a caller never changes under it.

import { compileEncodedQuery, type CompiledQuery, type Condition, type FieldAccessor, type ResolveField } from './encoded-query.ts';
import type { Row, TableSchema } from './table-schema.ts';

export class SimTable {
  readonly schema: TableSchema;
  /** Bumped on every write; invalidates cached query results. */
  version = 0;
  private readonly rows = new Map<string, Row>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private rawCount = 0;

  constructor(schema: TableSchema, indexedFields: readonly string[] = []) {
    this.schema = schema;
    for (const f of indexedFields) this.indexes.set(f, new Map());
  }

  get name(): string {
    return this.schema.name;
  }

  get size(): number {
    return this.rows.size;
  }

  get(sysId: string): Row | undefined {
    return this.rows.get(sysId);
  }

  values(): IterableIterator<Row> {
    return this.rows.values();
  }

  /** Inserts or replaces by sys_id. A raw row without a sys_id gets a private key and can only be read. */
  put(row: Row): void {
    const key = row.sys_id || `\u0000raw-${++this.rawCount}`;
    const old = this.rows.get(key);
    for (const [field, index] of this.indexes) {
      if (old) index.get(old[field] ?? '')?.delete(key);
      const value = row[field] ?? '';
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
    this.rows.set(key, row);
    this.version++;
  }

  delete(sysId: string): boolean {
    const old = this.rows.get(sysId);
    if (!old) return false;
    for (const [field, index] of this.indexes) index.get(old[field] ?? '')?.delete(sysId);
    this.rows.delete(sysId);
    this.version++;
    return true;
  }

  /** Rows whose indexed `field` equals `value`, in insertion order. */
  lookup(field: string, value: string): Row[] {
    const index = this.indexes.get(field);
    if (!index) return [...this.rows.values()].filter((r) => r[field] === value);
    const out: Row[] = [];
    for (const key of index.get(value) ?? []) {
      const row = this.rows.get(key);
      if (row) out.push(row);
    }
    return out;
  }
}

interface CachedResult {
  version: number;
  rows: Row[];
  total: number;
}

const CACHE_LIMIT = 16;

/**
 * The order of rows an ORDERBY leaves tied (and of a query without one). ServiceNow
 * promises none, so a test that depends on it runs with both: `inserted` (oldest row
 * first, the default) and `reversed` (newest first).
 */
export type TieOrder = 'inserted' | 'reversed';

export class SimStore {
  private readonly tables = new Map<string, SimTable>();
  private readonly compiled = new Map<string, CompiledQuery>();
  private readonly results = new Map<string, CachedResult>();
  /** Rows in ORDERBY order per (table, fields), for keyset paging (walkOrdered); rebuilt after a write. */
  private readonly sorted = new Map<string, { version: number; rows: Row[]; counts: Map<string, Int32Array> }>();
  private readonly tieOrder: TieOrder;

  constructor(options: { tieOrder?: TieOrder } = {}) {
    this.tieOrder = options.tieOrder ?? 'inserted';
  }

  add(table: SimTable): SimTable {
    this.tables.set(table.name, table);
    return table;
  }

  table(name: string): SimTable | undefined {
    // `task` is the parent of change_request; the simulator holds only changes.
    return this.tables.get(name === 'task' ? 'change_request' : name);
  }

  require(name: string): SimTable {
    const t = this.table(name);
    if (!t) throw new Error(`simulator has no table ${name}`);
    return t;
  }

  names(): string[] {
    return [...this.tables.keys()];
  }

  /** Field accessor for `field` or a dot-walk such as `assignment_group.name`. */
  resolver(tableName: string): ResolveField {
    return (path) => this.accessor(tableName, path.split('.'));
  }

  private accessor(tableName: string, segments: string[]): FieldAccessor | undefined {
    const table = this.table(tableName);
    const [head, ...rest] = segments;
    if (!table || head === undefined) return undefined;
    const def = table.schema.fields.get(head);
    if (!def) return undefined;
    if (rest.length === 0) {
      return {
        // Raw rows (insertRawChange) may hold non-strings; queries must not crash on them.
        get: (row) => {
          const v: unknown = row[head];
          return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
        },
        numeric: def.numeric === true,
      };
    }
    if (def.kind !== 'reference' || !def.ref) return undefined;
    const target = this.table(def.ref);
    const inner = this.accessor(def.ref, rest);
    if (!target || !inner) return undefined;
    return {
      get: (row) => {
        const refRow = target.get(row[head] ?? '');
        return refRow ? inner.get(refRow) : '';
      },
      numeric: inner.numeric,
    };
  }

  compile(tableName: string, query: string): CompiledQuery {
    const key = `${tableName}\u0000${query}`;
    let c = this.compiled.get(key);
    if (!c) {
      c = compileEncodedQuery(query, this.resolver(tableName));
      if (this.compiled.size >= 256) this.compiled.clear();
      this.compiled.set(key, c);
    }
    return c;
  }

  /**
   * Rows matching `query` in ORDERBY order: `rows` holds at least the first
   * `needed` of them (all when the sort was cheap enough to finish), `total`
   * counts every match. Results are cached per (table, query) until a write,
   * so offset paging over a large table filters and sorts once.
   */
  select(tableName: string, query: string, needed = Number.POSITIVE_INFINITY): { rows: Row[]; total: number } {
    const table = this.require(tableName);
    const key = `${tableName}\u0000${query}`;
    // Dot-walked conditions read other tables, so any write anywhere invalidates.
    const version = this.version();
    const hit = this.results.get(key);
    if (hit && hit.version === version && (hit.rows.length === hit.total || hit.rows.length >= needed)) {
      return { rows: hit.rows, total: hit.total };
    }
    const c = this.compile(tableName, query);
    const walked = this.walkOrdered(tableName, c, version, needed);
    if (walked !== null) return walked;
    const matched: Row[] = [];
    for (const row of this.rowsOf(table)) if (c.matches(row)) matched.push(row);
    const rows = c.order(matched, Math.min(needed, matched.length));
    if (this.results.size >= CACHE_LIMIT) {
      const oldest = this.results.keys().next();
      if (!oldest.done) this.results.delete(oldest.value);
    }
    this.results.set(key, { version, rows, total: matched.length });
    return { rows, total: matched.length };
  }

  /**
   * Keyset paging over a large table, from the rows kept sorted by the ORDERBY fields (rebuilt after a
   * write). The connector's own query (`keysetCursor`) is a suffix of them: a page costs its rows, its
   * total a subtraction. Null for any other query (the caller filters and sorts the whole table).
   */
  private walkOrdered(tableName: string, c: CompiledQuery, version: number, needed: number): { rows: Row[]; total: number } | null {
    // Exactly the connector's query: ORDERBY two plain fields, ascending, and its cursor (keysetCursor).
    const [first, second] = c.parsed.orderBy;
    if (c.parsed.orderBy.length !== 2 || first === undefined || second === undefined || first.desc || second.desc || c.ignoredFields.length > 0) return null;
    const head = this.resolver(tableName)(first.field);
    const id = this.resolver(tableName)(second.field);
    if (head === undefined || id === undefined || head.numeric || id.numeric) return null;
    const cursor = keysetCursor(c.parsed.blocks, first.field, second.field);
    if (cursor === null) return null;
    const key = `${tableName}\u0000${first.field},${second.field}`;
    let sorted = this.sorted.get(key);
    if (sorted?.version !== version) {
      sorted = { version, rows: c.order([...this.rowsOf(this.require(tableName))]), counts: new Map() };
      this.sorted.set(key, sorted);
    }
    const ordered = sorted.rows;
    // The rows after the cursor are a suffix of the sorted rows; the instance's filter is counted over
    // every suffix once (X-Total-Count without a walk to the end).
    const extraKey = JSON.stringify(cursor.extra);
    let prefix = sorted.counts.get(extraKey);
    if (prefix === undefined) {
      const extra = compileEncodedQuery({ blocks: cursor.extra.length === 0 ? [] : [cursor.extra], orderBy: [], invalid: [] }, this.resolver(tableName));
      prefix = new Int32Array(ordered.length + 1);
      for (let i = 0; i < ordered.length; i++) prefix[i + 1] = (prefix[i] as number) + (extra.matches(ordered[i] as Row) ? 1 : 0);
      sorted.counts.set(extraKey, prefix);
    }
    const after = (row: Row): boolean => {
      if (cursor.time === null) return true;
      const t = head.get(row);
      if (t === '') return false;
      return cursor.id === null ? t >= cursor.time : t > cursor.time || (t === cursor.time && id.get(row) > cursor.id);
    };
    let from = 0;
    let to = ordered.length;
    while (from < to) {
      const mid = (from + to) >>> 1;
      if (after(ordered[mid] as Row)) to = mid;
      else from = mid + 1;
    }
    const rows: Row[] = [];
    for (let i = from; i < ordered.length && rows.length < needed; i++) if (c.matches(ordered[i] as Row)) rows.push(ordered[i] as Row);
    return { rows, total: (prefix[ordered.length] as number) - (prefix[from] as number) };
  }

  /** A table's rows in the order ties come back in. */
  private rowsOf(table: SimTable): Iterable<Row> {
    return this.tieOrder === 'reversed' ? [...table.values()].toReversed() : table.values();
  }

  private version(): number {
    let v = 0;
    for (const t of this.tables.values()) v += t.version;
    return v;
  }
}

/** A lone condition `field op value` with a value. */
function is(c: Condition | undefined, field: string, op: string): c is Condition {
  return c !== undefined && c.field === field && c.op === op && c.value !== '';
}

interface KeysetCursor {
  /** The instance's filter, ANDed to every block. */
  extra: Condition[][];
  /** Rows after (time, id); `id` null: from `time` on; `time` null: every row. */
  time: string | null;
  id: string | null;
}

/**
 * The cursor of a query as `keysetQuery` writes it (connectors/servicenow/keyset-query.ts): no cursor,
 * `time>=T`, or `time>T` ^NQ `time=T^id>ID`, each block carrying the same other conditions. Null for any
 * other shape.
 */
function keysetCursor(blocks: readonly (readonly (readonly Condition[])[])[], timeField: string, idField: string): KeysetCursor | null {
  if (blocks.length === 0) return { extra: [], time: null, id: null };
  const split = blocks.map((block) => {
    const keyed = block.filter((group) => group.some((c) => c.field === timeField || c.field === idField));
    return { keyed, extra: block.filter((group) => !keyed.includes(group)) };
  });
  const extra = JSON.stringify(split[0]?.extra);
  if (split.some((b) => JSON.stringify(b.extra) !== extra || b.keyed.some((g) => g.length !== 1))) return null;
  const conds = split.map((b) => b.keyed.map((g) => g[0] as Condition));
  const base = split[0]?.extra.map((g) => [...g]) ?? [];
  const [one, two] = conds;
  if (conds.length === 1 && one !== undefined) {
    if (one.length === 0) return { extra: base, time: null, id: null };
    if (one.length === 1 && is(one[0], timeField, '>=')) return { extra: base, time: (one[0] as Condition).value, id: null };
    return null;
  }
  if (conds.length !== 2 || one === undefined || two === undefined) return null;
  const [strict, tie] = one.length === 1 ? [one, two] : [two, one];
  const gt = strict[0];
  const eq = tie.find((c) => c.field === timeField);
  const idGt = tie.find((c) => c.field === idField);
  if (strict.length !== 1 || tie.length !== 2 || !is(gt, timeField, '>') || !is(eq, timeField, '=') || !is(idGt, idField, '>') || eq.value !== gt.value) return null;
  return { extra: base, time: gt.value, id: idGt.value };
}
