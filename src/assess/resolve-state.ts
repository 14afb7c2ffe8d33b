// A state named by a caller: canonical (`implement`) or the source's own value
// (ServiceNow's choice value `-1`, a Jira status name `Implementing` or id).
// Plugins send what they hold, so both are accepted; an exact canonical name
// wins, then the mapping (exactly, then ignoring case).

import { CANONICAL_STATES, type CanonicalState } from '../domain/change.ts';

const CANONICAL = new Set<string>(CANONICAL_STATES);

/** Null when the value is neither canonical nor mapped (the caller names the field in its error). */
export function resolveState(value: string, nativeStates: ReadonlyMap<string, CanonicalState>): CanonicalState | null {
  const text = value.trim();
  if (CANONICAL.has(text)) return text as CanonicalState;
  const exact = nativeStates.get(text);
  if (exact !== undefined) return exact;
  // Jira status names are matched without regard to case, as Jira itself does in JQL.
  const folded = text.toLowerCase();
  for (const [native, state] of nativeStates) if (native.toLowerCase() === folded) return state;
  return CANONICAL.has(folded) ? (folded as CanonicalState) : null;
}
