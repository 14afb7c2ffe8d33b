// The evidence summary on the ticket: what the ledger holds for the change, the
// head hash an auditor checks a bundle against, and how to get and verify the
// bundle. Short by design (a ServiceNow work note, a Jira comment): the last
// entries in a table, the whole chain in the bundle.

import type { Change } from '../domain/change.ts';
import type { EvidenceEntry, EvidenceKind } from '../evidence/evidence-entry.ts';
import type { TicketNote } from '../kit/connector.ts';

/** Entries shown on the ticket; the rest are counted and left to the bundle. */
const SHOWN = 10;
const SUMMARY_CHARS = 160;

const when = (iso: string): string => {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
};
const clip = (text: string): string => (text.length <= SUMMARY_CHARS ? text : `${text.slice(0, SUMMARY_CHARS - 1)}…`);

/** How each kind is counted on the ticket, in this order: singular and plural. */
const KIND_WORDS: Record<EvidenceKind, [string, string]> = {
  revision: ['state move', 'state moves'],
  approval: ['approval decision', 'approval decisions'],
  waiver: ['waiver entry (granted, ended or withdrawn)', 'waiver entries (granted, ended or withdrawn)'],
  assessment: ['decision', 'decisions'],
  enforcement: ['enforcement action', 'enforcement actions'],
  event: ['event', 'events'],
  deployment: ['deployment', 'deployments'],
};

/** `4 state moves, 2 approval decisions, 1 waiver entry (granted, ended or withdrawn), 5 decisions`: every kind the ledger holds, none it does not. */
function counts(entries: readonly EvidenceEntry[]): string {
  const by = new Map<EvidenceKind, number>();
  for (const e of entries) by.set(e.kind, (by.get(e.kind) ?? 0) + 1);
  return (Object.keys(KIND_WORDS) as EvidenceKind[])
    .filter((k) => by.has(k))
    .map((k) => {
      const n = by.get(k) as number;
      return `${n} ${KIND_WORDS[k][n === 1 ? 0 : 1]}`;
    })
    .join(', ');
}

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
      ...(entries.length === 0 ? [] : [`Recorded: ${counts(entries)}.`]),
      'Each state move, approval decision, waiver, decision that changed and enforcement action is chained by SHA-256; an auditor can check that nothing was altered since.',
    ],
    table: { columns: ['#', 'when (UTC)', 'kind', 'by', 'what'], rows: shown.map((e) => [String(e.seq), when(e.at), e.kind, e.actor ?? 'changegate', clip(e.summary)]) },
    footer: [
      ...(earlier > 0 ? [`${earlier} earlier entr${earlier === 1 ? 'y is' : 'ies are'} in the bundle.`] : []),
      ...(attachment === undefined ? [] : [`The bundle is attached to this ticket as ${attachment}: download it and run \`changegate evidence verify ${attachment}\`.`]),
      `The bundle: \`changegate evidence export ${change.key}\` or GET /v1/changes/${change.key}/evidence; check it with \`changegate evidence verify FILE\`, which must report this head.`,
    ],
    changeKey: change.key,
  };
}
