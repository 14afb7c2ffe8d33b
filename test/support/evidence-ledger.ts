// A short evidence ledger of one change, as the evidence tests build bundles,
// statements and envelopes from it: a revision, then an assessment.

import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';

export const CHANGE = { id: 'servicenow:sn-prod:c0ffee', key: 'CHG0030001', instance: 'sn-prod', title: 'Upgrade the payments gateway' };

export const DRAFTS: EvidenceDraft[] = [
  { kind: 'revision', at: '2026-03-10T09:00:00Z', actor: 'beth.anglin', source: 'servicenow:sn-prod', summary: 'state New → Assess', payload: { state: { from: 'new', to: 'assess' } } },
  { kind: 'assessment', at: '2026-03-10T09:00:05Z', actor: null, source: 'changegate', summary: 'verdict: not ready', payload: { verdict: 'blocked' } },
];

/** DRAFTS chained as the ledger stores them. */
export function chainedEntries(): EvidenceEntry[] {
  const entries: EvidenceEntry[] = [];
  for (const draft of DRAFTS) entries.push(chainEntry(CHANGE.id, entries.at(-1) ?? null, draft));
  return entries;
}
