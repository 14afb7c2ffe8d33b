// Write-back to a ServiceNow change_request through the Table API: the verdict
// fields the update set adds (read by its before-update business rule), work
// notes carrying a `[changegate:<key>]` marker, state moves, and files (the
// evidence bundle) through the Attachment API.
//
// Idempotency: a work note is posted only when no work note of the change
// carries its marker yet (sys_journal_field) and, for a note of a series (the
// verdict), when the newest note of that series says something else (every note
// of its second, since notes of one second tie); a state move only when the
// record is still in the state it was judged in; a file only when the record
// has no attachment of its name (the name carries the version). The posts go
// through a client that does not retry by itself: a PATCH or upload that timed
// out may have been applied, so the retry comes from the outbox, which checks
// again first.

import type { CommentOptions, ConnectorWriter, NoteSeries, TicketFile, TicketVerdict, TransitionOptions, WriteOutcome } from '../../src/kit/connector.ts';
import { headOf, markerFor, markersFor, plainText, seriesDigestIn, seriesNeedle, stateLabel } from '../../src/kit/ticket-note.ts';
import type { CanonicalState } from '../../src/domain/change.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import { fieldValue } from './field-value.ts';
import { htmlWorkNote } from './work-note-html.ts';
import type { ServiceNowClient } from './servicenow-client.ts';
import type { ServiceNowMapping } from './servicenow-mapping.ts';
import type { Logger } from '../../src/kit/logger.ts';
import { VERDICT_FIELDS as UPDATE_SET_FIELDS } from './plugin/update-set-records.ts';

export interface ServiceNowWriterDeps {
  /** Reads and idempotent writes (verdict fields), with the instance's retries. */
  client: ServiceNowClient;
  /** Journal appends and state moves: a client that does not retry (defaults to `client`). */
  once?: ServiceNowClient;
  mapping: ServiceNowMapping;
  /** `html`: work notes as HTML inside `[code]` (work-note-html.ts); plain text otherwise. */
  workNotes?: 'text' | 'html';
  /** Told once per writer when a field a later update set added is missing (see OPTIONAL_VERDICT_FIELDS). */
  logger?: Logger;
}

/** The fields the changegate update set defines on change_request. */
export const VERDICT_FIELDS = {
  verdict: 'u_changegate_verdict',
  allowed: 'u_changegate_allowed',
  reasons: 'u_changegate_reasons',
  policyVersion: 'u_changegate_policy_version',
  assessedAt: 'u_changegate_assessed_at',
  allowedWithReason: 'u_changegate_allowed_with_reason',
} as const;

/**
 * Verdict fields a later update set added, which the business rule of an earlier one does not read: an instance
 * still on that update set lacks them, and its verdicts stand without them (a warning says what the new one adds).
 * The others are the verdict: without any of them the rule reads none.
 */
const OPTIONAL_VERDICT_FIELDS: ReadonlySet<string> = new Set([VERDICT_FIELDS.allowedWithReason]);

/** Each verdict field's `max_length` as the update set creates it: the instance cuts a longer value to it. */
const COLUMN_MAX = new Map(UPDATE_SET_FIELDS.map((f) => [f.element, Number(f.maxLength)]));

/** The column of u_changegate_allowed_with_reason; a longer text is not written (the moves stay blocked, as before). */
const ALLOWED_WITH_REASON_MAX = 1000;
/** The business rule's names for what a save carries. */
const SAVE_FIELDS = { closeCode: 'close_code', closeNotes: 'close_notes' } as const;

const CHANGE_TABLE = 'change_request';
/** A string field's usual maximum length on an instance. */
const REASONS_MAX = 4000;
const SYS_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** No `^` (it would split the encoded query that looks the name up), no path separators. */
const FILE_NAME = /^[A-Za-z0-9_.-]{1,200}$/;
/** Notes of a series read to find the newest: room for several posted within the same second. */
const SERIES_LOOKBACK = 10;

/** `2026-03-02T09:00:00.000Z` → `2026-03-02 09:00:00`, the internal (UTC) form the Table API takes. */
export function glideDateTime(iso: string): string {
  return new Date(iso).toISOString().slice(0, 19).replace('T', ' ');
}

function checkFileName(instance: string, file: TicketFile): string {
  if (!FILE_NAME.test(file.name)) throw new ChangegateError('CG_INPUT_INVALID', `"${file.name}" is not a file name changegate attaches (letters, digits, ".", "-", "_")`, { details: { instance, file: file.name } });
  return file.name;
}

function checkSysId(instance: string, sysId: string): string {
  if (!SYS_ID.test(sysId)) throw new ChangegateError('CG_INPUT_INVALID', `"${sysId}" is not a ServiceNow sys_id`, { details: { instance, nativeId: sysId } });
  return sysId;
}

/** Native state values for each canonical state, in the mapping's order. */
function nativeStates(mapping: ServiceNowMapping): Map<CanonicalState, string[]> {
  const out = new Map<CanonicalState, string[]>();
  for (const [native, canonical] of mapping.states) out.set(canonical, [...(out.get(canonical) ?? []), native]);
  return out;
}

/**
 * The blocked moves a save can unblock by itself (a cancellation with its reason
 * typed in the same save), as JSON the business rule parses: native state value →
 * what the save must carry, every list met by one of its items: `"close_notes"`,
 * `"close_code"` (set in the saved record) or `"note:<marker>"` (a work note or
 * comment typed in the save mentions it). Empty when no move qualifies.
 */
function allowedWithReason(verdict: TicketVerdict, natives: Map<CanonicalState, string[]>): string {
  const moves: Record<string, string[][]> = {};
  for (const t of verdict.transitions) {
    if (t.allowed || t.clearedBySave === undefined) continue;
    const needs = t.clearedBySave.map((any) => any.flatMap((c) => ('field' in c ? [SAVE_FIELDS[c.field]] : c.noteMentions.map((m) => `note:${m}`))));
    for (const native of natives.get(t.to) ?? []) moves[native] = needs;
  }
  const text = Object.keys(moves).length === 0 ? '' : JSON.stringify(moves);
  return text.length > ALLOWED_WITH_REASON_MAX ? '' : text;
}

/**
 * The verdict as fields. `u_changegate_allowed` holds the native state values
 * the change may move to (`-2,4`): the business rule compares `current.state`
 * with them. `u_changegate_reasons` has one line per blocked move, starting
 * with the native value, then the current state's failing checks.
 */
export function verdictFields(verdict: TicketVerdict, mapping: ServiceNowMapping): Record<string, string> {
  const natives = nativeStates(mapping);
  const allowed = verdict.transitions.filter((t) => t.allowed).flatMap((t) => natives.get(t.to) ?? []);
  const blocked = verdict.transitions
    .filter((t) => !t.allowed)
    .map((t) => `${(natives.get(t.to) ?? []).join('/') || t.to} (${t.toName ?? stateLabel(t.to)}): ${t.reasons.join('; ')}`);
  // Not a move: a line without "<values> (<label>): ", which the business rule shows only when no line names the attempted move.
  const breaches = (verdict.breaches ?? []).map((b) => `Not met now: ${b}`);
  let reasons = [...blocked, ...breaches].join('\n');
  if (reasons.length > REASONS_MAX) reasons = `${headOf(reasons, REASONS_MAX - 1)}…`;
  return {
    [VERDICT_FIELDS.verdict]: verdict.verdict,
    [VERDICT_FIELDS.allowed]: allowed.join(','),
    [VERDICT_FIELDS.allowedWithReason]: allowedWithReason(verdict, natives),
    [VERDICT_FIELDS.reasons]: reasons,
    [VERDICT_FIELDS.policyVersion]: verdict.policyVersion,
    [VERDICT_FIELDS.assessedAt]: glideDateTime(verdict.assessedAt),
  };
}

/**
 * Did the instance store what was sent? The same text, or, for a text longer than its
 * column, a beginning of it (the instance cuts it without a word). Read with
 * display values off, so the date-time comes back in the UTC form glideDateTime sent.
 */
function took(sent: string, got: string | undefined, field: string): boolean {
  if (got === sent) return true;
  const max = COLUMN_MAX.get(field);
  return got !== undefined && got !== '' && max !== undefined && sent.length > max && sent.startsWith(got);
}

export function createServiceNowWriter(deps: ServiceNowWriterDeps): ConnectorWriter {
  const { client, mapping } = deps;
  /** Optional fields already warned of, once per writer (per process and instance). */
  const warned = new Set<string>();
  const once = deps.once ?? client;
  const instance = client.instanceId;
  const stateField = mapping.fields.state;

  function gone(sysId: string): ChangegateError {
    return new ChangegateError('CG_NOT_FOUND', `${instance}: change_request ${sysId} no longer exists (or the API user may not see it)`, {
      details: { instance, nativeId: sysId },
    });
  }

  async function hasNote(sysId: string, marker: string): Promise<boolean> {
    // `^` separates conditions in an encoded query; keys never contain one, but a doubled caret keeps it literal if one did.
    const value = marker.replaceAll('^', '^^');
    const page = await client.getTable('sys_journal_field', {
      sysparm_query: `element_id=${sysId}^element=work_notes^valueLIKE${value}`,
      sysparm_fields: 'sys_id',
      sysparm_limit: 1,
    });
    return page.records.length > 0;
  }

  /**
   * Is the newest work note of the series (by creation) the same note? Read from the ticket, not the store.
   * sys_created_on has one-second resolution and the instance returns tied rows in no set order, so every
   * note of the newest second must carry the digest. A second that holds another digest, or that fills
   * the whole lookback with more behind it, cannot say which note is newest: posting again is the safe
   * side (a repeated note is milder than a missing one).
   */
  async function newestOfSeriesIs(sysId: string, series: NoteSeries): Promise<boolean> {
    const page = await client.getTable('sys_journal_field', {
      sysparm_query: `element_id=${sysId}^element=work_notes^valueLIKE${seriesNeedle(series.name).replaceAll('^', '^^')}^ORDERBYDESCsys_created_on`,
      sysparm_fields: 'value,sys_created_on',
      sysparm_limit: SERIES_LOOKBACK,
    });
    const notes = page.records
      .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
      .map((r) => ({ createdOn: fieldValue(r, 'sys_created_on'), text: fieldValue(r, 'value') }));
    const newest = notes[0]?.createdOn;
    if (newest === undefined || newest === '') return false;
    const tied = notes.filter((n) => n.createdOn === newest);
    if (tied.length === notes.length && page.hasNext) return false;
    return tied.every((n) => n.text !== undefined && seriesDigestIn(n.text, series.name) === series.digest);
  }

  return {
    async setVerdict(nativeId, verdict) {
      const sysId = checkSysId(instance, nativeId);
      const fields = verdictFields(verdict, mapping);
      // The Table API answers 200 to a field it does not have (the update set is not installed) or that a
      // field ACL keeps the API user from writing, and leaves it as it was: only the record it sends back tells.
      const { record } = await client.patchRecord(CHANGE_TABLE, sysId, fields, { sysparm_fields: ['sys_id', ...Object.keys(fields)].join(','), sysparm_display_value: 'false' });
      if (record === null) throw gone(sysId);
      const notTaken = Object.entries(fields)
        .filter(([field, sent]) => !took(sent, fieldValue(record, field), field))
        .map(([field]) => field);
      const ignored = notTaken.filter((field) => !OPTIONAL_VERDICT_FIELDS.has(field));
      const older = notTaken.filter((field) => OPTIONAL_VERDICT_FIELDS.has(field) && !warned.has(field));
      for (const field of older) {
        warned.add(field);
        deps.logger?.warn(
          { instance, field },
          `${instance}: change_request has no ${field} the API user may write (an earlier changegate update set); verdicts are written without it, so the business rule cannot let a move through on a reason typed in the same save: install the current update set`,
        );
      }
      if (ignored.length > 0) {
        throw new ChangegateError(
          'CG_WRITE_REFUSED',
          `${instance}: ServiceNow answered the verdict's write to change_request ${sysId} but did not store ${ignored.join(', ')} (the fields do not exist, or the API user may not write or read them); ` +
            'install the changegate update set and grant the integration user write on those fields, so the business rule reads a verdict',
          { details: { instance, nativeId: sysId, fields: ignored } },
        );
      }
      return 'written';
    },

    async comment(nativeId, note, idempotencyKey, options: CommentOptions = {}): Promise<WriteOutcome> {
      const sysId = checkSysId(instance, nativeId);
      if (await hasNote(sysId, markerFor(idempotencyKey))) return 'already-done';
      if (options.series !== undefined && (await newestOfSeriesIs(sysId, options.series))) return 'already-done';
      const markers = markersFor(idempotencyKey, options.series);
      const { record } = await once.patchRecord(CHANGE_TABLE, sysId, { work_notes: deps.workNotes === 'html' ? htmlWorkNote(note, markers) : plainText(note, markers) }, { sysparm_fields: 'sys_id' });
      if (record === null) throw gone(sysId);
      return 'written';
    },

    async transition(nativeId, toNativeState, _idempotencyKey, options: TransitionOptions = {}): Promise<WriteOutcome> {
      const sysId = checkSysId(instance, nativeId);
      const { record } = await client.getRecord(CHANGE_TABLE, sysId, { sysparm_fields: stateField });
      if (record === null) throw gone(sysId);
      const current = fieldValue(record, stateField);
      if (current === toNativeState) return 'already-done';
      if (options.expectedNativeState !== undefined && current !== options.expectedNativeState) return 'superseded';
      try {
        const patched = await once.patchRecord(CHANGE_TABLE, sysId, { [stateField]: toNativeState }, { sysparm_fields: `sys_id,${stateField}`, sysparm_display_value: 'false' });
        if (patched.record === null) throw gone(sysId);
        // A field ACL that keeps the API user from writing the state is not an error to the Table API: 200, the state as it was.
        if (current !== undefined && fieldValue(patched.record, stateField) === current) {
          throw new ChangegateError(
            'CG_WRITE_REFUSED',
            `${instance}: ServiceNow answered the move of change_request ${sysId} from state ${current} to ${toNativeState} but did not store ${stateField}; grant the integration user write on change_request.${stateField}`,
            { details: { instance, nativeId: sysId, from: current, to: toNativeState, fields: [stateField] } },
          );
        }
      } catch (err) {
        // A before-update business rule (the legacy state models among them) answers 403 and will again.
        if (isChangegateError(err, 'CG_SN_FORBIDDEN')) {
          const said = err.details['error'] as { message: string | null; detail: string | null } | null | undefined;
          const why = said?.detail ?? said?.message ?? err.message;
          throw new ChangegateError('CG_WRITE_REFUSED', `ServiceNow refused to move the change from state ${current ?? '?'} to ${toNativeState}: ${why}`, {
            cause: err,
            details: { instance, nativeId: sysId, from: current ?? null, to: toNativeState },
          });
        }
        throw err;
      }
      return 'written';
    },

    async attach(nativeId, file): Promise<WriteOutcome> {
      const sysId = checkSysId(instance, nativeId);
      const name = checkFileName(instance, file);
      const found = await client.listAttachments(`table_sys_id=${sysId}^table_name=${CHANGE_TABLE}^file_name=${name}`, { sysparm_fields: 'sys_id', sysparm_limit: 1 });
      if (found.records.length > 0) return 'already-done';
      const data = Buffer.from(file.content, 'utf8');
      try {
        const { record } = await once.uploadAttachment(CHANGE_TABLE, sysId, { name, contentType: file.contentType, data });
        if (record === null) throw gone(sysId);
      } catch (err) {
        // Too large for com.glide.attachment.max_size, or a type glide.attachment.extensions does not allow: the instance will say so again.
        if (isChangegateError(err, 'CG_SN_REQUEST_REJECTED')) {
          const said = err.details['error'] as { message: string | null; detail: string | null } | null | undefined;
          throw new ChangegateError('CG_WRITE_REFUSED', `ServiceNow refused the attachment ${name} (${data.byteLength} bytes): ${said?.message ?? err.message}`, {
            cause: err,
            details: { instance, nativeId: sysId, file: name, bytes: data.byteLength },
          });
        }
        throw err;
      }
      return 'written';
    },
  };
}
