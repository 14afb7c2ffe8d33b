// One page of a change's history: oldest or newest first, continued after the
// last entry of the previous page by an opaque cursor (its `firstAt` and id),
// so an entry added meanwhile never shifts a page (as an offset would), and one
// whose `at` moved meanwhile (a write-back settled, an approval decided) is
// neither skipped nor read again: it keeps its place.

import { decodeListCursor, encodeListCursor } from '../store/list-cursor.ts';
import { compareEntries, type HistoryEntry } from './change-history.ts';

export type HistoryOrder = 'asc' | 'desc';

export interface HistoryPageQuery {
  order: HistoryOrder;
  limit: number;
  cursor?: string;
}

export interface HistoryPage {
  items: HistoryEntry[];
  nextCursor: string | null;
}

/** `entries` oldest first, as changeHistory returns them. A malformed cursor is CG_INPUT_INVALID naming `cursor`. */
export function historyPage(entries: readonly HistoryEntry[], query: HistoryPageQuery): HistoryPage {
  const ordered = query.order === 'asc' ? entries : entries.toReversed();
  let start = 0;
  if (query.cursor !== undefined) {
    const position = decodeListCursor(query.cursor);
    const mark = { firstAt: position.updatedAt, id: position.id };
    const sign = query.order === 'asc' ? 1 : -1;
    start = ordered.findIndex((e) => sign * compareEntries(e, mark) > 0);
    if (start === -1) start = ordered.length;
  }
  const items = ordered.slice(start, start + query.limit);
  const last = items.at(-1);
  const more = start + items.length < ordered.length;
  return { items, nextCursor: more && last !== undefined ? encodeListCursor({ updatedAt: last.firstAt, id: last.id }) : null };
}
