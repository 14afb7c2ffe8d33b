// The list and lookup parameters every change store adapter takes from its
// callers, checked the same way whatever the adapter: a limit clamped to
// 1–1000, an `updatedSince` that must be an instant (answered 400 naming the field).

import { ChangegateError } from '../errors.ts';
import { instantKey } from './instant-key.ts';

const MAX_LIMIT = 1_000;

export function clampLimit(limit: number): number {
  if (Number.isNaN(limit)) {
    throw new ChangegateError('CG_INPUT_INVALID', 'limit must be a number between 1 and 1000', { details: { field: 'limit' } });
  }
  return Math.min(MAX_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** `updatedSince` as a sortable instant key. */
export function sinceKey(updatedSince: string): string {
  if (Number.isNaN(Date.parse(updatedSince))) {
    throw new ChangegateError('CG_INPUT_INVALID', `updatedSince must be an ISO-8601 instant, got ${JSON.stringify(updatedSince)}`, {
      details: { field: 'updatedSince' },
    });
  }
  return instantKey(updatedSince);
}
