// Ticket text every writer shares: the idempotency marker a writer looks for
// before posting, the plain-text rendering of a note, and the canonical state
// labels. Part of the connector kit, so writers need nothing from the core.

import type { CanonicalState } from '../domain/change.ts';
import type { NoteSeries, TicketNote } from './connector.ts';

export const MARKER_PREFIX = '[changegate:';

/** `[changegate:<idempotencyKey>]`, the text a writer searches for before posting. */
export function markerFor(idempotencyKey: string): string {
  return `${MARKER_PREFIX}${idempotencyKey}]`;
}

const SERIES_PREFIX = '[changegate-series:';

/** `[changegate-series:<name>:<digest>]`: beside the key marker, what a series check reads back from the ticket. */
export function seriesMarker(series: NoteSeries): string {
  return `${SERIES_PREFIX}${series.name}:${series.digest}]`;
}

/** The text a search for notes of the series looks for (`[changegate-series:<name>:`). */
export function seriesNeedle(name: string): string {
  return `${SERIES_PREFIX}${name}:`;
}

/** The digest a note of series `name` carries in `text`, or null when it is not such a note. */
export function seriesDigestIn(text: string, name: string): string | null {
  const needle = seriesNeedle(name);
  const at = text.lastIndexOf(needle);
  if (at < 0) return null;
  const end = text.indexOf(']', at + needle.length);
  return end < 0 ? null : text.slice(at + needle.length, end);
}

/**
 * The first `end` UTF-16 units of `text`, one fewer when the last would be the
 * first half of a character outside the BMP (an emoji, a CJK extension): half
 * of one is no character, and the ticket would show a replacement mark.
 */
export function headOf(text: string, end: number): string {
  const last = text.charCodeAt(end - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? end - 1 : end);
}

/** The markers a note carries on its last line: the key's, then the series' when it has one. */
export function markersFor(idempotencyKey: string, series?: NoteSeries): string {
  return series === undefined ? markerFor(idempotencyKey) : `${markerFor(idempotencyKey)} ${seriesMarker(series)}`;
}

const LABELS: Record<CanonicalState, string> = {
  new: 'New',
  assess: 'Assess',
  authorize: 'Authorize',
  scheduled: 'Scheduled',
  implement: 'Implement',
  review: 'Review',
  closed: 'Closed',
  canceled: 'Canceled',
  failed: 'Failed',
};

export function stateLabel(state: CanonicalState): string {
  return LABELS[state];
}

/** How a site names each canonical state ("Implementing" on a JSM site); canonical labels where nothing better is known. */
export type StateNamer = (state: CanonicalState) => string;

/**
 * Between a list item's reason and what it holds up ("… — blocks the move to
 * Implementing."): a writer that must shorten the reason keeps what follows.
 */
export const HOLDS_UP = ' — ';

/** The heading of the part of a note meant for policy administrators. */
export const DETAILS_TITLE = 'Details for administrators';

function tableLines(table: { columns: string[]; rows: string[][] } | undefined): string[] {
  if (table === undefined || table.rows.length === 0) return [];
  return ['', table.columns.join(' | '), ...table.rows.map((row) => row.join(' | '))];
}

/**
 * A work note as ServiceNow shows it: plain text, what blocks first, the part
 * for administrators last under its own heading, the marker on the last line.
 */
export function plainText(note: TicketNote, marker: string): string {
  const out = [`changegate: ${note.title}`, ...note.lines];
  if (note.items && note.items.length > 0) {
    out.push('');
    for (const item of note.items) out.push(`* ${item}`);
  }
  if (note.footer && note.footer.length > 0) out.push('', ...note.footer);
  out.push(...tableLines(note.table));
  if (note.details) out.push('', `-- ${note.details.title} --`, ...note.details.lines, ...tableLines(note.details.table));
  out.push('', marker);
  return out.join('\n');
}
