// Items, cursors and counts the ChangeStore contract suites build their pages from.

import type { StreamCursor, StreamItem } from '../../src/kit/connector.ts';
import type { Approval, Change, JournalEntry } from '../../src/domain/change.ts';
import { ChangegateError } from '../../src/errors.ts';
import type { ApplyResult, ChangeStore, TouchingQuery } from '../../src/store/change-store.ts';
import { sysId } from '../support/change-builder.ts';

export const I = 'sn-prod';
export const S = 'changes';

export const asChange = (change: Change): StreamItem => ({ kind: 'change', change });
export const asApproval = (approval: Approval, changeNativeId = sysId(1)): StreamItem => ({ kind: 'approval', changeNativeId, approval });
export const asJournal = (entry: JournalEntry, changeNativeId = sysId(1)): StreamItem => ({ kind: 'journal', changeNativeId, entry });
export const asInvalid = (ref: string, message = `record ${ref} has no sys_updated_on`): StreamItem => ({
  kind: 'invalid',
  ref,
  error: new ChangegateError('CG_SN_RECORD_INVALID', message, { details: { ref } }),
});
export const keys = (changes: Change[]): string[] => changes.map((c) => c.key);
export const touchingKeys = (store: ChangeStore, refs: string[], extra: Partial<Omit<TouchingQuery, 'instance' | 'refs'>> = {}): Promise<string[]> =>
  store.listActiveChangesTouching({ instance: I, refs, limit: 100, ...extra }).then(keys);
/** The keys of the active changes on instance I under any of these index keys. */
export const indexedKeysOf = (store: ChangeStore, indexKeys: string[], limit = 100): Promise<string[]> =>
  store.listActiveChangesIndexed({ instance: I, keys: indexKeys, limit }).then(keys);
/** A change's links naming only these commits. */
export const links = (...commits: string[]): Change['links'] => ({ repos: [], commits, artifacts: [], pipelines: [] });
export const cursorOf = (c: Change): StreamCursor => ({ updatedAt: c.updatedAt, id: c.nativeId });
export const counts = (partial: Partial<ApplyResult>): ApplyResult => ({
  changesWritten: 0,
  changesUnchanged: 0,
  changesStale: 0,
  approvalsWritten: 0,
  journalWritten: 0,
  invalid: 0,
  ...partial,
});
