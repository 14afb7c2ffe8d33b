// What only the embedded delivery store promises: a recorded delivery survives
// the process, and the inbox lives in the change store's file beside the
// mirror. (The contract suite runs through store-adapters.test.ts.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteDeliveryStore } from '../../src/store/sqlite/sqlite-delivery-store.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-deliveries-'));
let files = 0;
const freshFile = (): string => join(dir, `nested-${++files}`, 'changegate.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteDeliveryStore on a file', () => {
  it('keeps a recorded delivery across reopening, still pending and claimable', async () => {
    const path = freshFile();
    const first = SqliteDeliveryStore.open(path);
    await first.record({ system: 'jira', instance: 'jsm-cloud', deliveryId: 'abc', receivedAt: '2026-03-12T10:00:00Z', body: { issue: { id: '10001' } } });
    await first.close();

    const reopened = SqliteDeliveryStore.open(path);
    expect(await reopened.pendingCount()).toBe(1);
    const [claimed] = await reopened.claim(10, new Date('2026-03-12T10:00:01Z'));
    expect(claimed).toMatchObject({ deliveryId: 'abc', body: { issue: { id: '10001' } }, attempts: 1 });
    expect((await reopened.record({ system: 'jira', instance: 'jsm-cloud', deliveryId: 'abc', receivedAt: '2026-03-12T10:05:00Z', body: {} })).duplicate).toBe(true);
    await reopened.close();
  });

  it('shares the change store file: both open it, both write, neither disturbs the other', async () => {
    const path = freshFile();
    const changes = SqliteChangeStore.open(path);
    const deliveries = SqliteDeliveryStore.open(path);
    const c = buildChange();
    await deliveries.record({ system: 'servicenow', instance: 'sn-prod', deliveryId: 'x', receivedAt: '2026-03-12T10:00:00Z', body: {} });
    await changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change: c }], null);
    await deliveries.record({ system: 'servicenow', instance: 'sn-prod', deliveryId: 'y', receivedAt: '2026-03-12T10:00:00Z', body: {} });
    expect(await changes.countChanges()).toBe(1);
    expect(await deliveries.pendingCount('sn-prod')).toBe(2);
    await deliveries.close();
    await changes.close();

    // Opening the change store again leaves the inbox alone (its migrations know nothing of it).
    const again = SqliteChangeStore.open(path);
    const inbox = SqliteDeliveryStore.open(path);
    expect(await inbox.pendingCount()).toBe(2);
    expect((await again.getChange(c.id))?.change).toEqual(c);
    await inbox.close();
    await again.close();
  });

  it('reports an unusable path as a store failure', () => {
    const blocker = join(dir, 'a-file');
    SqliteDeliveryStore.open(blocker).close();
    expect(() => SqliteDeliveryStore.open(join(blocker, 'sub', 'x.db'))).toThrow(expect.objectContaining({ code: 'CG_STORE_FAILED' }));
  });
});
