// The Connector interface. A connector declares what it reads (one page at a
// time, per stream), how it fetches one record again and how it verifies a
// webhook. Scheduling, retries' loop, cursors and persistence live in src/sync.

import type { Approval, CanonicalState, Change, JournalEntry, System } from '../domain/change.ts';
import type { ChangegateError } from '../errors.ts';

/** Who made a version of a change, as the source names them. */
export interface RevisionAuthor {
  /** The source's user id (ServiceNow user name, Jira accountId). */
  id: string;
  name: string | null;
  /** An e-mail address the source gives beside the id. */
  email?: string;
}

/** Composite keyset position: `(updatedAt, id)`, never a bare timestamp. */
export interface StreamCursor {
  /** ISO-8601 UTC. */
  updatedAt: string;
  /** Native id; ties on `updatedAt` are broken by it, in the source's sort order. */
  id: string;
}

/** How changegate's own write-backs show up in the revisions of an instance's changes. */
export interface OwnWrites {
  /** The integration user as revision authors name it (a user id, or an e-mail matched against the author's); empty when unknown. */
  users: readonly string[];
  /** Diff paths (`raw.u_changegate_verdict`, `raw.fields.comment`) changegate's writes change; a path matches itself and anything below it. */
  paths: readonly string[];
}

/** One thing a page yields, already mapped to the canonical model. */
export type StreamItem =
  /** `author`: who made this version, when the source says (stored with the revision; absent: not named). */
  | { kind: 'change'; change: Change; author?: RevisionAuthor | null }
  | { kind: 'approval'; changeNativeId: string; approval: Approval }
  | { kind: 'journal'; changeNativeId: string; entry: JournalEntry }
  /** A record that could not be mapped. It is reported and counted; the sync carries on. */
  | { kind: 'invalid'; ref: string; error: ChangegateError };

export interface PageRequest {
  stream: string;
  /** Read rows strictly after this key (null: from the beginning). */
  after: StreamCursor | null;
  /**
   * Rows to skip past `after`. Normally 0; the engine raises it only when a page
   * came back empty although the source matched more rows (ServiceNow applies
   * ACLs after `sysparm_limit`, so a page can be short or empty mid-stream).
   */
  offset: number;
  pageSize: number;
  signal?: AbortSignal;
}

export interface PageResult {
  items: StreamItem[];
  /** Last key of the rows this page returned (including invalid rows that had a key); null if none. */
  last: StreamCursor | null;
  /** Rows the source matched for this request before paging (`X-Total-Count`); null if unknown. */
  total: number | null;
  /** The source says more rows follow this page. */
  hasMore: boolean;
  /** HTTP requests this page cost (for the API-call budget in metrics and benchmarks). */
  apiCalls: number;
}

export interface StreamDeclaration {
  /** Stable name; cursors are stored per `(instance, stream)`. */
  name: string;
  description: string;
}

export interface WebhookVerification {
  ok: boolean;
  /** Stable error code when not ok. */
  code?: 'CG_WEBHOOK_SIGNATURE_INVALID' | 'CG_WEBHOOK_SIGNATURE_MISSING';
}

export interface ConnectorWebhook {
  /** Verify on the raw bytes, timing-safe. */
  verify(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookVerification;
  /** Delivery id for de-duplication, if the source sends one. */
  deliveryId(headers: Record<string, string | string[] | undefined>): string | null;
  /** Native record ids the delivery is about; the engine re-fetches them, never trusting the payload. */
  toRecordIds(body: unknown): string[];
}

/**
 * A work note or comment as structured text: ServiceNow writers render it as a
 * plain-text work note, Jira writers as an ADF document.
 */
export interface TicketNote {
  title: string;
  tone: 'info' | 'success' | 'warning' | 'error';
  /** Paragraphs, in order: what blocks and what to do come first. */
  lines: string[];
  /** A bullet list after the paragraphs (each reason once). */
  items?: string[];
  /** Paragraphs after the list: context (the moves open, the scorecard, when and under which policy). */
  footer?: string[];
  table?: { columns: string[]; rows: string[][] };
  /**
   * What only a policy administrator needs (rule ids, advice on the policy):
   * collapsed in Jira, a trailing section of a ServiceNow work note.
   */
  details?: { title: string; lines: string[]; table?: { columns: string[]; rows: string[][] } };
  /**
   * The change the note speaks about (its key): a writer that must shorten the
   * note to fit the ticket system says where the whole of it is. Absent in a
   * note queued by an older release.
   */
  changeKey?: string;
}

/** One lifecycle move the verdict speaks about, in canonical terms; each writer names the native states. */
export interface TicketTransitionVerdict {
  to: CanonicalState;
  /** The target as the site names it ("Implementing", "Scheduled"); absent in a verdict queued by an older release. */
  toName?: string;
  allowed: boolean;
  /** Why not, each reason once, in plain words (empty when allowed). */
  reasons: string[];
  /** The rules behind the reasons, for administrators; absent in a verdict queued by an older release. */
  gates?: string[];
  /**
   * Present when every rule blocking this move is one the moving save can meet
   * itself (a cancellation reason typed with the move): one list per rule, of
   * what meets it; the move is allowed when the save meets every rule.
   */
  clearedBySave?: SaveCarries[][];
}

/** What a save can carry to meet a rule: the close code or close notes set, or a note typed in it that mentions a marker. */
export type SaveCarries = { field: 'closeCode' | 'closeNotes' } | { noteMentions: string[] };

/** What an in-ITSM plugin reads to block an illegal transition without calling out. */
export interface TicketVerdict {
  /** `blocked` when the next forward move is not allowed or a gate of the current state fails now. */
  verdict: 'allowed' | 'blocked';
  state: CanonicalState;
  transitions: TicketTransitionVerdict[];
  /** Summary lines for a reason field: each reason once, naming what it blocks in the site's own state names. */
  reasons: string[];
  /** Checks of the state the change is in that fail now, in plain words (also among `reasons`); absent in a verdict queued by an older release. */
  breaches?: string[];
  policyVersion: string;
  assessedAt: string;
}

/** `written`: posted now; `already-done`: the marker (or the target state) was already there; `superseded`: the ticket moved on, nothing to do. */
export type WriteOutcome = 'written' | 'already-done' | 'superseded';

/**
 * A note that stands for the latest state of something (the verdict note): it
 * is already on the ticket when the newest changegate note of the same series
 * carries the same digest, whatever key that note was posted under. So a note
 * is not posted twice for the same decision even when the store that knew the
 * key was lost, restored from a backup or replaced; a decision that comes back
 * after another (A, B, A) is posted again, since the newest note says B.
 */
export interface NoteSeries {
  /** Stable name (`verdict`); letters, digits and dashes. */
  name: string;
  /** What the note says, reduced to a short hash; equal digests mean the same note. */
  digest: string;
}

export interface CommentOptions {
  series?: NoteSeries;
}

export interface TransitionOptions {
  /** Move only if the ticket is still in this native state; otherwise the move is `superseded` (someone acted meanwhile). */
  expectedNativeState?: string;
}

/** A file for the ticket (the evidence bundle): its name is its marker, so it carries what makes it unique. */
export interface TicketFile {
  /** Letters, digits, dots, dashes and underscores; unique per version of what it holds. */
  name: string;
  contentType: string;
  /** The file's text (UTF-8 on the wire). */
  content: string;
}

/** Which evidence the attached bundle ends at: a Jira writer records it in the `changegate.evidence` issue property. */
export interface EvidenceHead {
  seq: number;
  hash: string;
}

export interface AttachOptions {
  evidence?: EvidenceHead;
}

/**
 * Writes back to the ticket. Every call carries an idempotency key the connector
 * checks before posting (a marker in the work note, a comment property, the
 * target state), so a retried or replayed call never posts twice. A refusal the
 * ticket system will repeat (a business rule, no such workflow transition) is
 * thrown with a `config`-kind error.
 */
export interface ConnectorWriter {
  /** Without a series: already done when any changegate note of the ticket carries the key. With one: see NoteSeries. */
  comment(nativeId: string, note: TicketNote, idempotencyKey: string, options?: CommentOptions): Promise<WriteOutcome>;
  transition(nativeId: string, toNativeState: string, idempotencyKey: string, options?: TransitionOptions): Promise<WriteOutcome>;
  /** Overwrites the verdict the plugins read (fields or an issue property); idempotent by nature. */
  setVerdict(nativeId: string, verdict: TicketVerdict, idempotencyKey: string): Promise<WriteOutcome>;
  /**
   * Attaches a file unless the ticket already has an attachment of that name (the marker: a
   * crash after the ticket system stored it and before the outbox settled leaves one copy).
   * Earlier files stay. Absent: the system takes no attachments from changegate.
   */
  attach?(nativeId: string, file: TicketFile, idempotencyKey: string, options?: AttachOptions): Promise<WriteOutcome>;
}

/** One configured instance of a connector, ready to read. */
export interface ConnectorInstance {
  readonly system: System;
  readonly instanceId: string;
  /**
   * Streams in the order the engine syncs them. The last carries the changes
   * themselves, with or after their children (approvals, notes): its pages are
   * judged as they are stored, while the next page is fetched.
   */
  readonly streams: readonly StreamDeclaration[];
  readPage(request: PageRequest): Promise<PageResult>;
  /** Re-fetch one change and its children by native id (webhooks, reconcile). Null when it no longer exists. */
  fetchOne(nativeId: string, signal?: AbortSignal): Promise<StreamItem[] | null>;
  webhook?: ConnectorWebhook;
  writer?: ConnectorWriter;
  close?(): Promise<void>;
}
