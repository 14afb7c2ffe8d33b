// What the contract tests of the change stores read to see when each approval
// happened as the mirror first knew it: the first times the history pages by.

import type { ChangeStore } from '../../src/store/change-store.ts';

/** By approval id: `approvalTime` of the first version stored, as `listApprovalsForHistory` gives it. */
export async function approvalFirstTimes(store: ChangeStore, instance: string, changeNativeId: string): Promise<Map<string, string>> {
  const listed = await store.listApprovalsForHistory(instance, changeNativeId, { order: 'asc', limit: 1_000 });
  return new Map(listed.map((a) => [a.approval.id, a.firstAt]));
}
