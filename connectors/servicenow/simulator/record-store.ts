// In-memory tables. Rows are immutable string maps: an update replaces the row,
// so a cached query result or a row handed to a caller never changes under it.

import { compileEncodedQuery, type CompiledQuery, type FieldAccessor, type ResolveField } from './encoded-query.ts';
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

export class SimStore {
  private readonly tables = new Map<string, SimTable>();
  private readonly compiled = new Map<string, CompiledQuery>();
  private readonly results = new Map<string, CachedResult>();

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
    const matched: Row[] = [];
    for (const row of table.values()) if (c.matches(row)) matched.push(row);
    const rows = c.order(matched, Math.min(needed, matched.length));
    if (this.results.size >= CACHE_LIMIT) {
      const oldest = this.results.keys().next();
      if (!oldest.done) this.results.delete(oldest.value);
    }
    this.results.set(key, { version, rows, total: matched.length });
    return { rows, total: matched.length };
  }

  private version(): number {
    let v = 0;
    for (const t of this.tables.values()) v += t.version;
    return v;
  }
}
