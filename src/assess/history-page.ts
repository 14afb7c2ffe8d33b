// One page of a change's history: oldest or newest first, continued after the
// last entry of the previous page by an opaque cursor (its `firstAt` and id),
// so an entry added meanwhile never shifts a page (as an offset would), and one
// whose `at` moved meanwhile (a write-back settled, an approval decided) is
// neither skipped nor read again: it keeps its place.
//
// No kind is read whole: a change synced, re-assessed and enforced for months
// has thousands of revisions, write-backs, assessments and enforcement records,
// and a CAB asked member by member hundreds of approvals. The change store,
// the outbox and the assessment store hand out, by the same key, the
// `limit + 1` of each kind that follow the cursor; the page is the first
// `limit` of those, so memory and reads are bounded by the page, and every one
// is reached however many there are.

import type { MirroredChange } from '../domain/change.ts';
import { ChangegateError } from '../errors.ts';
import { ASSESSMENT_REVISION_FIRST, ASSESSMENT_REVISION_LAST, type AssessmentHistoryQuery, type EnforcementHistoryQuery } from '../store/assessment-store.ts';
import { instantKey } from '../store/instant-key.ts';
import { decodeListCursor, encodeListCursor } from '../store/list-cursor.ts';
import { APPROVAL_ID_FIRST, APPROVAL_ID_LAST, type ApprovalHistoryQuery, type RevisionHistoryQuery } from '../store/change-store.ts';
import type { OutboxHistoryQuery } from '../store/outbox-store.ts';
import { approvalEntry, assessmentEntry, compareEntries, enforcementEntry, revisionEntry, writeBackEntry, type HistoryDeps, type HistoryEntry } from './change-history.ts';

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

type Mark = Pick<HistoryEntry, 'firstAt' | 'id'>;

/** Write-back ids as writeBackEntry makes them: the outbox id, 12 digits, so they sort as text as by number. */
const WRITE_BACK = 'write-back:';
const WRITE_BACK_ID = /^write-back:(\d{12})$/;
/** Assessment ids as assessmentId makes them: `assessment:<evaluatedAt>:<revision>`, and `#<seq>` (12 digits) for a repeat. */
const ASSESSMENT = 'assessment:';
const ASSESSMENT_ID = /^assessment:.+:(\d+)(?:#(\d{12}))?$/;
/** Revision ids as revisionEntry makes them: the seq, 8 digits, so they sort as text as by number. */
const REVISION = 'revision:';
const REVISION_ID = /^revision:(\d{8})$/;
/** Approval ids as approvalEntry makes them: the source's record id. */
const APPROVAL = 'approval:';
/** Enforcement ids as enforcementEntry makes them: the revision, 8 digits. */
const ENFORCEMENT = 'enforcement:';
const ENFORCEMENT_ID = /^enforcement:(\d{8})$/;

function invalidCursor(reason: string): ChangegateError {
  return new ChangegateError('CG_INPUT_INVALID', `cursor is not a cursor this server issued (${reason}); start again without it`, { details: { field: 'cursor' } });
}

/** The cursor's position. A malformed cursor is CG_INPUT_INVALID naming `cursor`. */
function markOf(cursor: string, order: HistoryOrder): Mark {
  const position = decodeListCursor(cursor, `history-${order}`);
  if (Number.isNaN(Date.parse(position.updatedAt))) throw invalidCursor('no time');
  if (position.id.startsWith(WRITE_BACK) && !WRITE_BACK_ID.test(position.id)) throw invalidCursor('no write-back id');
  if (position.id.startsWith(ASSESSMENT) && !ASSESSMENT_ID.test(position.id)) throw invalidCursor('no assessment id');
  if (position.id.startsWith(REVISION) && !REVISION_ID.test(position.id)) throw invalidCursor('no revision id');
  if (position.id.startsWith(ENFORCEMENT) && !ENFORCEMENT_ID.test(position.id)) throw invalidCursor('no enforcement id');
  return { firstAt: position.updatedAt, id: position.id };
}

/**
 * The outbox position right at `mark`: at the mark's time, a write-back comes after it by its id.
 * Any other id sorts as text wholly before every write-back id or wholly after, so the bound is
 * then 0 or the largest id (all or none at that time, whichever the order).
 */
function outboxAfter(mark: Mark): NonNullable<OutboxHistoryQuery['after']> {
  const own = WRITE_BACK_ID.exec(mark.id);
  const id = own?.[1] !== undefined ? Number(own[1]) : mark.id < WRITE_BACK ? 0 : Number.MAX_SAFE_INTEGER;
  return { createdAt: mark.firstAt, id };
}

/**
 * The assessment position right at `mark`, as outboxAfter: at the mark's time (as the store holds times), an
 * assessment comes after it by its revision as text, then by seq (none: the first of that revision there); any
 * other id sorts wholly before every assessment id or wholly after.
 */
function assessmentsAfter(mark: Mark): NonNullable<AssessmentHistoryQuery['after']> {
  const own = ASSESSMENT_ID.exec(mark.id);
  const revision = own?.[1] ?? (mark.id < ASSESSMENT ? ASSESSMENT_REVISION_FIRST : ASSESSMENT_REVISION_LAST);
  return { evaluatedAt: instantKey(mark.firstAt), revision, seq: own?.[2] === undefined ? null : Number(own[2]) };
}

/**
 * The revision position right at `mark`, as outboxAfter: at the mark's instant (revisions are kept by the
 * instantKey of their `updatedAt`, which orders as Date.parse does in compareEntries), a revision comes after it by
 * its seq; any other id sorts wholly before every revision id or wholly after.
 */
function revisionsAfter(mark: Mark): NonNullable<RevisionHistoryQuery['after']> {
  const own = REVISION_ID.exec(mark.id)?.[1];
  const seq = own !== undefined ? Number(own) : mark.id < REVISION ? 0 : Number.MAX_SAFE_INTEGER;
  return { at: instantKey(mark.firstAt), seq };
}

/**
 * The enforcement position right at `mark`, as revisionsAfter: at the mark's instant (recorded times are instants
 * in UTC with milliseconds), a record comes after it by its revision; any other id sorts wholly before every
 * enforcement id or wholly after.
 */
function enforcementsAfter(mark: Mark): NonNullable<EnforcementHistoryQuery['after']> {
  const own = ENFORCEMENT_ID.exec(mark.id)?.[1];
  const revision = own !== undefined ? Number(own) : mark.id < ENFORCEMENT ? 0 : Number.MAX_SAFE_INTEGER;
  return { recordedAt: instantKey(mark.firstAt), revision };
}

/**
 * The approval position right at `mark`, as outboxAfter: at the mark's instant (approvals are kept by the
 * instantKey of their first time), an approval comes after it by its id; any other id sorts wholly before every
 * approval id or wholly after.
 */
function approvalsAfter(mark: Mark): NonNullable<ApprovalHistoryQuery['after']> {
  const id = mark.id.startsWith(APPROVAL) ? mark.id.slice(APPROVAL.length) : mark.id < APPROVAL ? APPROVAL_ID_FIRST : APPROVAL_ID_LAST;
  return { firstAt: instantKey(mark.firstAt), id };
}

/**
 * One page of the change's history. `total`: also how many entries it has in all (a count, not a
 * read). A malformed cursor is CG_INPUT_INVALID naming `cursor`.
 */
export async function changeHistoryPage(deps: HistoryDeps, mc: MirroredChange, query: HistoryPageQuery, options: { total?: boolean } = {}): Promise<HistoryPage & { total?: number }> {
  const mark = query.cursor === undefined ? null : markOf(query.cursor, query.order);
  const sign = query.order === 'asc' ? 1 : -1;
  const id = mc.change.id;
  const page = <T>(after: T | undefined) => ({ order: query.order, limit: query.limit + 1, ...(after === undefined ? {} : { after }) });
  const { instance, nativeId } = mc.change;
  const [approvals, revisions, items, assessments, enforcements, counted] = await Promise.all([
    deps.store.listApprovalsForHistory(instance, nativeId, page(mark === null ? undefined : approvalsAfter(mark))),
    deps.store.listRevisionsForHistory(id, page(mark === null ? undefined : revisionsAfter(mark))),
    deps.outbox.listForHistory(id, page(mark === null ? undefined : outboxAfter(mark))),
    deps.assessments.listAssessmentsForHistory(id, page(mark === null ? undefined : assessmentsAfter(mark))),
    deps.assessments.listEnforcementsForHistory(id, page(mark === null ? undefined : enforcementsAfter(mark))),
    options.total === true
      ? Promise.all([
          deps.store.countApprovals(instance, nativeId),
          deps.store.countRevisions(id),
          deps.outbox.countForChange(id),
          deps.assessments.countAssessments(id),
          deps.assessments.countEnforcements(id),
        ])
      : undefined,
  ]);
  // changegate's own reverts are told by the records of the revisions read: one at most each.
  const ofRevisions = await deps.assessments.enforcementsOf(id, revisions.map((r) => r.seq));
  const own = deps.ownWritesOf(instance);
  const following = [
    ...approvals.map((a) => approvalEntry(a.approval, a.firstAt)),
    ...revisions.map((r) => revisionEntry(r, own, ofRevisions)),
    ...items.map((i) => writeBackEntry(i, mc.change.key)),
    ...assessments.map(assessmentEntry),
    ...enforcements.map(enforcementEntry),
  ];
  following.sort((a, b) => sign * compareEntries(a, b));
  const listed = following.slice(0, query.limit);
  const last = listed.at(-1);
  const more = following.length > listed.length;
  return {
    items: listed,
    nextCursor: more && last !== undefined ? encodeListCursor({ updatedAt: last.firstAt, id: last.id }, `history-${query.order}`) : null,
    ...(counted === undefined ? {} : { total: counted.reduce((sum, n) => sum + n, 0) }),
  };
}
