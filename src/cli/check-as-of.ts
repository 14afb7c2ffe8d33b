// `check --at`: reading the instant, and saying which revision was judged
// (in the table and in `--json` as `asOf`).

import type { ChangeAsOf } from '../assess/change-as-of.ts';

const BACK = /^([0-9]{1,6})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO-8601 instant with a zone, or a time back from `now` (`30m`, `36h`, `7d`); null when neither. */
export function instantOf(text: string, now: Date): Date | null {
  const back = BACK.exec(text);
  if (back !== null) return new Date(now.getTime() - Number(back[1]) * UNIT_MS[back[2] as keyof typeof UNIT_MS]);
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(text)) return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at;
}

function authorText(asOf: ChangeAsOf): string {
  const a = asOf.revision.author;
  if (a !== null) return `by ${a.name ?? a.id}`;
  return asOf.revision.authorUnknown === 'not-recorded' ? 'author not recorded (mirrored before changegate kept authors)' : 'author not named by the source';
}

export function renderAsOf(asOf: ChangeAsOf, at: Date): string {
  const r = asOf.revision;
  const lines = [
    `  judged as of ${at.toISOString()}: revision ${r.seq} of ${asOf.latest} (native ${r.nativeRevision}, updated ${r.updatedAt}, ${authorText(asOf)})`,
  ];
  if (r.seq < asOf.latest) lines.push(`  the ${asOf.latest - r.seq} later revision${asOf.latest - r.seq === 1 ? ' is' : 's are'} undone; the journal is read as written by then`);
  if (asOf.undecided > 0) lines.push(`  ${asOf.undecided} approval${asOf.undecided === 1 ? ' was' : 's were'} decided after that instant: taken as still requested`);
  if (asOf.requestedLater > 0) lines.push(`  ${asOf.requestedLater} approval${asOf.requestedLater === 1 ? ' was' : 's were'} requested after that instant: left out`);
  lines.push('  neighbouring changes and ITSM schedules are read as they are now');
  return lines.join('\n');
}

export function asOfJson(asOf: ChangeAsOf, at: Date): unknown {
  const r = asOf.revision;
  return {
    at: at.toISOString(),
    revision: r.seq,
    nativeRevision: r.nativeRevision,
    updatedAt: r.updatedAt,
    author: r.author === null ? null : { id: r.author.id, name: r.author.name },
    latestRevision: asOf.latest,
    undecidedApprovals: asOf.undecided,
    requestedLaterApprovals: asOf.requestedLater,
  };
}
