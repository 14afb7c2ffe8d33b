// ORDERBY for encoded queries: comparison as the database sorts (empty values
// first, integer fields numerically) and a page-aware sort that selects the
// first rows of a large result instead of sorting all of it. Rows the sort keys
// leave tied keep the order they came in, so the store decides it (tieOrder).

import type { FieldAccessor, OrderTerm, ResolveField } from './encoded-query.ts';
import type { Row } from './table-schema.ts';

export interface SortKey {
  acc: FieldAccessor;
  sign: number;
}

function compareValues(va: string, vb: string, numeric: boolean, sign: number): number {
  if (va === vb) return 0;
  // Empty values sort first ascending, like NULLs in the database.
  if (va === '') return -sign;
  if (vb === '') return sign;
  if (numeric) {
    const d = Number(va) - Number(vb);
    if (d !== 0 && !Number.isNaN(d)) return d < 0 ? -sign : sign;
  }
  return va < vb ? -sign : sign;
}

export function sortKeys(orderBy: OrderTerm[], resolve: ResolveField, ignored: string[]): SortKey[] {
  const keys: SortKey[] = [];
  for (const term of orderBy) {
    const acc = resolve(term.field);
    if (acc) keys.push({ acc, sign: term.desc ? -1 : 1 });
    else ignored.push(term.field);
  }
  return keys;
}

interface Decorated {
  row: Row;
  values: string[];
  /** Position in the input: ties keep it, in the page-aware selection too. */
  at: number;
}

/** Moves the k smallest items to the front (in no order): Hoare quickselect, O(n) on average. */
function selectSmallest(items: Decorated[], k: number, cmp: (a: Decorated, b: Decorated) => number): void {
  let lo = 0;
  let hi = items.length - 1;
  while (lo < hi) {
    const pivot = items[(lo + hi) >>> 1] as Decorated;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (cmp(items[i] as Decorated, pivot) < 0) i++;
      while (cmp(items[j] as Decorated, pivot) > 0) j--;
      if (i <= j) {
        const t = items[i] as Decorated;
        items[i++] = items[j] as Decorated;
        items[j--] = t;
      }
    }
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}

/**
 * Sorts by reading each row's sort values once. With `needed` well below the
 * row count (a keyset page), only the first `needed` rows are selected and
 * sorted: a page of 1,000 out of 50,000 costs a linear pass, not a full sort.
 */
export function sorter(keys: SortKey[]): (rows: Row[], needed?: number) => Row[] {
  if (keys.length === 0) return (rows) => rows;
  const cmp = (a: Decorated, b: Decorated): number => {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as SortKey;
      const c = compareValues(a.values[i] as string, b.values[i] as string, k.acc.numeric, k.sign);
      if (c !== 0) return c;
    }
    return a.at - b.at;
  };
  return (rows, needed = rows.length) => {
    const decorated = rows.map((row, at) => ({ row, values: keys.map((k) => k.acc.get(row)), at }));
    if (needed * 4 < decorated.length) {
      selectSmallest(decorated, needed, cmp);
      decorated.length = needed;
    }
    return decorated.toSorted(cmp).map((d) => d.row);
  };
}
