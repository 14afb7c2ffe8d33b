// What only the embedded outbox promises: queued items survive the process (a
// reopened file still holds them, claimed ones come back after their lease),
// and two connections to one file never claim the same item. (The contract
// suite runs through store-adapters.test.ts.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import type { NewOutboxItem } from '../../src/store/outbox-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-outbox-'));
let files = 0;
const freshFile = (): string => join(dir, `n${++files}`, 'changegate.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = new Date('2026-03-02T09:00:00Z');
const item = (key: string): NewOutboxItem => ({
  instance: 'sn',
  changeId: 'servicenow:sn:a',
  nativeId: 'a',
  source: 'enforcement',
  idempotencyKey: key,
  payload: { action: 'transition', toNativeState: '-2', expectedNativeState: '-1' },
});

describe('SqliteOutboxStore on a file', () => {
  it('keeps queued and claimed items across a restart, next to the mirror in the same file', async () => {
    const path = freshFile();
    const mirror = SqliteChangeStore.open(path);
    const first = SqliteOutboxStore.open(path);
    await first.enqueue([item('a'), item('b')], T0);
    await first.claim(1, T0, 60_000);
    // The process dies holding `a`.
    await first.close();

    const restarted = SqliteOutboxStore.open(path);
    expect((await restarted.claim(10, new Date(T0.getTime() + 1000), 60_000)).map((i) => i.idempotencyKey)).toEqual(['b']);
    const back = await restarted.claim(10, new Date(T0.getTime() + 60_000), 60_000);
    expect(back.map((i) => [i.idempotencyKey, i.attempts])).toEqual([['a', 2]]);
    expect(await restarted.enqueue([item('a')], T0)).toMatchObject({ inserted: [], duplicates: ['a'] });
    await restarted.close();
    expect(await mirror.countChanges()).toBe(0);
    await mirror.close();
  });

  it('adds the claim owner to an outbox written before claims had owners, keeping its items', async () => {
    const path = freshFile();
    const first = SqliteOutboxStore.open(path);
    await first.enqueue([item('a')], T0);
    await first.close();
    const older = new DatabaseSync(path);
    older.exec('ALTER TABLE outbox DROP COLUMN claim_owner');
    older.close();

    const upgraded = SqliteOutboxStore.open(path);
    const owner = { id: 'p1', host: 'h', pid: 1, startedAt: T0.toISOString() };
    expect(await upgraded.claim(10, T0, 60_000, owner)).toMatchObject([{ idempotencyKey: 'a', claimOwner: owner }]);
    expect(await upgraded.releaseClaims('p1', T0)).toBe(1);
    await upgraded.close();
  });

  it('never hands one item to two connections claiming at once', async () => {
    const path = freshFile();
    const a = SqliteOutboxStore.open(path);
    const b = SqliteOutboxStore.open(path);
    await a.enqueue(Array.from({ length: 50 }, (_, i) => item(`k${i}`)), T0);
    const claimed: string[] = [];
    await Promise.all(
      [a, b, a, b].map(async (store) => {
        for (let batch = await store.claim(3, T0); batch.length > 0; batch = await store.claim(3, T0)) claimed.push(...batch.map((i) => i.idempotencyKey));
      }),
    );
    expect(claimed.toSorted()).toEqual(Array.from({ length: 50 }, (_, i) => `k${i}`).toSorted());
    await a.close();
    await b.close();
  });

  it('reports an unusable path as a store failure', () => {
    expect(() => SqliteOutboxStore.open(join('/dev/null', 'x', 'outbox.db'))).toThrow(expect.objectContaining({ code: 'CG_STORE_FAILED' }));
  });
});
