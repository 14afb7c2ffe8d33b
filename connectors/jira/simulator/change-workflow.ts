// The JSM change workflow as data. Reference §2 marks the default status set
// [UNVERIFIED], so statuses, transitions and approval steps are configuration:
// pass your own `WorkflowDefinition` to mirror a particular site.

export type StatusCategoryKey = 'new' | 'indeterminate' | 'done';

export interface WorkflowStatus {
  id: string;
  name: string;
  category: StatusCategoryKey;
}

export interface WorkflowTransition {
  id: string;
  name: string;
  /** Status names this transition leaves from; `'*'` = global transition (any status). */
  from: string[] | '*';
  to: string;
  /** Fired only by a JSM approval decision: hidden from GET transitions and refused on POST, as on a real approval step. */
  approvalOnly?: boolean;
}

/** A JSM approval step: entering `status` opens an approval; its decision fires a transition. */
export interface ApprovalStep {
  status: string;
  name: string;
  /** Approvals needed for approval (JSM "number of approvers" condition). */
  required: number;
  onApprove: string;
  onDecline: string;
}

export interface WorkflowDefinition {
  initialStatus: string;
  statuses: WorkflowStatus[];
  transitions: WorkflowTransition[];
  approvalSteps: ApprovalStep[];
}

export const STATUS_CATEGORIES: Record<StatusCategoryKey, { id: number; key: StatusCategoryKey; colorName: string; name: string }> = {
  new: { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' },
  indeterminate: { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' },
  done: { id: 3, key: 'done', colorName: 'green', name: 'Done' },
};

export function defaultChangeWorkflow(): WorkflowDefinition {
  return {
    initialStatus: 'Open',
    statuses: [
      { id: '10200', name: 'Open', category: 'new' },
      { id: '10201', name: 'Planning', category: 'new' },
      { id: '10202', name: 'Awaiting CAB approval', category: 'indeterminate' },
      { id: '10203', name: 'Awaiting implementation', category: 'indeterminate' },
      { id: '10204', name: 'Implementing', category: 'indeterminate' },
      { id: '10205', name: 'Peer review', category: 'indeterminate' },
      { id: '10206', name: 'Completed', category: 'done' },
      { id: '10207', name: 'Failed', category: 'done' },
      { id: '10208', name: 'Canceled', category: 'done' },
    ],
    transitions: [
      { id: '11', name: 'Start planning', from: ['Open'], to: 'Planning' },
      { id: '21', name: 'Request approval', from: ['Planning'], to: 'Awaiting CAB approval' },
      { id: '31', name: 'Approve', from: ['Awaiting CAB approval'], to: 'Awaiting implementation', approvalOnly: true },
      { id: '35', name: 'Decline', from: ['Awaiting CAB approval'], to: 'Canceled', approvalOnly: true },
      { id: '41', name: 'Start implementation', from: ['Awaiting implementation'], to: 'Implementing' },
      { id: '51', name: 'Implemented', from: ['Implementing'], to: 'Peer review' },
      { id: '61', name: 'Complete', from: ['Peer review'], to: 'Completed' },
      { id: '71', name: 'Mark as failed', from: ['Implementing', 'Peer review'], to: 'Failed' },
      { id: '81', name: 'Cancel', from: ['Open', 'Planning', 'Awaiting CAB approval', 'Awaiting implementation'], to: 'Canceled' },
      // Backward moves: what an enforcing integration uses to revert an illegal transition.
      { id: '91', name: 'Back to planning', from: ['Awaiting CAB approval', 'Awaiting implementation'], to: 'Planning' },
      { id: '101', name: 'Back to awaiting implementation', from: ['Implementing'], to: 'Awaiting implementation' },
    ],
    approvalSteps: [{ status: 'Awaiting CAB approval', name: 'CAB approval', required: 1, onApprove: 'Awaiting implementation', onDecline: 'Canceled' }],
  };
}

export class Workflow {
  readonly def: WorkflowDefinition;
  private readonly byId = new Map<string, WorkflowStatus>();
  private readonly byName = new Map<string, WorkflowStatus>();

  constructor(def: WorkflowDefinition = defaultChangeWorkflow()) {
    this.def = def;
    for (const s of def.statuses) {
      this.byId.set(s.id, s);
      this.byName.set(s.name.toLowerCase(), s);
    }
    for (const t of def.transitions) {
      if (!this.byName.has(t.to.toLowerCase())) throw new Error(`Workflow transition ${t.id} goes to unknown status "${t.to}"`);
    }
    if (!this.byName.has(def.initialStatus.toLowerCase())) throw new Error(`Unknown initial status "${def.initialStatus}"`);
  }

  status(idOrName: string): WorkflowStatus | undefined {
    return this.byId.get(idOrName) ?? this.byName.get(idOrName.toLowerCase());
  }

  initial(): WorkflowStatus {
    return this.status(this.def.initialStatus) as WorkflowStatus;
  }

  /** Transitions a user may take from the status (approval-only ones excluded unless asked for). */
  available(fromStatusId: string, includeApprovalOnly = false): WorkflowTransition[] {
    const from = this.byId.get(fromStatusId);
    if (!from) return [];
    return this.def.transitions.filter(
      (t) => (includeApprovalOnly || !t.approvalOnly) && (t.from === '*' || t.from.some((n) => n.toLowerCase() === from.name.toLowerCase())),
    );
  }

  transitionTo(fromStatusId: string, toStatusName: string): WorkflowTransition | undefined {
    return this.available(fromStatusId).find((t) => t.to.toLowerCase() === toStatusName.toLowerCase());
  }

  approvalStep(statusId: string): ApprovalStep | undefined {
    const s = this.byId.get(statusId);
    return s ? this.def.approvalSteps.find((a) => a.status.toLowerCase() === s.name.toLowerCase()) : undefined;
  }

  /** A path of status names from `fromId` to `toName` (breadth-first), used to seed issues into any status. */
  pathTo(fromId: string, toName: string): string[] | undefined {
    const target = this.status(toName);
    if (!target) return undefined;
    const queue: { id: string; path: string[] }[] = [{ id: fromId, path: [] }];
    const seen = new Set([fromId]);
    while (queue.length > 0) {
      const { id, path } = queue.shift() as { id: string; path: string[] };
      if (id === target.id) return path;
      for (const t of this.available(id, true)) {
        const next = this.status(t.to) as WorkflowStatus;
        if (!seen.has(next.id)) {
          seen.add(next.id);
          queue.push({ id: next.id, path: [...path, next.name] });
        }
      }
    }
    return undefined;
  }
}
