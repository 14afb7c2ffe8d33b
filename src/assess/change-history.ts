// What an auditor reads about one change: every revision with its author,
// every approval with its group and decision time, every assessment with its
// decision, every write-back and every enforcement action, in one time-ordered
// list, each saying who acted. The list is ordered by when each entry first
// appeared (`firstAt`), not by its `at`: a write-back's `at` moves from queued
// to settled and an approval's to its decision, and a reader paging the list
// by cursor while one moved would miss it or read it twice. changegate's own
// write-backs come back from the ticket system as revisions by the integration
// user; they are marked as changegate's when their author is that user and
// their diff touches only the fields changegate writes (the connector's
// `ownWrites`).

import { approvalTime, type Approval, type CanonicalState } from '../domain/change.ts';
import type { HistoryAssessment, EnforcementRecord } from '../store/assessment-store.ts';
import type { AssessmentStore } from '../store/assessment-store.ts';
import type { ChangeStore, FieldDiff, Revision, RevisionAuthor } from '../store/change-store.ts';
import type { OwnWrites } from '../kit/connector.ts';
import type { OutboxItem, OutboxStore } from '../store/outbox-store.ts';

export const HISTORY_KINDS = ['revision', 'approval', 'assessment', 'write-back', 'enforcement'] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

export interface HistoryActor {
  id: string;
  name: string | null;
}

interface EntryBase {
  /** Unique and stable within the change (`revision:00000003`, `approval:<id>`): the cursor continues after it. */
  id: string;
  /** When it happened, as it stands now (a write-back's settling, an approval's decision). */
  at: string;
  /** Its `at` when it first appeared in the history; it never moves. The list is in this order (then by id). */
  firstAt: string;
  kind: HistoryKind;
  /** Who acted: a person or user of the source, `changegate` for its own work, null when the source does not say (`byUnknown` says why). */
  by: HistoryActor | 'changegate' | null;
  byUnknown?: string;
}

export interface RevisionEntry extends EntryBase {
  kind: 'revision';
  seq: number;
  nativeRevision: number;
  observedAt: string;
  /** The source user behind `by: "changegate"` (the integration user), or the author again. */
  author: HistoryActor | null;
  /** One line per changed canonical field (`state: assess → authorize`), then how many source fields moved. */
  summary: string[];
  changedFields: number;
}

export interface ApprovalEntry extends EntryBase {
  kind: 'approval';
  approver: HistoryActor | null;
  group: HistoryActor | null;
  decision: Approval['state'];
  nativeState: string;
  decidedAt: string | null;
  /** When the approver was asked; null when the source gave no time or the row was mirrored before changegate read it. */
  requestedAt: string | null;
  comment: string | null;
}

export interface AssessmentEntry extends EntryBase {
  kind: 'assessment';
  /** The mirror revision (`seq`) it judged. */
  revision: number;
  policyVersion: string;
  state: CanonicalState;
  recommendation: string;
  allowed: CanonicalState[];
  blocked: { to: CanonicalState; reasons: string[] }[];
  violations: string[];
  wroteBack: boolean;
}

export interface WriteBackEntry extends EntryBase {
  kind: 'write-back';
  action: OutboxItem['action'];
  /** What was written, in a line. */
  what: string;
  ticket: string;
  nativeId: string;
  source: OutboxItem['source'];
  status: OutboxItem['status'];
  attempts: number;
  createdAt: string;
  /** When it was written (done with `written`), else null. */
  postedAt: string | null;
  result: string | null;
  error: string | null;
}

export interface EnforcementEntry extends EntryBase {
  kind: 'enforcement';
  action: EnforcementRecord['action'];
  outcome: EnforcementRecord['outcome'];
  mode: EnforcementRecord['mode'];
  from: CanonicalState;
  to: CanonicalState;
  fromNative: string | null;
  toNative: string;
  /** Why the policy denied the move. */
  reasons: string[];
  /** When the source says the transition happened. */
  observedAt: string;
  detail: string | null;
}

export type HistoryEntry = RevisionEntry | ApprovalEntry | AssessmentEntry | WriteBackEntry | EnforcementEntry;

export interface HistoryDeps {
  store: ChangeStore;
  assessments: AssessmentStore;
  outbox: OutboxStore;
  /** The instance's own-write signature (see OwnWrites); undefined: none is recognised. */
  ownWritesOf: (instance: string) => OwnWrites | undefined;
}

const UNKNOWN_WHY: Record<NonNullable<Revision['authorUnknown']>, string> = {
  'not-recorded': 'mirrored before changegate kept revision authors',
  'not-named': 'the source names no author for this version',
};

/** By `firstAt`, then id: a key that never moves for an entry, so a cursor on it neither skips nor repeats one. */
export function compareEntries(a: Pick<HistoryEntry, 'firstAt' | 'id'>, b: Pick<HistoryEntry, 'firstAt' | 'id'>): number {
  const ta = Date.parse(a.firstAt);
  const tb = Date.parse(b.firstAt);
  if (ta !== tb) return ta - tb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const actor = (a: RevisionAuthor | { id: string; name: string | null } | null): HistoryActor | null => (a === null ? null : { id: a.id, name: a.name });

/** Whether every changed path is one changegate's writes change. */
function onlyOwnPaths(diff: readonly FieldDiff[], paths: readonly string[]): boolean {
  return diff.length > 0 && diff.every((d) => paths.some((p) => d.path === p || d.path.startsWith(`${p}.`)));
}

function isIntegrationUser(author: RevisionAuthor, users: readonly string[]): boolean {
  const names = [author.id, author.email].filter((n): n is string => n !== undefined).map((n) => n.toLowerCase());
  return users.some((u) => names.includes(u.toLowerCase()));
}

/** The entry of revision `r`; `enforcements`: at least the record of `r`, if it has one (changegate's own reverts are spotted there). */
export function revisionEntry(r: Revision, own: OwnWrites | undefined, enforcements: readonly EnforcementRecord[]): RevisionEntry {
  const author = actor(r.author);
  let by: RevisionEntry['by'] = author;
  // The move back enforcement made: recognised when it showed up, whoever the ticket names.
  if (enforcements.some((e) => e.revision === r.seq && e.action === 'own-revert')) by = 'changegate';
  else if (r.author !== null && r.seq > 1 && own !== undefined && isIntegrationUser(r.author, own.users) && onlyOwnPaths(r.diff, own.paths)) by = 'changegate';
  return {
    id: `revision:${String(r.seq).padStart(8, '0')}`,
    at: r.updatedAt,
    firstAt: r.updatedAt,
    kind: 'revision',
    by,
    ...(author === null && r.authorUnknown !== undefined ? { byUnknown: UNKNOWN_WHY[r.authorUnknown] } : {}),
    seq: r.seq,
    nativeRevision: r.nativeRevision,
    observedAt: r.observedAt,
    author,
    summary: diffSummary(r),
    changedFields: r.diff.length,
  };
}

/** Canonical fields a reader follows, in the order they are listed. */
const HEADLINE = ['state', 'nativeState', 'type', 'title', 'risk.level', 'plannedStart', 'plannedEnd', 'assignee', 'assignmentGroup', 'approvalStatus', 'plans.backout', 'plans.implementation', 'plans.test', 'closeCode'];

function short(value: unknown): string {
  if (value === undefined || value === null) return '(none)';
  const text = typeof value === 'string' ? value : typeof value === 'object' && 'name' in value ? String((value as { name: unknown }).name ?? (value as { id?: unknown }).id) : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function diffSummary(r: Revision): string[] {
  const byPath = new Map(r.diff.map((d) => [d.path, d]));
  if (r.seq === 1) {
    const state = byPath.get('state')?.to;
    return [`first seen${state === undefined ? '' : ` in state ${short(state)}`}`];
  }
  const lines: string[] = [];
  for (const path of HEADLINE) {
    const d = byPath.get(path) ?? [...byPath.values()].find((x) => x.path.startsWith(`${path}.`));
    if (d === undefined) continue;
    const whole = byPath.get(path);
    lines.push(whole === undefined ? `${path} changed` : `${path}: ${short(whole.from)} → ${short(whole.to)}`);
  }
  const canonical = r.diff.filter((d) => !d.path.startsWith('raw.') && !HEADLINE.some((p) => d.path === p || d.path.startsWith(`${p}.`)) && d.path !== 'updatedAt' && d.path !== 'nativeRevision');
  for (const d of canonical.slice(0, 5)) lines.push(`${d.path}: ${short(d.from)} → ${short(d.to)}`);
  if (canonical.length > 5) lines.push(`${canonical.length - 5} more fields`);
  const raw = r.diff.filter((d) => d.path.startsWith('raw.')).length;
  if (raw > 0) lines.push(`${raw} source field${raw === 1 ? '' : 's'} changed`);
  return lines;
}

export function approvalEntry(a: Approval, firstAt: string): ApprovalEntry {
  const approver = actor(a.approver);
  return {
    id: `approval:${a.id}`,
    at: approvalTime(a),
    firstAt,
    kind: 'approval',
    by: approver,
    ...(approver === null ? { byUnknown: 'the approval names no approver (a group approval not yet taken by a member)' } : {}),
    approver,
    group: actor(a.group),
    decision: a.state,
    nativeState: a.nativeState,
    decidedAt: a.decidedAt,
    requestedAt: a.requestedAt ?? null,
    comment: a.comment,
  };
}

/**
 * `assessment:<evaluatedAt>:<revision>`, the id an assessment has always had; a repeat (another of its revision was
 * evaluated at the same millisecond and stored before it) adds `#` and its store seq, 12 digits. `#` sorts before
 * the digits, so ids compare as the store pages them: by revision as text, then in the order they were stored.
 */
export function assessmentId(s: HistoryAssessment): string {
  const id = `assessment:${s.evaluatedAt}:${s.revision}`;
  return s.repeat ? `${id}#${String(s.seq).padStart(12, '0')}` : id;
}

export function assessmentEntry(s: HistoryAssessment): AssessmentEntry {
  const a = s.assessment;
  const blocked = new Map<CanonicalState, string[]>();
  for (const gate of a.gates) {
    if (a.allowedTransitions.includes(gate.into) || gate.result === 'pass' || gate.result === 'waived') continue;
    blocked.set(gate.into, [...(blocked.get(gate.into) ?? []), gate.reason]);
  }
  return {
    id: assessmentId(s),
    at: s.evaluatedAt,
    firstAt: s.evaluatedAt,
    kind: 'assessment',
    by: 'changegate',
    revision: s.revision,
    policyVersion: s.policyVersion,
    state: a.state,
    recommendation: a.scorecard.recommendation,
    allowed: a.allowedTransitions,
    blocked: [...blocked].map(([to, reasons]) => ({ to, reasons })),
    violations: a.violations.map((v) => `${v.gate}: ${v.reason}`),
    wroteBack: s.wroteBack,
  };
}

function writeBackWhat(item: OutboxItem): string {
  const p = item.payload;
  switch (p.action) {
    case 'set-verdict':
      return `verdict ${p.verdict.verdict} (allowed next: ${p.verdict.transitions.filter((t) => t.allowed).map((t) => t.to).join(', ') || 'none'})`;
    case 'comment':
      return `note "${p.note.title}"`;
    case 'transition':
      return `move from ${p.expectedNativeState} to ${p.toNativeState}`;
    case 'attach':
      return `attachment ${p.file.name}`;
  }
}

export function writeBackEntry(item: OutboxItem, key: string): WriteBackEntry {
  const posted = item.status === 'done' && item.result === 'written' ? item.finishedAt : null;
  return {
    id: `write-back:${String(item.id).padStart(12, '0')}`,
    at: item.finishedAt ?? item.createdAt,
    firstAt: item.createdAt,
    kind: 'write-back',
    by: 'changegate',
    action: item.action,
    what: writeBackWhat(item),
    ticket: key,
    nativeId: item.nativeId,
    source: item.source,
    status: item.status,
    attempts: item.attempts,
    createdAt: item.createdAt,
    postedAt: posted,
    result: item.result,
    error: item.lastError === null ? null : `${item.lastError.code}: ${item.lastError.message}`,
  };
}

export function enforcementEntry(e: EnforcementRecord): EnforcementEntry {
  return {
    id: `enforcement:${String(e.revision).padStart(8, '0')}`,
    at: e.recordedAt,
    firstAt: e.recordedAt,
    kind: 'enforcement',
    by: 'changegate',
    action: e.action,
    outcome: e.outcome,
    mode: e.mode,
    from: e.from,
    to: e.to,
    fromNative: e.fromNative,
    toNative: e.toNative,
    reasons: e.reasons,
    observedAt: e.observedAt,
    detail: e.detail,
  };
}
