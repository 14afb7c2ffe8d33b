// Ticket text every writer shares: the idempotency marker a writer looks for
// before posting, the plain-text rendering of a note, and the canonical state
// labels. Part of the connector kit, so writers need nothing from the core.

import type { CanonicalState } from '../domain/change.ts';
import type { TicketNote } from './connector.ts';

export const MARKER_PREFIX = '[changegate:';

/** `[changegate:<idempotencyKey>]`, the text a writer searches for before posting. */
export function markerFor(idempotencyKey: string): string {
  return `${MARKER_PREFIX}${idempotencyKey}]`;
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
