// The evidence summary on the ticket: what the ledger holds for the change, the
// head hash an auditor checks a bundle against, and how to get and verify the
// bundle. Short by design (a ServiceNow work note, a Jira comment): the last
// entries in a table, the whole chain in the bundle.

import type { Change } from '../domain/change.ts';
import type { EvidenceEntry } from '../evidence/evidence-entry.ts';
import type { TicketNote } from '../kit/connector.ts';

/** Entries shown on the ticket; the rest are counted and left to the bundle. */
const SHOWN = 10;
const SUMMARY_CHARS = 160;

const when = (iso: string): string => {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
};
const clip = (text: string): string => (text.length <= SUMMARY_CHARS ? text : `${text.slice(0, SUMMARY_CHARS - 1)}…`);

/** `attachment`: the name of the bundle file queued for the ticket beside this note. */
export function evidenceNote(change: Change, entries: readonly EvidenceEntry[], attachment?: string): TicketNote {
  const head = entries.at(-1);
  const shown = entries.slice(-SHOWN);
  const earlier = entries.length - shown.length;
  return {
    title: `Evidence: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} recorded for ${change.key}`,
    tone: 'info',
    lines: [
      `Head of the evidence chain: ${head?.hash ?? '(none)'} (entry ${head?.seq ?? 0}).`,
      'Each state move, each decision that changed and each enforcement action is chained by SHA-256; an auditor can check that nothing was altered since.',
    ],
    table: { columns: ['#', 'when (UTC)', 'kind', 'by', 'what'], rows: shown.map((e) => [String(e.seq), when(e.at), e.kind, e.actor ?? 'changegate', clip(e.summary)]) },
    footer: [
      ...(earlier > 0 ? [`${earlier} earlier entr${earlier === 1 ? 'y is' : 'ies are'} in the bundle.`] : []),
      ...(attachment === undefined ? [] : [`The bundle is attached to this ticket as ${attachment}: download it and run \`changegate evidence verify ${attachment}\`.`]),
      `The bundle: \`changegate evidence export ${change.key}\` or GET /v1/changes/${change.key}/evidence; check it with \`changegate evidence verify FILE\`, which must report this head.`,
    ],
  };
}
