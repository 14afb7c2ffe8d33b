// CI events as evidence: each completed test run, scan, pipeline run and
// deployment linked to a change becomes one entry of its ledger (kind
// `deployment` for deployments, `event` otherwise), with the normalised event
// as the payload. Called by the event processor beside the hypercare watch,
// before the delivery is completed: the entry is keyed by the event and its
// final state, so a delivery processed again appends nothing twice.

import type { CiEvent, TestSummary } from '../domain/events.ts';
import { SEVERITIES } from '../domain/events.ts';
import type { EvidenceDraft } from '../evidence/evidence-entry.ts';
import type { EventLink, StoredEvent } from '../store/event-store.ts';
import type { EvidenceStore } from '../store/evidence-store.ts';

/**
 * Per change: the same event in the same final state (a delivery processed
 * again, a second rule, a repeat of the same state) is recorded once. A run that
 * ends again under the same id (a GitLab pipeline retried after it failed) is
 * news, so its status and end are part of the key and the ledger ends on what holds.
 */
export function eventEvidenceKey(event: CiEvent): string {
  return `event:${event.id}:${event.status}:${event.finishedAt ?? '-'}`;
}

/** Whether the event says something final: a run still queued or running proves nothing yet. */
export function recordable(event: CiEvent): boolean {
  return event.status !== 'queued' && event.status !== 'running';
}

function shortCommit(event: CiEvent): string {
  return event.commit === null ? 'an unnamed commit' : event.commit.slice(0, 7);
}

function counts(tests: TestSummary): string {
  return `${tests.passed} passed, ${tests.failed} failed${tests.skipped > 0 ? `, ${tests.skipped} skipped` : ''}`;
}

function findings(found: Partial<Record<string, number>>): string {
  // Critical and high are always named (zero is the news); lower severities when there are some.
  const named = SEVERITIES.filter((s) => s === 'critical' || s === 'high' || (found[s] ?? 0) > 0);
  return named.map((s) => `${found[s] ?? 0} ${s}`).join(', ');
}

export function eventSummary(event: CiEvent): string {
  const on = shortCommit(event);
  const name = event.name === null ? '' : ` "${event.name}"`;
  if (event.kind === 'deploy') return `deployed ${on} to ${event.environment ?? 'an unnamed environment'}: ${event.status}`;
  if (event.tests !== null) return `tests${name} on ${on}: ${counts(event.tests)}`;
  if (event.findings !== null) return `scan${name} on ${on}: ${findings(event.findings)}`;
  return `${event.kind}${name} on ${on}: ${event.status}`;
}

export function eventEvidenceDraft(stored: StoredEvent & { type: 'ci' }): EvidenceDraft {
  const { event } = stored;
  return {
    kind: event.kind === 'deploy' ? 'deployment' : 'event',
    at: event.finishedAt ?? event.startedAt ?? stored.receivedAt,
    actor: event.name,
    source: event.source,
    summary: eventSummary(event),
    payload: event,
  };
}

/** Appends one entry per linked (CI event, change); returns how many were new. */
export async function recordEventEvidence(evidence: Pick<EvidenceStore, 'append'>, stored: readonly StoredEvent[], links: readonly EventLink[]): Promise<number> {
  const byId = new Map(stored.filter((e): e is StoredEvent & { type: 'ci' } => e.type === 'ci' && recordable(e.event)).map((e) => [e.id, e]));
  const seen = new Set<string>();
  let appended = 0;
  for (const link of links) {
    const event = byId.get(link.eventId);
    const pair = `${link.changeId}\u0000${link.eventId}`;
    if (event === undefined || seen.has(pair)) continue;
    seen.add(pair);
    if ((await evidence.append(link.changeId, eventEvidenceDraft(event), eventEvidenceKey(event.event))).appended) appended += 1;
  }
  return appended;
}
