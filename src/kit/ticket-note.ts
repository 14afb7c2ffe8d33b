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

/** A work note as ServiceNow shows it: plain text, the marker on the last line. */
export function plainText(note: TicketNote, marker: string): string {
  const out = [`changegate: ${note.title}`, ...note.lines];
  if (note.table && note.table.rows.length > 0) {
    out.push('', note.table.columns.join(' | '));
    for (const row of note.table.rows) out.push(row.join(' | '));
  }
  if (note.items && note.items.length > 0) {
    out.push('');
    for (const item of note.items) out.push(`* ${item}`);
  }
  out.push('', marker);
  return out.join('\n');
}
