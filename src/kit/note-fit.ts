// A note shortened to fit a ticket system that refuses a longer one (a Jira
// comment holds 32,767 characters). What the reader needs goes last: the
// title and opening lines (the verdict) are never touched, and each list item
// keeps what it holds up. In order, until the note fits: long reasons cut
// shorter and shorter, then the part for administrators left out, then only
// the first items listed and the rest counted, then the table's first rows.
// A shortened note says so and where the whole of it is. The writer adds the
// marker itself, so the duplicate check is never shortened away.

import type { TicketNote } from './connector.ts';
import { HOLDS_UP, headOf } from './ticket-note.ts';

/** Lengths a long item is cut to, in turn. */
const ITEM_CHARS = [600, 240, 100] as const;
/** The last resort: every paragraph cut to this. */
const LINE_CHARS = 200;

/** `text` cut to `limit` characters with an ellipsis, keeping what follows the last HOLDS_UP when that is short. */
export function shortenItem(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const at = text.lastIndexOf(HOLDS_UP);
  const tail = at > 0 && text.length - at <= limit / 2 ? text.slice(at) : '';
  const head = tail === '' ? text : text.slice(0, at);
  return `${headOf(head, Math.max(1, limit - tail.length - 1))}…${tail}`;
}

/** The line a shortened note ends with: that it was shortened, and where the whole of it is. */
export function shortenedNotice(where: string, changeKey: string | undefined): string {
  return changeKey === undefined
    ? `This note was shortened to fit in ${where}; the whole of it is in changegate's history of the change.`
    : `This note was shortened to fit in ${where}; the whole of it: GET /v1/changes/${changeKey}/history or \`changegate check ${changeKey}\`.`;
}

/** The largest `n` in [0, max] for which `ok(n)` holds (`ok` holds for every smaller `n` when it holds for `n`), or -1. */
function largest(max: number, ok: (n: number) => boolean): number {
  let lo = -1;
  let hi = max;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi + 1) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * `note` as it is when `fits` says it fits, else shortened (see above) until
 * it does; `where` names the ticket system's container ("a Jira comment").
 * Past every step, the note with each paragraph cut short, which may still not
 * fit when its title alone does not.
 */
export function fitNote(note: TicketNote, fits: (candidate: TicketNote) => boolean, where: string): TicketNote {
  if (fits(note)) return note;
  const notice = shortenedNotice(where, note.changeKey);
  const withNotice = (n: TicketNote): TicketNote => ({ ...n, footer: [...(n.footer ?? []), notice] });
  const items = note.items ?? [];
  let current: TicketNote = note;
  for (const limit of ITEM_CHARS) {
    current = { ...note, items: items.map((item) => shortenItem(item, limit)) };
    if (fits(withNotice(current))) return withNotice(current);
  }
  const { details: _details, ...withoutDetails } = current;
  current = withoutDetails;
  if (fits(withNotice(current))) return withNotice(current);

  const shortItems = current.items ?? [];
  const listing = (n: number): TicketNote => {
    const rest = shortItems.length - n;
    return { ...current, items: [...shortItems.slice(0, n), n === 0 ? `${rest} not shown here.` : `… and ${rest} more.`] };
  };
  if (shortItems.length > 0) {
    const kept = largest(shortItems.length - 1, (n) => fits(withNotice(listing(n))));
    current = listing(Math.max(0, kept));
    if (kept >= 0) return withNotice(current);
  }

  const table = current.table;
  if (table !== undefined && table.rows.length > 0) {
    const rows = (n: number): TicketNote => ({ ...current, table: { ...table, rows: table.rows.slice(0, n) }, footer: [...(current.footer ?? []), `${table.rows.length - n} more rows of the table are not shown here.`] });
    const kept = largest(table.rows.length - 1, (n) => fits(withNotice(rows(n))));
    current = rows(Math.max(0, kept));
    if (kept >= 0) return withNotice(current);
  }

  const cut = (lines: string[] | undefined): string[] | undefined => lines?.map((line) => shortenItem(line, LINE_CHARS));
  const lines = cut(current.lines) ?? [];
  const footer = cut(current.footer);
  return withNotice({ ...current, title: shortenItem(current.title, LINE_CHARS), lines, ...(footer === undefined ? {} : { footer }) });
}
