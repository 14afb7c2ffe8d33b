// Write-back to a Jira (JSM) change issue: the `changegate.verdict` issue
// property the Forge workflow validator reads, ADF comments (JSM internal notes) carrying their
// idempotency key as a comment property, workflow transitions, and files (the
// evidence bundle, multipart with `X-Atlassian-Token: no-check`) with the
// `changegate.evidence` issue property naming the head they end at.
//
// Idempotency: a comment is posted only when no comment of the issue carries a
// `changegate` property with its key (found through Get comments by IDs with
// `expand=properties`, asking again for the ids a capped page left out); a transition only when the issue is still in the status
// it was judged in; a file only when the issue has no attachment of its name
// (the name carries the version). The posts go through a transport that does
// not retry by itself: a POST that timed out may have been applied, so the
// retry comes from the outbox, which checks again first.

import type { AttachOptions, CommentOptions, ConnectorWriter, EvidenceHead, NoteSeries, SaveCarries, TicketFile, TicketNote, TicketVerdict, TransitionOptions, WriteOutcome } from '../../src/kit/connector.ts';
import { NEGATION_WORDS } from '../../src/kit/note-negations.ts';
import { fitNote } from '../../src/kit/note-fit.ts';
import { headOf, markersFor, plainText } from '../../src/kit/ticket-note.ts';
import type { CanonicalState } from '../../src/domain/change.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import { asRecord, checkIssueRef } from './jira-api.ts';
import type { FieldResolution } from './jira-fields.ts';
import { isNotFound, type CallContext, type JiraHttp } from './jira-http.ts';
import type { JiraMapping } from './jira-mapping.ts';
import { escapeRegExp } from '../../src/kit/escape-regexp.ts';

export interface JiraWriterDeps {
  /** Reads and idempotent writes (the property), with the instance's retries. */
  http: JiraHttp;
  /** Comment posts and transitions: a transport that does not retry (defaults to `http`). */
  once?: JiraHttp;
  flavor: 'cloud' | 'datacenter';
  mapping: JiraMapping;
  /** The site's field ids for the mapping's references (names differ per site); without it, references are written as the mapping gives them. */
  fields?: () => Promise<FieldResolution>;
  /** The site's names of the status ids the mapping keys statuses by (cached); without it, or for an id the site lacks, the id is written. */
  statusNames?: (ids: readonly string[]) => Promise<ReadonlyMap<string, string>>;
}

export const VERDICT_PROPERTY = 'changegate.verdict';
export const COMMENT_PROPERTY = 'changegate';
/** Issue property naming the newest evidence bundle attached: `{seq, hash, file}`. */
export const EVIDENCE_PROPERTY = 'changegate.evidence';
const FILE_NAME = /^[A-Za-z0-9_.-]{1,200}$/;
/**
 * Marks a comment as a JSM internal note (agent-only, like a ServiceNow work note). A platform
 * comment on a JSM request is otherwise a reply to the customer: shown on the portal and mailed
 * to the requester, policy details and all. The Service Management comment endpoint could say
 * `public: false` too, but takes neither ADF nor the comment property the idempotency check reads.
 * Outside a JSM project the property is an ordinary comment property and changes nothing.
 */
const INTERNAL_NOTE = { key: 'sd.public.comment', value: { internal: true } };
/** Jira refuses a property value longer than this (characters of JSON). */
export const PROPERTY_MAX = 32_768;
/** Jira refuses a comment body longer than this (400, "The entered text is too long"). */
export const COMMENT_MAX = 32_767;
const PAGE = 100;
const IDS_PER_LOOKUP = 1000;

type Adf = Record<string, unknown>;

const text = (value: string, marks?: string[]): Adf => (marks ? { type: 'text', text: value, marks: marks.map((type) => ({ type })) } : { type: 'text', text: value });
const paragraph = (...content: Adf[]): Adf => ({ type: 'paragraph', content });
/**
 * A line's text with each `backticked` span as an ADF `code` mark (a command to
 * copy, a file name), the backticks dropped. A line with an odd number of
 * backticks is kept as it is: the pairing would be a guess.
 */
export function inlineCode(line: string): Adf[] {
  const parts = line.split('`');
  if (parts.length < 3 || parts.length % 2 === 0) return [text(line)];
  // ADF refuses an empty text node; an empty span (``) leaves nothing to show.
  return parts.flatMap((part, i) => (part === '' ? [] : [i % 2 === 1 ? text(part, ['code']) : text(part)]));
}
const prose = (line: string): Adf => paragraph(...inlineCode(line));
const cell = (type: 'tableHeader' | 'tableCell', value: string): Adf => ({ type, content: [paragraph(text(value === '' ? ' ' : value))] });

function adfTable(table: { columns: string[]; rows: string[][] }): Adf {
  return {
    type: 'table',
    attrs: { isNumberColumnEnabled: false, layout: 'default' },
    content: [
      { type: 'tableRow', content: table.columns.map((c) => cell('tableHeader', c)) },
      ...table.rows.map((row) => ({ type: 'tableRow', content: row.map((c) => cell('tableCell', c)) })),
    ],
  };
}

/**
 * The note as an ADF document: heading, a panel in the note's tone, the list,
 * the closing paragraphs (backticked spans in code), the part for
 * administrators collapsed in an `expand`, the marker in code.
 */
export function noteToAdf(note: TicketNote, marker: string): Adf {
  const content: Adf[] = [{ type: 'heading', attrs: { level: 3 }, content: [text(`changegate: ${note.title}`)] }];
  // A panel must hold at least one block.
  if (note.lines.length > 0) content.push({ type: 'panel', attrs: { panelType: note.tone }, content: note.lines.map(prose) });
  if (note.items && note.items.length > 0) {
    content.push({ type: 'bulletList', content: note.items.map((item) => ({ type: 'listItem', content: [prose(item)] })) });
  }
  for (const line of note.footer ?? []) content.push(prose(line));
  if (note.table && note.table.rows.length > 0) content.push(adfTable(note.table));
  if (note.details) {
    const inner: Adf[] = note.details.lines.map(prose);
    if (note.details.table && note.details.table.rows.length > 0) inner.push(adfTable(note.details.table));
    if (inner.length > 0) content.push({ type: 'expand', attrs: { title: note.details.title }, content: inner });
  }
  content.push(paragraph(text(marker, ['code'])));
  return { type: 'doc', version: 1, content };
}

/** Jira status ids are numbers: only a mapping key of digits may be one (and is looked up). */
const STATUS_ID = /^\d+$/;

/** A target status as the property names it: by the site's name, with the id when the mapping keyed it by one the site has. */
interface TargetStatus {
  toStatus: string;
  toStatusId?: string;
}

/** Statuses mapped to each canonical state, in the mapping's order; a key that is a status id named as the site names it. */
function statusesOf(mapping: JiraMapping, statusNames: ReadonlyMap<string, string>): Map<CanonicalState, TargetStatus[]> {
  const out = new Map<CanonicalState, TargetStatus[]>();
  for (const [status, canonical] of mapping.states) {
    const name = statusNames.get(status);
    const target = name === undefined ? { toStatus: status } : { toStatus: name, toStatusId: status };
    out.set(canonical, [...(out.get(canonical) ?? []), target]);
  }
  return out;
}

/** The site's id of a mapped field reference, or null when the site has none. */
export type FieldIdOf = (ref: string) => string | null;

/**
 * What a note typed on the transition screen must match, as a regular expression
 * over its lower-cased text: the marker, in a note with no negation anywhere. The
 * service reads a negation only just before the marker ("do not cancel"); the
 * validator's expression is too short a program for that, so it is stricter, and
 * the service judges the move afterwards as usual.
 */
export function notePattern(marker: string): string {
  const escaped = escapeRegExp(marker.toLowerCase());
  return `^(?![\\s\\S]*(?:\\b(?:${NEGATION_WORDS.join('|')})\\b|n['’]t\\b))[\\s\\S]*${escaped}`;
}

/**
 * A blocked move's `clearedBySave` in the names the validator expression reads:
 * per rule, the items of which one must be met, each the id of a field set on
 * the work item as transitioned (`resolution`) or `note:<pattern>` for a comment
 * typed on the transition screen. Null when a rule can only be met through a
 * field this site does not have.
 */
function clearedBySave(needs: SaveCarries[][], mapping: JiraMapping, fieldId: FieldIdOf): string[][] | null {
  const lists = needs.map((any) =>
    any.flatMap((c) => {
      if (!('field' in c)) return c.noteMentions.map((m) => `note:${notePattern(m)}`);
      const ref = mapping.fields[c.field];
      const id = ref === null ? null : fieldId(ref);
      return id === null ? [] : [id];
    }),
  );
  return lists.length === 0 || lists.some((l) => l.length === 0) ? null : lists;
}

/**
 * The property value: one entry per workflow status a move may reach (`to` is
 * canonical, `toStatus` the status's name, which the validator compares with the
 * transition's target name; for a status the mapping keys by id, `statusNames`
 * gives the site's name and `toStatusId` keeps the id), trimmed to fit Jira's
 * 32 KB limit by shortening, then dropping, reasons.
 */
export function verdictProperty(
  verdict: TicketVerdict,
  mapping: JiraMapping,
  fieldId: FieldIdOf = (ref) => ref,
  statusNames: ReadonlyMap<string, string> = new Map(),
): Record<string, unknown> {
  const statuses = statusesOf(mapping, statusNames);
  const bySave = new Map(verdict.transitions.map((t) => [t.to, t.allowed || t.clearedBySave === undefined ? null : clearedBySave(t.clearedBySave, mapping, fieldId)]));
  const build = (limit: number | null): Record<string, unknown> => {
    const cut = (reasons: string[]): string[] => (limit === null ? reasons : reasons.map((r) => (r.length > limit ? `${headOf(r, limit)}…` : r)));
    return {
      verdict: verdict.verdict,
      state: verdict.state,
      allowedTransitions: verdict.transitions.flatMap((t) =>
        (statuses.get(t.to) ?? [{ toStatus: t.to }]).map((target) => {
          const needs = bySave.get(t.to) ?? null;
          return { to: t.to, ...target, allowed: t.allowed, reasons: limit === 0 ? [] : cut(t.reasons), gates: t.gates ?? [], ...(needs === null ? {} : { clearedBySave: needs }) };
        }),
      ),
      reasons: limit === 0 ? [] : cut(verdict.reasons),
      policyVersion: verdict.policyVersion,
      assessedAt: verdict.assessedAt,
    };
  };
  for (const limit of [null, 500, 120, 0]) {
    const value = build(limit);
    if (JSON.stringify(value).length <= PROPERTY_MAX) return value;
  }
  return build(0);
}

/**
 * The comment body of a note: ADF on Cloud, text on Data Center, shortened
 * when longer than Jira takes. Whether Cloud counts the serialised ADF or only
 * its text is not documented, so the ADF is measured as the JSON sent.
 */
export function commentBody(note: TicketNote, marker: string, flavor: 'cloud' | 'datacenter'): Adf | string {
  const render = (n: TicketNote): Adf | string => (flavor === 'cloud' ? noteToAdf(n, marker) : plainText(n, marker));
  const length = (body: Adf | string): number => (typeof body === 'string' ? body.length : JSON.stringify(body).length);
  return render(fitNote(note, (n) => length(render(n)) <= COMMENT_MAX, 'a Jira comment'));
}

const ctx = (): CallContext => ({ calls: 0 });

/** The file as a multipart/form-data body with the one field Jira reads, `file`, serialised by the platform's own encoder. */
export async function multipartFile(file: TicketFile): Promise<{ data: Buffer; contentType: string }> {
  const form = new FormData();
  form.append('file', new Blob([file.content], { type: file.contentType }), file.name);
  const encoded = new Request('http://localhost/', { method: 'POST', body: form });
  return { data: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type') as string };
}

/** A status is named by its id or its name (names compare case-insensitively, as JQL does). */
const same = (status: { id: string; name: string }, ref: string): boolean => status.id === ref || status.name.toLowerCase() === ref.toLowerCase();

export function createJiraWriter(deps: JiraWriterDeps): ConnectorWriter {
  const { http, mapping } = deps;
  const once = deps.once ?? http;
  const instance = http.instanceId;
  const api = `/rest/api/${deps.flavor === 'cloud' ? '3' : '2'}`;
  const statusIds = [...mapping.states.keys()].filter((status) => STATUS_ID.test(status));

  /**
   * Ids of the issue's comments, newest first. Jira may answer fewer than asked
   * (`maxResults` is capped per operation), so the next page starts after the
   * comments that came, not after the number asked for.
   */
  async function commentIds(issue: string): Promise<string[]> {
    const ids: string[] = [];
    for (let startAt = 0; ; ) {
      const page = asRecord(await http.request({ path: `${api}/issue/${issue}/comment`, params: { startAt, maxResults: PAGE, orderBy: '-created' } }, ctx()));
      const comments = Array.isArray(page?.['comments']) ? (page['comments'] as unknown[]) : [];
      for (const c of comments) {
        const id = asRecord(c)?.['id'];
        if (typeof id === 'string' || typeof id === 'number') ids.push(String(id));
      }
      startAt += comments.length;
      const total = typeof page?.['total'] === 'number' ? page['total'] : null;
      if (comments.length === 0 || page?.['isLast'] === true || (total !== null && startAt >= total)) return ids;
    }
  }

  /**
   * The `changegate` property of each comment of `ids` that carries one. Get
   * comments by IDs answers a page and has no `startAt`: a site whose page cap
   * is below the number of ids answers part of them with `isLast: false`. The
   * ids not answered are asked again, in requests no larger than the page the
   * site answered (so each is answered whole, however the site counts), until
   * every id was in a request answered whole. Each partial answer shrinks the
   * request size, so the look-up ends after at most `ids.length` plus
   * `IDS_PER_LOOKUP` requests; an id never answered (deleted since the
   * listing, or a comment the caller may not see) simply has no property.
   */
  async function commentProperties(ids: string[]): Promise<Map<string, Record<string, unknown>>> {
    const ours = new Map<string, Record<string, unknown>>();
    let pending = ids;
    let size = IDS_PER_LOOKUP;
    while (pending.length > 0) {
      const asked = pending.slice(0, size);
      const page = asRecord(await http.request({ method: 'POST', path: `${api}/comment/list`, params: { expand: 'properties' }, json: { ids: asked.map(Number) } }, ctx()));
      const values = Array.isArray(page?.['values']) ? (page['values'] as unknown[]) : [];
      const answered = new Set<string>();
      for (const c of values) {
        const comment = asRecord(c);
        if (comment === null) continue;
        answered.add(String(comment['id']));
        const property = Array.isArray(comment['properties']) ? (comment['properties'] as unknown[]).map(asRecord).find((p) => p?.['key'] === COMMENT_PROPERTY) : undefined;
        const value = asRecord(property?.['value']);
        if (value !== null) ours.set(String(comment['id']), value);
      }
      const total = page?.['total'];
      const partial = page?.['isLast'] === false || (page?.['isLast'] === undefined && typeof total === 'number' && total > values.length);
      const rest = pending.slice(asked.length);
      if (!partial || asked.length === 1) {
        pending = rest;
        continue;
      }
      const cap = page?.['maxResults'];
      const fits = typeof cap === 'number' && cap >= 1 ? cap : Math.max(1, answered.size);
      size = Math.min(asked.length - 1, fits);
      pending = [...asked.filter((id) => !answered.has(id)), ...rest];
    }
    return ours;
  }

  /**
   * Is the note already on the issue? Yes when a comment carries its key, or
   * (a note of a series) when the newest comment of that series carries its
   * digest. Every comment is looked at, newest first, however many there are.
   */
  async function alreadyPosted(issue: string, idempotencyKey: string, series: NoteSeries | undefined): Promise<boolean> {
    const ids = await commentIds(issue);
    let newestOfSeriesSeen = false;
    for (let i = 0; i < ids.length; i += IDS_PER_LOOKUP) {
      const chunk = ids.slice(i, i + IDS_PER_LOOKUP);
      const ours = await commentProperties(chunk);
      // The look-up answers in its own order; the chunk keeps the newest-first order of the listing.
      for (const id of chunk) {
        const value = ours.get(id);
        if (value === undefined) continue;
        if (value['idempotencyKey'] === idempotencyKey) return true;
        const said = asRecord(value['series']);
        if (series !== undefined && !newestOfSeriesSeen && said !== null && said['name'] === series.name) {
          newestOfSeriesSeen = true;
          if (said['digest'] === series.digest) return true;
        }
      }
    }
    return false;
  }

  async function statusOf(issue: string): Promise<{ id: string; name: string }> {
    const body = asRecord(await http.request({ path: `${api}/issue/${issue}`, params: { fields: 'status' } }, ctx()));
    const status = asRecord(asRecord(body?.['fields'])?.['status']);
    if (status === null || typeof status['name'] !== 'string') {
      throw new ChangegateError('CG_JIRA_BAD_RESPONSE', `${instance}: Jira answered ${api}/issue/${issue} without a status`, { details: { instance, nativeId: issue } });
    }
    return { id: String(status['id'] ?? ''), name: status['name'] };
  }

  /** Mapped field references as the site's ids (resolved once per instance, as for reads); a reference the site lacks clears nothing. */
  async function fieldIds(): Promise<FieldIdOf> {
    if (deps.fields === undefined) return (ref) => ref;
    const { byRef } = await deps.fields();
    return (ref) => byRef.get(ref)?.id ?? null;
  }

  /** The site's names of the statuses the mapping keys by id; no request when it keys none so. */
  async function statusNames(): Promise<ReadonlyMap<string, string>> {
    return statusIds.length === 0 || deps.statusNames === undefined ? new Map() : deps.statusNames(statusIds);
  }

  async function attachmentNames(issue: string): Promise<Set<string>> {
    const body = asRecord(await http.request({ path: `${api}/issue/${issue}`, params: { fields: 'attachment' } }, ctx()));
    const list = asRecord(body?.['fields'])?.['attachment'];
    return new Set((Array.isArray(list) ? list : []).map((a) => asRecord(a)?.['filename']).filter((n): n is string => typeof n === 'string'));
  }

  /** Records the head the newest bundle ends at; never moves it back (an older version retried after a newer one). */
  async function recordEvidence(issue: string, head: EvidenceHead, file: string): Promise<void> {
    const path = `${api}/issue/${issue}/properties/${EVIDENCE_PROPERTY}`;
    let current: Record<string, unknown> | null = null;
    try {
      current = asRecord(asRecord(await http.request({ path }, ctx()))?.['value']);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const seq = current?.['seq'];
    if (typeof seq === 'number' && seq >= head.seq) return;
    await http.request({ method: 'PUT', path, json: { seq: head.seq, hash: head.hash, file } }, ctx());
  }

  return {
    async attach(nativeId, file, _idempotencyKey, options: AttachOptions = {}): Promise<WriteOutcome> {
      const issue = checkIssueRef(instance, nativeId);
      if (!FILE_NAME.test(file.name)) throw new ChangegateError('CG_INPUT_INVALID', `"${file.name}" is not a file name changegate attaches (letters, digits, ".", "-", "_")`, { details: { instance, file: file.name } });
      let outcome: WriteOutcome = 'already-done';
      if (!(await attachmentNames(issue)).has(file.name)) {
        const body = await multipartFile(file);
        try {
          await once.request({ method: 'POST', path: `${api}/issue/${issue}/attachments`, raw: body, headers: { 'X-Atlassian-Token': 'no-check' } }, ctx());
        } catch (err) {
          // Above the site's attachment size or the issue's attachment limit: Jira will say so again.
          if (isChangegateError(err, 'CG_JIRA_REQUEST_REJECTED') && err.details['status'] === 413) {
            throw new ChangegateError('CG_WRITE_REFUSED', `Jira refused the attachment ${file.name} (${Buffer.byteLength(file.content)} bytes): ${err.message}`, {
              cause: err,
              details: { instance, nativeId: issue, file: file.name, bytes: Buffer.byteLength(file.content) },
            });
          }
          throw err;
        }
        outcome = 'written';
      }
      // Also when the file was there: a crash may have come between the upload and the property.
      if (options.evidence !== undefined) await recordEvidence(issue, options.evidence, file.name);
      return outcome;
    },

    async setVerdict(nativeId, verdict) {
      const issue = checkIssueRef(instance, nativeId);
      await http.request({ method: 'PUT', path: `${api}/issue/${issue}/properties/${VERDICT_PROPERTY}`, json: verdictProperty(verdict, mapping, await fieldIds(), await statusNames()) }, ctx());
      return 'written';
    },

    async comment(nativeId, note, idempotencyKey, options: CommentOptions = {}): Promise<WriteOutcome> {
      const issue = checkIssueRef(instance, nativeId);
      if (await alreadyPosted(issue, idempotencyKey, options.series)) return 'already-done';
      const marker = markersFor(idempotencyKey, options.series);
      const body = commentBody(note, marker, deps.flavor);
      const value = options.series === undefined ? { idempotencyKey } : { idempotencyKey, series: options.series };
      await once.request({ method: 'POST', path: `${api}/issue/${issue}/comment`, json: { body, properties: [{ key: COMMENT_PROPERTY, value }, INTERNAL_NOTE] } }, ctx());
      return 'written';
    },

    async transition(nativeId, toNativeState, _idempotencyKey, options: TransitionOptions = {}): Promise<WriteOutcome> {
      const issue = checkIssueRef(instance, nativeId);
      const current = await statusOf(issue);
      if (same(current, toNativeState)) return 'already-done';
      if (options.expectedNativeState !== undefined && !same(current, options.expectedNativeState)) return 'superseded';
      const listed = asRecord(await http.request({ path: `${api}/issue/${issue}/transitions` }, ctx()));
      const transitions = Array.isArray(listed?.['transitions']) ? (listed['transitions'] as unknown[]) : [];
      const match = transitions.map(asRecord).find((t) => {
        const to = asRecord(t?.['to']);
        return to !== null && typeof to['name'] === 'string' && same({ id: String(to['id'] ?? ''), name: to['name'] }, toNativeState);
      });
      if (match === undefined || match === null) {
        throw new ChangegateError('CG_WRITE_REFUSED', `the workflow of ${issue} offers no transition from "${current.name}" to "${toNativeState}"`, {
          details: { instance, nativeId: issue, from: current.name, to: toNativeState },
        });
      }
      await once.request({ method: 'POST', path: `${api}/issue/${issue}/transitions`, json: { transition: { id: String(match['id']) } } }, ctx());
      return 'written';
    },
  };
}
