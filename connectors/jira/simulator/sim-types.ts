// Shapes of the simulator's in-memory state. Field values are stored in one
// internal form per field kind (see field-catalog.ts) and rendered per API
// flavour on the way out, so a v2 read, a v3 read and a webhook all see the
// same data in their own dialect.

export type Flavor = 'cloud' | 'datacenter';

export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: Record<string, unknown>[];
}

export interface SimUser {
  accountId: string;
  /** Data Center identity: username and user key. */
  name: string;
  key: string;
  displayName: string;
  emailAddress: string;
  timeZone: string;
  active: boolean;
}

export interface SimProject {
  id: string;
  key: string;
  name: string;
  serviceDeskId: string;
}

export interface HistoryItem {
  field: string;
  fieldtype: 'jira' | 'custom';
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
  tmpFromAccountId?: string | null;
  tmpToAccountId?: string | null;
}

export interface SimHistory {
  id: string;
  authorId: string;
  created: number;
  items: HistoryItem[];
}

export interface SimComment {
  id: string;
  authorId: string;
  body: AdfDoc;
  created: number;
  updated: number;
  /** JSM agent-only note (jsdPublic: false). */
  internal: boolean;
  /** Comment entity properties sent with the comment (`properties: [{key, value}]`), listed by `POST /comment/list?expand=properties`. */
  properties?: { key: string; value: unknown }[];
}

export interface SimAttachment {
  id: string;
  filename: string;
  mimeType: string;
  size: number;
  created: number;
  authorId: string;
  content: Uint8Array;
}

export type Decision = 'pending' | 'approved' | 'declined';

export interface SimApproval {
  id: string;
  name: string;
  created: number;
  completed: number | null;
  /** Approvals needed for an `approved` final decision (JSM's "number of approvers" condition). */
  required: number;
  approvers: { accountId: string; decision: Decision }[];
  finalDecision: Decision;
}

/** The versioned part of an issue: what search indexes and what lags behind. */
export interface IssueState {
  /** Internal-form values by field id; `created`/`updated` are epoch ms. */
  fields: Record<string, unknown>;
  /**
   * How many of the issue's histories and comments (both append-only) this
   * version had: a search serving an older version shows its changelog and
   * comments too, never a newer changelog beside older fields.
   */
  histories: number;
  comments: number;
}

export interface SimIssue {
  id: string;
  key: string;
  num: number;
  project: SimProject;
  created: number;
  state: IssueState;
  /** What search sees while the last write is younger than searchLagMs; null = not indexed yet. */
  indexed: IssueState | null;
  lastWriteAt: number;
  histories: SimHistory[];
  comments: SimComment[];
  properties: Map<string, unknown>;
  attachments: SimAttachment[];
  approvals: SimApproval[];
}

export type SimEvent =
  | { type: 'created'; issue: SimIssue; actorId: string; items: HistoryItem[]; historyId: string }
  | { type: 'updated' | 'transitioned'; issue: SimIssue; actorId: string; history: SimHistory }
  | { type: 'commented'; issue: SimIssue; actorId: string; comment: SimComment };

export interface WebhookOptions {
  url: string;
  secret?: string;
  /** Only issues matching this JQL are delivered (evaluated on the issue after the change). */
  jqlFilter?: string;
  /** Probability in [0,1] that a delivery is never sent. */
  dropRate?: number;
  /** Probability in [0,1] that a delivery is sent twice (same identifier, retry header on the copy). */
  duplicateRate?: number;
  /** Shuffle deliveries that are queued together. */
  reorder?: boolean;
  random?: () => number;
  /** Redeliveries after a 408/409/425/429/5xx answer or a network failure (Jira's retry policy); default 2. */
  maxRetries?: number;
}

export interface WebhookStats {
  /** Deliveries the site decided to make (one per matching event). */
  emitted: number;
  /** HTTP POSTs made, counting duplicates and retries. */
  sent: number;
  /** POSTs answered 2xx. */
  delivered: number;
  dropped: number;
  duplicated: number;
  retried: number;
  failed: number;
}

export interface BasicCredential {
  email: string;
  apiToken: string;
  displayName?: string;
  accountId?: string;
}

export interface SimAuthOptions {
  basic?: BasicCredential[];
  /** Data Center personal access tokens (`Authorization: Bearer <PAT>`). */
  bearer?: string[];
}

export interface RequestRecord {
  at: number;
  method: string;
  /** Path below the base URL, e.g. `/rest/api/3/search/jql`. */
  path: string;
  query: string;
  status: number;
  /** `basic:<email>`, `bearer`, `anonymous`, `revoked`, `rejected`, or `none` when no auth is configured. */
  auth: string;
  fault?: string;
}
