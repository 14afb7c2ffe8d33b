// The evidence bundle as a file for the ticket: the whole ledger up to its head,
// named so the name is the marker. A name carries the change key, the head's seq
// and the first 8 characters of its hash, so each version of the ledger is its
// own attachment (old ones stay) and a second upload of the same version is
// recognised by the writer before it posts.

import type { KeyObject } from 'node:crypto';
import type { Change } from '../domain/change.ts';
import { buildBundle } from '../evidence/evidence-bundle.ts';
import type { EvidenceEntry } from '../evidence/evidence-entry.ts';
import type { EvidenceHead, TicketFile } from '../kit/connector.ts';

/** `changegate-evidence-CHG0030001-7-3f9a2c1b.json`; characters a file name may not carry in a ticket system become `_`. */
export function bundleFileName(changeKey: string, head: EvidenceHead): string {
  const key = changeKey.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100);
  return `changegate-evidence-${key}-${head.seq}-${head.hash.slice(0, 8)}.json`;
}

/** The bundle of `entries` (the change's ledger, in chain order, not empty) as exported at `now`, signed with `signingKey` when one is given, and the head it ends at. */
export function evidenceAttachment(change: Change, entries: EvidenceEntry[], now: Date, signingKey: KeyObject | null = null): { file: TicketFile; evidence: EvidenceHead } {
  const bundle = buildBundle({ id: change.id, key: change.key, instance: change.instance, title: change.title }, entries, now.toISOString(), signingKey);
  const head = bundle.head as EvidenceHead;
  return {
    // The same text `changegate evidence export` writes, so `changegate evidence verify` reads the downloaded file as it is.
    file: { name: bundleFileName(change.key, head), contentType: 'application/json', content: `${JSON.stringify(bundle, null, 2)}\n` },
    evidence: { seq: head.seq, hash: head.hash },
  };
}
