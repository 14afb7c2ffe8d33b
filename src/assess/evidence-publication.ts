// Queues a change's evidence for its ticket through the outbox: the bundle of
// the ledger up to its head as an attachment, and the summary naming it as a
// work note or comment. Used by the assessment runner at the moments policy
// `evidence.note` names, and by `changegate evidence publish` on demand. Both
// key the items by the head hash, so the same head is queued once whoever asks
// first; the bundle's file name (which names the head) is the marker the writer
// looks for on the ticket before it posts.

import type { KeyObject } from 'node:crypto';
import type { Change } from '../domain/change.ts';
import type { EvidenceEntry } from '../evidence/evidence-entry.ts';
import type { OutboxStore } from '../store/outbox-store.ts';
import { evidenceAttachment } from './evidence-attachment.ts';
import { evidenceNote } from './evidence-note.ts';

export function evidenceBundleKey(changeId: string, headHash: string): string {
  return `evidence-bundle:${changeId}:${headHash}`;
}

export function evidenceNoteKey(changeId: string, headHash: string): string {
  return `evidence:${changeId}:${headHash}`;
}

/** Queues the bundle and the summary of `entries` (the change's ledger in chain order); returns the ids of the items newly queued (none for an empty ledger or a head already queued). */
export async function queueEvidencePublication(outbox: Pick<OutboxStore, 'enqueue'>, change: Change, entries: EvidenceEntry[], now: Date, signingKey: KeyObject | null): Promise<string[]> {
  const head = entries.at(-1);
  if (head === undefined) return [];
  const attachment = evidenceAttachment(change, entries, now, signingKey);
  // Its own source: an assessment's next comment must not supersede it, nor it the verdict queued beside it.
  const base = { instance: change.instance, changeId: change.id, nativeId: change.nativeId, source: 'evidence' as const };
  const queued = await outbox.enqueue(
    [
      { ...base, idempotencyKey: evidenceBundleKey(change.id, head.hash), payload: { action: 'attach', file: attachment.file, evidence: attachment.evidence } },
      {
        ...base,
        idempotencyKey: evidenceNoteKey(change.id, head.hash),
        payload: { action: 'comment', note: evidenceNote(change, entries, attachment.file.name), series: { name: 'evidence', digest: head.hash.slice(0, 16) } },
      },
    ],
    now,
  );
  return queued.inserted;
}
