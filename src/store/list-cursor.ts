// The opaque cursor `listChanges` hands out: the (updatedAt, id) keyset
// position of the last change on a page. Opaque so callers cannot build one
// and so the encoding can change; it arrives back from HTTP clients, so
// decoding validates everything and fails as input error naming the field.

import { ChangegateError } from '../errors.ts';

export interface ListPosition {
  /** Normalised updated-at of the last change returned (store's sort key). */
  updatedAt: string;
  id: string;
}

const VERSION = 1;

/** What a cursor continues: the change list, or one change's history in one order (the same position means another page in each). */
export type CursorScope = 'changes' | 'history-asc' | 'history-desc';

const SCOPES: Readonly<Record<CursorScope, string>> = {
  changes: 'the change list',
  'history-asc': 'a change history read oldest first (order=asc)',
  'history-desc': 'a change history read newest first (order=desc)',
};

const isScope = (value: unknown): value is CursorScope => typeof value === 'string' && Object.hasOwn(SCOPES, value);

export function encodeListCursor(position: ListPosition, scope: CursorScope = 'changes'): string {
  // The change list's cursors name no scope, as every cursor did before scopes: one issued by an earlier build still pages.
  const body = scope === 'changes' ? { v: VERSION, u: position.updatedAt, i: position.id } : { v: VERSION, u: position.updatedAt, i: position.id, s: scope };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

function invalid(reason: string): ChangegateError {
  return new ChangegateError('CG_INPUT_INVALID', `cursor is not a cursor this server issued (${reason}); start again without it`, {
    details: { field: 'cursor' },
  });
}

/** The position of a cursor issued for `scope`; one issued for another scope is refused, naming both. */
export function decodeListCursor(cursor: string, scope: CursorScope = 'changes'): ListPosition {
  if (cursor.length === 0 || cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid('not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    throw new ChangegateError('CG_INPUT_INVALID', 'cursor is not a cursor this server issued (not JSON); start again without it', {
      cause: err,
      details: { field: 'cursor' },
    });
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid('not an object');
  const { v, u, i, s } = parsed as Record<string, unknown>;
  if (v !== VERSION) throw invalid('unknown version');
  if (typeof u !== 'string' || u.length === 0 || typeof i !== 'string' || i.length === 0) throw invalid('missing position');
  // No scope: a change list cursor, or a history cursor from before scopes; either continues from its position, as it did.
  if (s !== undefined && !isScope(s)) throw invalid('unknown scope');
  if (s !== undefined && s !== scope) {
    throw new ChangegateError('CG_INPUT_INVALID', `cursor: issued for ${SCOPES[s]}, not ${SCOPES[scope]}; pass each nextCursor back with the route and order that gave it, or start again without it`, {
      details: { field: 'cursor' },
    });
  }
  return { updatedAt: u, id: i };
}
