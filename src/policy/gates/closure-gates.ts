// Gates into Closed and Canceled: hypercare has run its course with nothing
// critical firing (seed §8.8), the record is closed out (seed §10.8), an
// emergency change had its post-implementation review (seed §7.6), and a
// cancellation says why.

import type { EvidenceRef } from '../../domain/assessment.ts';
import type { CanonicalState, JournalEntry } from '../../domain/change.ts';
import { fieldRef, firingOn, isBlank, monitorRef, unwatched } from '../evidence.ts';
import { hypercareStart } from '../hypercare.ts';
import { mentions } from '../note-markers.ts';
import { lastMove } from '../state-moves.ts';
import { formatDuration, formatUtc } from '../zoned-time.ts';
import { defineGate, fail, listText, pass, pending, plural, type GateInput } from './gate.ts';

function journalRef(entry: JournalEntry): EvidenceRef {
  return { kind: 'journal', ref: entry.id, summary: `${entry.kind.replace('_', ' ')} by ${entry.author}`, url: null, at: entry.at };
}

/** Journal entries known at `now`, newest first, ties by id. */
function journalAt(entries: readonly JournalEntry[], now: number): JournalEntry[] {
  return entries.filter((e) => Date.parse(e.at) <= now).toSorted((a, b) => Date.parse(b.at) - Date.parse(a.at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export const hypercareElapsed = defineGate({
  id: 'closed.hypercare',
  check({ change, ctx, now, classification }, params) {
    const duration = params.durations[classification];
    const need = `${classification} changes need ${formatDuration(duration)} of hypercare`;
    const begun = hypercareStart(change, ctx.events.ci, ctx.policy.productionEnvironments, now);
    if (begun === null) return pending(`hypercare has not started: no actual end and no production deploy recorded; ${need}`);
    const start = begun.at;
    const from = begun.from === 'actual-end' ? 'the actual end' : 'the production deploy';
    const evidence: EvidenceRef[] = [];
    if (begun.from === 'production-deploy' && begun.deploy !== null) {
      const deploy = begun.deploy;
      evidence.push({ kind: 'ci', ref: deploy.id, summary: 'production deploy starts hypercare', url: deploy.url, at: deploy.finishedAt });
    } else evidence.push(fieldRef('actualEnd', `implementation ended ${formatUtc(start)}`));
    const ends = start + duration;
    if (now < ends) {
      return fail(`hypercare runs until ${formatUtc(ends)} (${formatDuration(ends - now)} left, from ${from} at ${formatUtc(start)}); ${need}`, evidence);
    }
    return pass(`hypercare of ${formatDuration(duration)} for ${classification} changes ended ${formatUtc(ends)}`, evidence);
  },
});

export const noAlertsFiring = defineGate({
  id: 'closed.no-alerts',
  // An alert on the service months after closure is not this change's violation.
  atEntryOnly: true,
  check({ change, ctx, now }, params) {
    const firing = firingOn(change, ctx.events.monitor, params.severities, now);
    const severities = listText(params.severities, 'or');
    const services = listText([...change.services, ...change.cis].map((r) => r.name ?? r.id));
    if (firing.length > 0) {
      const shown = firing.slice(0, 3).map((e) => `${e.severity} ${e.kind} "${e.title ?? e.fingerprint}" on ${e.service ?? services}`);
      const more = firing.length > 3 ? ` and ${firing.length - 3} more` : '';
      return fail(`${listText(shown)}${more} ${firing.length === 1 ? 'is' : 'are'} firing`, firing.map(monitorRef));
    }
    if (services === '') return pass(`no affected service or CI is named, so no ${severities} alert can be attributed`);
    const blind = unwatched(ctx.events.watch, services);
    if (blind !== null) return pending(blind);
    return pass(`no ${severities} alert or incident is firing on ${services}`);
  },
});

/** The latest comment or internal note since implementation ended (any, when it never recorded an end), known at `now`. */
function closingComment(journal: readonly JournalEntry[], actualEnd: string | null, now: number): JournalEntry | null {
  const since = actualEnd === null ? Number.NEGATIVE_INFINITY : Date.parse(actualEnd);
  return journalAt(journal, now).find((e) => !(Date.parse(e.at) < since) && e.text.trim() !== '') ?? null;
}

export const closeFields = defineGate({
  id: 'closed.close-fields',
  // Read only where a comment stands in for close notes (JSM), but a validating caller loads children by gate.
  reads: ['journal'],
  check({ mirrored, change, now }) {
    const standIn = isBlank(change.closeNotes) && change.standIns?.closeNotes === 'last-comment' ? closingComment(mirrored.journal, change.actualEnd, now) : null;
    const notesMissing = isBlank(change.closeNotes) && standIn === null;
    const plain: string[] = [];
    const problems: string[] = [];
    const evidence: EvidenceRef[] = [];
    if (isBlank(change.closeCode)) {
      plain.push('close code');
      evidence.push(fieldRef('closeCode', 'close code is empty'));
    }
    if (notesMissing) {
      evidence.push(fieldRef('closeNotes', 'close notes are empty'));
      const since = change.actualEnd === null ? '' : ` since implementation ended at ${formatUtc(Date.parse(change.actualEnd))}`;
      if (change.standIns?.closeNotes === 'last-comment') problems.push(`no comment${since} stands in for close notes (this site has no close notes field): comment on the change how it went`);
      else if (change.standIns?.closeNotes === 'none') problems.push('close notes: this site has no close notes field and the mapping lets nothing stand in for them');
      else plain.push('close notes');
    }
    if (plain.length > 0) problems.unshift(`${listText(plain)} ${plain.length === 1 ? 'is' : 'are'} not set`);
    if (problems.length > 0) {
      const verdict = fail(problems.join('; '), evidence);
      return notesMissing && change.standIns?.closeNotes === 'none'
        ? { ...verdict, hint: 'name the site\'s close notes field under fields.closeNotes in the mapping, or let the latest comment stand in (standIns.closeNotes: last-comment)' }
        : verdict;
    }
    if (standIn !== null) {
      return pass(`closed as "${change.closeCode}"; the comment by ${standIn.author} at ${formatUtc(Date.parse(standIn.at))} stands in for close notes`, [journalRef(standIn)]);
    }
    return pass(`closed as "${change.closeCode}" with close notes`);
  },
});

const BEFORE_IMPLEMENTATION: readonly CanonicalState[] = ['new', 'assess', 'authorize', 'scheduled'];
const IMPLEMENTED: readonly CanonicalState[] = ['implement', 'review', 'closed'];

function instant(iso: string | null): number | null {
  const t = iso === null ? Number.NaN : Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/**
 * When implementation began, as far as changegate knows at `now`: the actual
 * start; else the change's last move from planning into Implement (or past it)
 * that the mirror saw; else the end of implementation as hypercare reads it
 * (actual end, production deploy), by which it had begun at the latest.
 */
function implementationBegan({ change, ctx, now }: GateInput): { at: number; from: string } | null {
  const start = instant(change.actualStart);
  if (start !== null) return { at: start, from: 'the actual start' };
  const move = lastMove(ctx.moves, now, (m) => BEFORE_IMPLEMENTATION.includes(m.from) && IMPLEMENTED.includes(m.to));
  if (move !== null) return { at: Date.parse(move.at), from: `the move into ${move.to}` };
  const ended = hypercareStart(change, ctx.events.ci, ctx.policy.productionEnvironments, now);
  if (ended !== null) return { at: ended.at, from: ended.from === 'actual-end' ? 'the actual end' : 'the production deploy' };
  return null;
}

const noteBy = (entry: JournalEntry): string => `the ${entry.kind.replace('_', ' ')} by ${entry.author} at ${formatUtc(Date.parse(entry.at))}`;

export const postImplementationReview = defineGate({
  id: 'closed.pir',
  reads: ['journal'],
  // Without an actual start, the move into Implement says when implementation began; only a marked note needs placing.
  readsMoves: ({ change, journal }, classification, params) =>
    params.classes.includes(classification) && instant(change.actualStart) === null && journal.some((e) => mentions(e.text, params.markers)),
  check(input, params) {
    const { mirrored, change, classification, now } = input;
    if (!params.classes.includes(classification)) return pass(`${classification} changes need no post-implementation review`);
    // A review looks back on the implementation: a note written before it began (a plan to hold one) is none.
    const marked = journalAt(mirrored.journal, now).filter((e) => mentions(e.text, params.markers));
    const began = implementationBegan(input);
    const entry = began === null ? undefined : marked.find((e) => Date.parse(e.at) >= began.at);
    if (entry) return pass(`post-implementation review recorded in a ${entry.kind.replace('_', ' ')} by ${entry.author} at ${formatUtc(Date.parse(entry.at))}`, [journalRef(entry)]);
    if (mentions(change.closeNotes, params.markers)) return pass('post-implementation review recorded in the close notes', [fieldRef('closeNotes', 'carries the PIR marker')]);
    const marker = params.markers[0] ?? 'PIR';
    const need = `${classification} changes need a post-implementation review (seed §7.6)`;
    const early = marked[0];
    if (early === undefined) return fail(`${need}: none recorded; add a work note starting with ${marker}`);
    if (began === null) {
      return pending(
        `${need} recorded after implementation began, and nothing tells when it began (no actual start or end, no move into implement seen, no production deploy): ${noteBy(early)} cannot be placed`,
        [journalRef(early)],
      );
    }
    return fail(`${need} recorded after implementation began (${formatUtc(began.at)}, ${began.from}): ${noteBy(early)} was written before it; add a work note starting with ${marker}`, [journalRef(early)]);
  },
});

export const tasksClosed = defineGate({
  id: 'closed.tasks',
  check({ change }, params) {
    if (!Object.hasOwn(change.custom, params.field)) return pass(`change tasks are not mirrored (no custom field ${params.field}), so they are not checked`);
    const raw = change.custom[params.field] ?? null;
    const open = raw === null || raw.trim() === '' ? 0 : Number(raw);
    if (!Number.isInteger(open) || open < 0) return pending(`open change task count "${raw}" is not a number`, [fieldRef(`custom.${params.field}`, String(raw))]);
    if (open > 0) return fail(`${plural(open, 'change task')} ${open === 1 ? 'is' : 'are'} still open`, [fieldRef(`custom.${params.field}`, `${open} open`)]);
    return pass('all change tasks are closed');
  },
});

/**
 * Since when a note speaks for a cancellation judged at `now`: the change's
 * entry into the state it is canceled from (where it stands, for a move being
 * judged; the state it left, for a change already canceled). `since` is null
 * when the mirror never saw the change enter that state: every note counts then.
 */
function cancellationStage({ change, ctx, now }: GateInput): { state: CanonicalState; since: number | null } {
  let from = change.state;
  let until = now;
  if (change.state === 'canceled') {
    const cancel = lastMove(ctx.moves, now, (m) => m.to === 'canceled');
    if (cancel === null) return { state: from, since: null };
    from = cancel.from;
    until = Date.parse(cancel.at);
  }
  const entered = lastMove(ctx.moves, until, (m) => m.to === from);
  return { state: from, since: entered === null ? null : Date.parse(entered.at) };
}

export const cancellationReason = defineGate({
  id: 'canceled.reason',
  reads: ['journal'],
  // Only a marked note needs placing, and close notes make the journal moot.
  readsMoves: ({ change, journal }, _classification, params) => isBlank(change.closeNotes) && journal.some((e) => mentions(e.text, params.markers)),
  check(input, params) {
    const { mirrored, change, now } = input;
    if (!isBlank(change.closeNotes)) return pass('the close notes give the cancellation reason', [fieldRef('closeNotes', 'cancellation reason')]);
    // The reason for canceling is given where the change is canceled from: a note from an earlier stage
    // (a plan's "the vendor may cancel") speaks of something else.
    const marked = journalAt(mirrored.journal, now).filter((e) => mentions(e.text, params.markers));
    const { state, since } = cancellationStage(input);
    const entry = marked.find((e) => since === null || Date.parse(e.at) >= since);
    if (entry) return pass(`the cancellation reason is in a ${entry.kind.replace('_', ' ')} by ${entry.author}`, [journalRef(entry)]);
    const early = marked[0];
    if (early !== undefined && since !== null) {
      return fail(
        `no cancellation reason given since the change entered ${state} (${formatUtc(since)}): ${noteBy(early)} was written before; add close notes or a work note saying why the change is canceled`,
        [journalRef(early)],
      );
    }
    return fail('no cancellation reason: add close notes or a work note saying why the change is canceled');
  },
});

export const CLOSURE_GATES = [hypercareElapsed, noAlertsFiring, closeFields, postImplementationReview, tasksClosed, cancellationReason];
