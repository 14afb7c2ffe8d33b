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

export function encodeListCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify({ v: VERSION, u: position.updatedAt, i: position.id }), 'utf8').toString('base64url');
}

function invalid(reason: string): ChangegateError {
  return new ChangegateError('CG_INPUT_INVALID', `cursor is not a cursor this server issued (${reason}); start again without it`, {
    details: { field: 'cursor' },
  });
}

export function decodeListCursor(cursor: string): ListPosition {
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
  const { v, u, i } = parsed as Record<string, unknown>;
  if (v !== VERSION) throw invalid('unknown version');
  if (typeof u !== 'string' || u.length === 0 || typeof i !== 'string' || i.length === 0) throw invalid('missing position');
  return { updatedAt: u, id: i };
}
