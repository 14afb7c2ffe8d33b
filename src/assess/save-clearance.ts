// Which rules a save can meet by itself, and with what. A change manager who
// cancels or closes a change types the reason in the same form save as the
// move; a verdict computed before that save cannot know the text, so the
// in-ITSM plugins (fields mode) are told what would meet the rule instead.
// Only rules that read nothing but the close fields and a typed note qualify.

import type { Change, Classification } from '../domain/change.ts';
import type { SaveCarries } from '../kit/connector.ts';
import { resolveRules, type Policy } from '../policy/policy-config.ts';

/** For a rule id, what a save must carry to meet it (every list, one item of each); null: no save can. */
export type SaveClearance = (gate: string) => SaveCarries[][] | null;

export function saveClearance(policy: Policy, change: Change, classification: Classification): SaveClearance {
  return (gate) => {
    if (gate === 'canceled.reason') {
      const { markers } = resolveRules(policy, change, classification).builtIn['canceled.reason'];
      // A note typed now is always written in the state the change is canceled from.
      return [[{ field: 'closeNotes' }, { noteMentions: [...markers] }]];
    }
    // Where a comment stands in for close notes (no such field), the rule reads the journal since the actual end: not a save's to meet.
    if (gate === 'closed.close-fields' && change.standIns?.closeNotes === undefined) return [[{ field: 'closeCode' }], [{ field: 'closeNotes' }]];
    return null;
  };
}
