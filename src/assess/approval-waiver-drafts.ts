// Approvals and waivers as ledger entries of their own. An approval is recorded
// when a mirrored approval row reaches a decision (approved, rejected) and when a
// decision recorded before is taken back (the row is requested, cancelled or not
// required again: withdrawn). A waiver of the policy file is recorded when it is
// granted (in force for the change), when it ends (its `until` passed) and when
// it is withdrawn (gone from the policy before its end). Each is compared with
// what the ledger already holds, so a decision is appended once however often the
// change is assessed; the dedupe key keeps a replayed run single as well.

import type { Waiver } from '../domain/assessment.ts';
import type { Approval, Change } from '../domain/change.ts';
import type { EvidenceDraft, EvidenceEntry } from '../evidence/evidence-entry.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';

type Drafted = { draft: EvidenceDraft; key: string };

export type ApprovalDecision = 'approved' | 'rejected' | 'withdrawn';
export type WaiverStep = 'granted' | 'expired' | 'withdrawn';

const record = (value: unknown): Record<string, unknown> | null => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null);

/** The last step the ledger holds for each approval id and each waiver. */
function recorded(entries: readonly EvidenceEntry[]): { approvals: Map<string, ApprovalDecision>; waivers: Map<string, HeldWaiver> } {
  const approvals = new Map<string, ApprovalDecision>();
  const waivers = new Map<string, HeldWaiver>();
  for (const e of entries) {
    const payload = record(e.payload);
    if (payload === null) continue;
    if (e.kind === 'approval') {
      const id = record(payload['approval'])?.['id'];
      if (typeof id === 'string') approvals.set(id, payload['decision'] as ApprovalDecision);
    } else if (e.kind === 'waiver') {
      const waiver = record(payload['waiver']) as Waiver | null;
      if (waiver === null) continue;
      const id = waiverId(waiver);
      waivers.set(id, { step: payload['step'] as WaiverStep, waiver, entries: (waivers.get(id)?.entries ?? 0) + 1 });
    }
  }
  return { approvals, waivers };
}

/** What identifies a waiver across policy reloads: its gate, who granted it and the window (its reason may be reworded). */
function waiverId(w: Pick<Waiver, 'gate' | 'by' | 'until' | 'grantedAt'>): string {
  return `${w.gate}:${w.by}:${w.grantedAt ?? ''}:${w.until}`;
}

const who = (a: Approval): string | null => a.approver?.name ?? a.approver?.id ?? null;

/** The decisions the mirror shows that the ledger does not hold yet, oldest first. */
export function approvalDrafts(change: Change, approvals: readonly Approval[], held: ReadonlyMap<string, ApprovalDecision>): Drafted[] {
  const out: Drafted[] = [];
  for (const a of approvals) {
    const before = held.get(a.id);
    const now: ApprovalDecision | null = a.state === 'approved' || a.state === 'rejected' ? a.state : before === 'approved' || before === 'rejected' ? 'withdrawn' : null;
    if (now === null || now === before) continue;
    const at = now === 'withdrawn' ? a.updatedAt : (a.decidedAt ?? a.updatedAt);
    const approver = who(a) ?? 'an unnamed approver';
    const group = a.group === null ? '' : ` (${a.group.name ?? a.group.id})`;
    const verb = now === 'approved' ? 'approved' : now === 'rejected' ? 'rejected' : `withdrawn (${before} before, now ${a.nativeState})`;
    out.push({
      key: `approval:${a.id}:${now}:${at}`,
      draft: {
        kind: 'approval',
        at,
        actor: who(a),
        source: `${change.system}:${change.instance}`,
        summary: `approval by ${approver}${group} ${verb}${a.comment ? `: ${a.comment}` : ''}`,
        // requestedAt places the approval in its round, as the gates did: an auditor reads it from the bundle alone.
        // Only the payload's hash is chained, so the bundle's format is unchanged; entries recorded before have none.
        payload: {
          decision: now,
          approval: { id: a.id, approver: a.approver, group: a.group, state: a.state, nativeState: a.nativeState, decidedAt: a.decidedAt, requestedAt: a.requestedAt ?? null, comment: a.comment, updatedAt: a.updatedAt },
        },
      },
    });
  }
  return out.toSorted((x, y) => Date.parse(x.draft.at) - Date.parse(y.draft.at));
}

/** A waiver's last step in the ledger, and how many entries it has there. */
export interface HeldWaiver {
  step: WaiverStep;
  waiver: Waiver;
  entries: number;
}

/**
 * Waivers granted, ended or withdrawn since the ledger last said, at `now`. A waiver that ended before changegate
 * first saw it is not recorded: it never lifted a gate changegate judged. One withdrawn and then put back into the
 * policy is granted again: each step past its first two entries is keyed with the count (`~n`), so a later grant
 * or withdrawal is not taken for the earlier one and the ledger ends on what holds.
 */
export function waiverDrafts(change: Change, waivers: readonly Waiver[], held: ReadonlyMap<string, HeldWaiver>, now: Date): Drafted[] {
  const out: Drafted[] = [];
  const ms = now.getTime();
  const draft = (w: Waiver, step: WaiverStep, at: string, actor: string | null, summary: string): Drafted => {
    const id = waiverId(w);
    const entries = held.get(id)?.entries ?? 0;
    return {
      key: `waiver:${id}:${step}${entries < 2 ? '' : `~${entries}`}`,
      draft: { kind: 'waiver', at, actor, source: 'policy', summary, payload: { step, waiver: w } },
    };
  };
  const current = new Set<string>();
  for (const w of waivers) {
    const id = waiverId(w);
    current.add(id);
    const before = held.get(id)?.step;
    const ended = ms >= Date.parse(w.until);
    const started = w.grantedAt === null || Date.parse(w.grantedAt) <= ms;
    if (before === undefined && started && !ended) {
      out.push(draft(w, 'granted', w.grantedAt ?? now.toISOString(), w.by, `waiver of ${w.gate} for ${change.key} granted by ${w.by} until ${w.until}: ${w.reason}`));
    } else if (before === 'withdrawn' && started && !ended) {
      // Back in the policy from now, not from its first grant: the entry follows the withdrawal.
      out.push(draft(w, 'granted', now.toISOString(), w.by, `waiver of ${w.gate} for ${change.key} granted again by ${w.by} until ${w.until}: ${w.reason}`));
    } else if (before === 'granted' && ended) {
      out.push(draft(w, 'expired', w.until, null, `waiver of ${w.gate} for ${change.key} by ${w.by} ended at ${w.until}`));
    }
  }
  for (const [id, { step, waiver }] of held) {
    if (step !== 'granted' || current.has(id) || ms >= Date.parse(waiver.until)) continue;
    out.push(draft(waiver, 'withdrawn', now.toISOString(), null, `waiver of ${waiver.gate} for ${change.key} by ${waiver.by} withdrawn from the policy before its end (${waiver.until})`));
  }
  for (const [id, { step, waiver }] of held) {
    // Removed from the policy after its end: it ended all the same.
    if (step === 'granted' && !current.has(id) && ms >= Date.parse(waiver.until)) out.push(draft(waiver, 'expired', waiver.until, null, `waiver of ${waiver.gate} for ${change.key} by ${waiver.by} ended at ${waiver.until}`));
  }
  return out;
}

/**
 * The approval and waiver entries a run owes the ledger. Reads the ledger only
 * when something may have moved: the policy's inputs changed (approvals and the
 * policy are among them) and the change has approvals or waivers, or the policy
 * changed (a waiver may have been taken out); or a waiver of the change has
 * reached its end (only the clock moved that). A change with neither, the most
 * of a first sync, costs no read. Nor does a change's first assessment: these
 * entries are stored with an assessment's writes (in its transaction where the
 * store has them) or after it, so before the first there are none; a crash
 * between the writes of a store without transactions leaves some, and their
 * keys keep each single when they are drafted again.
 */
export async function approvalAndWaiverDrafts(
  ledger: EvidenceStore,
  run: { change: Change; approvals: readonly Approval[]; waivers: readonly Waiver[]; inputsChanged: boolean; policyChanged: boolean; firstAssessment?: boolean; now: Date },
): Promise<Drafted[]> {
  const ending = run.waivers.some((w) => run.now.getTime() >= Date.parse(w.until));
  const moved = run.inputsChanged && (run.approvals.length > 0 || run.waivers.length > 0 || run.policyChanged);
  if (!moved && !ending) return [];
  const held = run.firstAssessment === true ? recorded([]) : recorded(await ledger.list(run.change.id));
  return [...approvalDrafts(run.change, run.approvals, held.approvals), ...waiverDrafts(run.change, run.waivers, held.waivers, run.now)];
}
