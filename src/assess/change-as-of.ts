// A mirrored change as it stood at an instant: the revision current then (the
// newest whose source update time is at or before it), rebuilt from today's
// record by undoing the diffs of every later revision, newest first; the
// journal as written by then; and approvals as known then. `check --at` judges
// this, not today's record against a past clock.
//
// What the mirror cannot tell is said, not guessed: an approval row keeps only
// its latest version, so one whose decision came after the instant is taken
// as still requested then (and counted, so the output can say so). One
// requested after the instant did not exist then: it is left out, and counted
// too, so a replay does not read as approvals gone missing; one with no request
// time is kept, as the mirror cannot tell.

import type { Approval, Change, MirroredChange } from '../domain/change.ts';
import type { FieldDiff, Revision } from '../store/change-store.ts';

export interface ChangeAsOf {
  mc: MirroredChange;
  /** The revision judged. */
  revision: Revision;
  /** How many revisions the mirror holds (the newest is `latest`). */
  latest: number;
  /** Approvals whose decision came after the instant: judged as still requested. */
  undecided: number;
  /** Approvals requested after the instant: left out, as they did not exist then. */
  requestedLater: number;
}

/** Path segments of a diff path (`raw.assigned_to\.name` → `raw`, `assigned_to.name`). */
export function pathSegments(path: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] as string;
    if (ch === '\\' && i + 1 < path.length) current += path[++i];
    else if (ch === '.') {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Puts back what a diff entry says was there before (removing what was absent). */
function undo(target: Obj, entry: FieldDiff): void {
  const segments = pathSegments(entry.path);
  let node: Obj = target;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (!isObj(next)) {
      if (!('from' in entry)) return;
      node[segment] = {};
    }
    node = node[segment] as Obj;
  }
  const last = segments.at(-1) as string;
  if ('from' in entry) node[last] = structuredClone(entry.from);
  else delete node[last];
}

/** The change as of revision `seq`: today's record with the diffs of every later revision undone. */
export function changeAtRevision(current: Change, revisions: readonly Revision[], seq: number): Change {
  // The payload is left out: the policy never reads it, and it may not have been read (withoutRaw).
  const rebuilt = structuredClone({ ...current, raw: null }) as unknown as Obj;
  for (const revision of revisions.toSorted((a, b) => b.seq - a.seq)) {
    if (revision.seq <= seq) break;
    for (const entry of revision.diff) if (!entry.path.startsWith('raw.') && entry.path !== 'raw') undo(rebuilt, entry);
  }
  return rebuilt as unknown as Change;
}

/** An approval as it stood at `at` (epoch ms): a decision taken after it is taken as still requested. */
export function approvalAt(approval: Approval, at: number): Approval {
  if (Date.parse(approval.updatedAt) <= at) return approval;
  // Updated since: a decision taken after the instant was not there yet.
  if (approval.decidedAt !== null && Date.parse(approval.decidedAt) > at) return { ...approval, state: 'requested', nativeState: 'requested', decidedAt: null, comment: null };
  return approval;
}

/** The approvals as they stood at `at` (epoch ms): those requested after it left out, the rest as `approvalAt` says. */
export function approvalsAt(approvals: readonly Approval[], at: number): Approval[] {
  return requestedBy(approvals, at).map((a) => approvalAt(a, at));
}

function requestedBy(approvals: readonly Approval[], at: number): Approval[] {
  return approvals.filter((a) => !a.requestedAt || Date.parse(a.requestedAt) <= at);
}

/** Null when `at` is before the first revision changegate mirrored (nothing is known of the change before it). */
export function changeAsOf(mc: MirroredChange, revisions: readonly Revision[], at: Date): ChangeAsOf | null {
  const t = at.getTime();
  const current = revisions.filter((r) => Date.parse(r.updatedAt) <= t).at(-1);
  if (current === undefined) return null;
  const requested = requestedBy(mc.approvals, t);
  const approvals = requested.map((a) => approvalAt(a, t));
  const undecided = approvals.filter((a, i) => a !== requested[i] && a.state === 'requested').length;
  return {
    mc: { change: changeAtRevision(mc.change, revisions, current.seq), approvals, journal: mc.journal.filter((j) => Date.parse(j.at) <= t) },
    revision: current,
    latest: revisions.at(-1)?.seq ?? current.seq,
    undecided,
    requestedLater: mc.approvals.length - requested.length,
  };
}
