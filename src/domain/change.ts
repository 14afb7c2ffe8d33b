// The canonical change model every connector maps into and every rule reads.
// Values a source does not have are `null`, never absent, so two mirrors of the
// same record compare equal field by field.

/** The name of a registered connector (`servicenow`, `jira`): the registry (connectors/index.ts) says which exist. */
export type System = string;

/** Canonical lifecycle (seed §3.5, §1.2): the states every native workflow maps onto. */
export const CANONICAL_STATES = [
  'new',
  'assess',
  'authorize',
  'scheduled',
  'implement',
  'review',
  'closed',
  'canceled',
  'failed',
] as const;
export type CanonicalState = (typeof CANONICAL_STATES)[number];

export const CHANGE_TYPES = ['standard', 'normal', 'emergency'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** Release classification (seed §1.3). Derived by policy, not by mapping. */
export type Classification = 'major' | 'minor' | 'emergency';

export const LEVELS = ['very_high', 'high', 'medium', 'low'] as const;
export type Level = (typeof LEVELS)[number];

/** A person or group as the source names it: stable id plus what a human reads. */
export interface Ref {
  id: string;
  name: string | null;
}

export interface Risk {
  impact: Level | null;
  /** Probability of failure. ServiceNow has no such field (null unless a mapping names a `u_` field); policy then uses the stated level. */
  probability: Level | null;
  /** The level the source states (ServiceNow `risk`, JSM "Change risk"). */
  level: Level | null;
}

export const APPROVAL_STATES = ['requested', 'approved', 'rejected', 'not_requested', 'cancelled', 'not_required'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export interface Approval {
  /** Native id of the approval record (ServiceNow `sysapproval_approver.sys_id`, JSM approval id). */
  id: string;
  approver: Ref | null;
  group: Ref | null;
  state: ApprovalState;
  nativeState: string;
  decidedAt: string | null;
  comment: string | null;
  updatedAt: string;
  /**
   * When the approver was asked (ServiceNow `sys_created_on`, JSM `createdDate`), ISO UTC; null when the
   * source gives none. Absent on an approval mirrored before changegate read it: treated as null.
   */
  requestedAt?: string | null;
}

/** When the approval happened, as one version of it says: its decision, else its last update. Moves as the approval does. */
export function approvalTime(a: Approval): string {
  return a.decidedAt ?? a.updatedAt;
}

export interface JournalEntry {
  /** Native id (ServiceNow `sys_journal_field.sys_id`, Jira comment id). */
  id: string;
  kind: 'work_note' | 'comment';
  author: string;
  at: string;
  text: string;
}

export interface Plans {
  implementation: string | null;
  backout: string | null;
  test: string | null;
}

export interface Cab {
  required: boolean;
  date: string | null;
  recommendation: string | null;
}

/**
 * Canonical fields a site may have no field for (JSM has no assignment group
 * and no close notes), and what a mapping lets stand in for each:
 * `affected-service`: the first affected service, whose team owns the change, is
 * the assignment group; `last-comment`: the latest comment or internal note made
 * since implementation ended is the close notes (gates read it from the journal);
 * `none`: the site has no such field and nothing stands in, so a gate that needs
 * it says so instead of reporting an empty field.
 */
export interface StandIns {
  assignmentGroup?: 'affected-service' | 'none';
  closeNotes?: 'last-comment' | 'none';
}

export interface ChangeLinks {
  repos: string[];
  commits: string[];
  artifacts: string[];
  pipelines: string[];
}

/**
 * One change request as changegate understands it. Timestamps are ISO-8601 UTC
 * (`2015-07-06T18:18:53Z`). `raw` is the source payload as received, kept so that
 * a mapping change can be replayed and an auditor can see what the source said.
 */
export interface Change {
  /** `system:instance:nativeId`, stable for the record's life. */
  id: string;
  system: System;
  instance: string;
  /** ServiceNow `sys_id`, Jira issue id. */
  nativeId: string;
  /** `CHG0030001`, `ITSM-42`. */
  key: string;
  url: string;
  title: string;
  description: string | null;
  type: ChangeType;
  state: CanonicalState;
  nativeState: string;
  nativeStateLabel: string | null;
  risk: Risk;
  plannedStart: string | null;
  plannedEnd: string | null;
  actualStart: string | null;
  actualEnd: string | null;
  requester: Ref | null;
  assignee: Ref | null;
  assignmentGroup: Ref | null;
  services: Ref[];
  cis: Ref[];
  plans: Plans;
  justification: string | null;
  /** Source's overall approval status (ServiceNow `approval`), separate from the approval rows. */
  approvalStatus: string | null;
  cab: Cab;
  closeCode: string | null;
  closeNotes: string | null;
  links: ChangeLinks;
  /** Absent for a change whose every canonical field is read from a field of the record (ServiceNow); see StandIns. */
  standIns?: StandIns;
  /** Fields a mapping names under `custom:` (e.g. `u_` fields), by canonical name. */
  custom: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  /** Monotonic per record: ServiceNow `sys_mod_count`, Jira changelog length. */
  nativeRevision: number;
  raw: unknown;
}

/**
 * What the overlap gate reads of another change (src/policy/calendar.ts
 * `overlaps`): a neighbour lookup answers with this much, so a busy service's
 * neighbours are not parsed whole on every validation.
 */
export type NeighbourChange = Pick<Change, 'id' | 'instance' | 'key' | 'state' | 'plannedStart' | 'plannedEnd' | 'services' | 'cis'>;

/** What the mirror keeps for one change: the record plus its children. */
export interface MirroredChange {
  change: Change;
  approvals: Approval[];
  journal: JournalEntry[];
}

export function changeId(system: System, instance: string, nativeId: string): string {
  return `${system}:${instance}:${nativeId}`;
}

/** The instance a change id (`changeId`) names; null for anything else, such as a ticket key. */
export function instanceOfChangeId(idOrKey: string): string | null {
  const first = idOrKey.indexOf(':');
  const second = first < 0 ? -1 : idOrKey.indexOf(':', first + 1);
  return second < 0 ? null : idOrKey.slice(first + 1, second);
}
