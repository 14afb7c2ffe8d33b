// The cursor `GET /v1/changes` hands out comes back from HTTP clients: anything
// but a cursor this server issued is an input error naming the field and why,
// never a 500 and never a page from a made-up position.

import { describe, expect, it } from 'vitest';
import { ChangegateError } from '../../src/errors.ts';
import { decodeListCursor, encodeListCursor } from '../../src/store/list-cursor.ts';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');

function rejection(cursor: string): { code: string; message: string; field: unknown } {
  try {
    decodeListCursor(cursor);
  } catch (err) {
    if (!(err instanceof ChangegateError)) throw err;
    return { code: err.code, message: err.message, field: err.details?.['field'] };
  }
  throw new Error(`cursor ${cursor} was accepted`);
}

const reason = (cursor: string) => /\(([^)]+)\)/.exec(rejection(cursor).message)?.[1];

describe('list cursor', () => {
  it('gives back the position it encoded, in URL-safe characters only', () => {
    const position = { updatedAt: '2026-03-02T09:00:05.000Z', id: 'servicenow:sn-demo:ü/+?' };
    const cursor = encodeListCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeListCursor(cursor)).toEqual(position);
  });

  it('refuses an empty, oversized or non-base64url cursor as input naming the field', () => {
    const good = encodeListCursor({ updatedAt: '2026-03-02T09:00:05.000Z', id: 'x' });
    for (const bad of ['', 'A'.repeat(2049), `${good}=`, `+${good}`, `${good}/`, `${good}!`, `!${good}`]) {
      expect(rejection(bad)).toEqual({ code: 'CG_INPUT_INVALID', message: 'cursor is not a cursor this server issued (not base64url); start again without it', field: 'cursor' });
    }
    expect(reason('A'.repeat(2048))).toBe('not JSON');
  });

  it('says why a well-formed cursor is not one of ours', () => {
    expect(reason(b64('not json'))).toBe('not JSON');
    expect(rejection(b64('not json'))).toMatchObject({ code: 'CG_INPUT_INVALID', field: 'cursor' });
    expect(reason(b64(42))).toBe('not an object');
    expect(reason(b64(null))).toBe('not an object');
    expect(reason(b64({ v: 2, u: '2026-03-02T09:00:05.000Z', i: 'x' }))).toBe('unknown version');
    expect(reason(b64({ u: '2026-03-02T09:00:05.000Z', i: 'x' }))).toBe('unknown version');
    for (const position of [{ u: '', i: 'x' }, { u: 7, i: 'x' }, { u: '2026-03-02T09:00:05.000Z', i: '' }, { u: '2026-03-02T09:00:05.000Z', i: 7 }, { i: 'x' }]) {
      expect(rejection(b64({ v: 1, ...position }))).toMatchObject({ code: 'CG_INPUT_INVALID', field: 'cursor', message: expect.stringContaining('(missing position)') });
    }
  });
});
