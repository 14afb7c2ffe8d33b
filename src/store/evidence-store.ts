// The evidence ledger's storage port: per change, an append-only chain of
// entries (src/evidence/evidence-entry.ts). Entries are never updated or
// deleted. An append reads the change's head and writes the next entry as one
// atomic step, so two writers can never fork a chain; a replay of the same
// append (a process that died after writing it) returns the entry already there.

import type { EvidenceDraft, EvidenceEntry } from '../evidence/evidence-entry.ts';

export interface EvidenceStore {
  /**
   * Appends `draft` after the change's head. `dedupeKey` names what the entry
   * records (`assessment:<revision>:<outcome>`): appending the same key again
   * returns the existing entry and writes nothing.
   */
  append(changeId: string, draft: EvidenceDraft, dedupeKey: string): Promise<{ entry: EvidenceEntry; appended: boolean }>;
  /** The change's entries in chain order (empty when it has none). */
  list(changeId: string): Promise<EvidenceEntry[]>;
  /** Ids of the changes with an entry at or after `since` and before `until` (ISO 8601), in id order: an audit period's sample. */
  changesWithEntries(query: { since: string; until: string }): Promise<string[]>;
  close(): Promise<void>;
}
