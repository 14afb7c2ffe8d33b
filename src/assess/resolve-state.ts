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

const order = (state: CanonicalState): number => CANONICAL_STATES.indexOf(state);

/**
 * Everything a caller may name for `instance`, in full: the canonical states and
 * each native value or label of its mapping with the state it stands for.
 */
export function acceptedStates(instance: string, nativeStates: ReadonlyMap<string, CanonicalState>): string {
  const canonical = `canonical states: ${CANONICAL_STATES.join(', ')}`;
  if (nativeStates.size === 0) return `${canonical} (the mapping of ${instance} names no native states)`;
  const native = [...nativeStates].toSorted((a, b) => order(a[1]) - order(b[1])).map(([value, state]) => `${JSON.stringify(value)} (${state})`).join(', ');
  return `${canonical}; native states of ${instance}: ${native}`;
}
