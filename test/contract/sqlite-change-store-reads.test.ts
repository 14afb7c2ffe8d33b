// Reads of the embedded change store at their edges: a change asked for on
// another instance is not there, the last page of a list says so, and a bad
// limit or updatedSince is an input error naming the field.

import { describe, expect, it } from 'vitest';
import { ChangegateError } from '../../src/errors.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { buildChanges } from '../support/change-builder.ts';

async function storeWith(count: number): Promise<{ store: SqliteChangeStore; ids: string[] }> {
  const store = SqliteChangeStore.open(':memory:');
  const changes = buildChanges(count, 1, { instance: 'sn-a' });
  await store.applyPage('sn-a', 'changes', changes.map((change) => ({ kind: 'change' as const, change })), null);
  return { store, ids: changes.map((c) => c.id) };
}

async function inputError(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    if (err instanceof ChangegateError) return { code: err.code, field: err.details?.['field'] };
    throw err;
  }
  throw new Error('no error');
}

describe('SqliteChangeStore reads', () => {
  it('does not find a change by its id on another instance, cached or not', async () => {
    const { store, ids } = await storeWith(1);
    const id = ids[0] as string;
    expect((await store.getChange(id, { instance: 'sn-a', withoutRaw: true }))?.change.id).toBe(id);
    expect(await store.getChange(id, { instance: 'sn-b', withoutRaw: true })).toBeNull();
    expect(await store.getChange(id, { instance: 'sn-b' })).toBeNull();
    expect((await store.getChange(id, { instance: 'sn-a' }))?.change.id).toBe(id);
    await store.close();
  });

  it('hands out no cursor when the page holds exactly the rest', async () => {
    const { store, ids } = await storeWith(3);
    expect(await store.listChanges({ limit: 3 })).toMatchObject({ nextCursor: null });
    const first = await store.listChanges({ limit: 2 });
    expect(first.items.map((c) => c.id)).toEqual(ids.slice(0, 2));
    expect(first.nextCursor).not.toBeNull();
    const second = await store.listChanges({ limit: 2, cursor: first.nextCursor as string });
    expect(second.items.map((c) => c.id)).toEqual(ids.slice(2));
    expect(second.nextCursor).toBeNull();
    await store.close();
  });

  it('refuses a limit that is not a number and an updatedSince that is not an instant, naming the field', async () => {
    const { store } = await storeWith(1);
    expect(await inputError(() => store.listChanges({ limit: Number.NaN }))).toEqual({ code: 'CG_INPUT_INVALID', field: 'limit' });
    expect(await inputError(() => store.listChanges({ limit: 10, updatedSince: 'yesterday' }))).toEqual({ code: 'CG_INPUT_INVALID', field: 'updatedSince' });
    await store.close();
  });

  it('answers at most the limit of changes touching a service, the most recently updated first', async () => {
    const { store, ids } = await storeWith(4);
    const touching = (limit: number) => store.listActiveChangesTouching({ instance: 'sn-a', refs: ['payments api'], limit });
    expect((await touching(10)).map((c) => c.id)).toEqual(ids.toReversed());
    expect((await touching(2)).map((c) => c.id)).toEqual([ids[3], ids[2]]);
    expect(await store.listActiveChangesTouching({ instance: 'sn-a', refs: ['', '  '], limit: 10 })).toEqual([]);
    await store.close();
  });
});
