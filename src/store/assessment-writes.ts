// What one assessment writes, across four ports (the outbox, the evidence
// ledger, the assessments, the change's owed marker), as data, so a store can
// write the assessments of a whole sync page at once. Per statement and per
// transaction costs dominate a sync's assessments on SQLite; its writer
// (sqlite-assessment-writer.ts) stores a batch in one transaction. Any other
// store writes item by item, in the order the crash guarantees rely on: the
// write-back is queued and the ledger appended before the assessment is
// stored, and the owed marker moves last, so a process killed in between
// assesses the change again and the keys keep every write single.

import type { EvidenceDraft } from '../evidence/evidence-entry.ts';
import type { AssessmentStore, StoredAssessment } from './assessment-store.ts';
import type { ChangeStore } from './change-store.ts';
import type { EvidenceStore } from './evidence-store.ts';
import type { NewOutboxItem, OutboxStore } from './outbox-store.ts';

export interface AssessmentWrites {
  changeId: string;
  /** Write-back to queue, at `queuedAt` (idempotency keys keep it single). */
  outbox: readonly NewOutboxItem[];
  queuedAt: Date;
  /** Ledger entries to append after the change's head, in order (dedupe keys keep them single). */
  evidence: readonly { draft: EvidenceDraft; key: string }[];
  /** The assessment to store; null when the inputs were as last assessed. */
  assessment: StoredAssessment | null;
  /** The revision now looked at (ChangeStore.noteAssessed); null leaves the change owed (the caller notes it later). */
  assessedRevision: number | null;
  /** The version of the change's instance's mirror the assessment read (ChangeStore.mirrorVersion): moved since, the change stays owed. */
  assessedAsOf?: number;
}

export interface AssessmentWriter {
  /**
   * Stores each item's writes, in order. Answers, per item, the idempotency keys
   * its outbox items were newly queued under (duplicates left out). A failure
   * may leave earlier items stored; whatever an item did not finish leaves its
   * change owed, never marked assessed.
   */
  write(batch: readonly AssessmentWrites[]): Promise<string[][]>;
}

export interface AssessmentWritePorts {
  changes: Pick<ChangeStore, 'noteAssessed'>;
  assessments: Pick<AssessmentStore, 'saveAssessment'>;
  outbox: Pick<OutboxStore, 'enqueue'>;
  evidence?: Pick<EvidenceStore, 'append'> | undefined;
}

/** The writer every store can serve: one port call per write, in the order above. */
export function perItemAssessmentWriter(ports: AssessmentWritePorts): AssessmentWriter {
  return {
    async write(batch) {
      const out: string[][] = [];
      for (const item of batch) {
        const queued = item.outbox.length === 0 ? [] : (await ports.outbox.enqueue(item.outbox, item.queuedAt)).inserted;
        if (ports.evidence !== undefined) for (const e of item.evidence) await ports.evidence.append(item.changeId, e.draft, e.key);
        if (item.assessment !== null) await ports.assessments.saveAssessment(item.assessment);
        if (item.assessedRevision !== null) await ports.changes.noteAssessed(item.changeId, item.assessedRevision, item.assessedAsOf);
        out.push(queued);
      }
      return out;
    },
  };
}
