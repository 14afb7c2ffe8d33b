// What only the SQLite writer promises: a batch is one transaction, so a batch
// that fails midway stores none of it and leaves every change in it owed (the
// item-by-item writer of other stores keeps what it stored before the failure).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/domain/assessment.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import type { StoreBundle } from '../../src/store/store-bundle.ts';
import { buildChanges } from '../support/change-builder.ts';
import { writesFor } from './assessment-writer.contract.ts';

describe('SQLite assessment writer', () => {
  let dir: string;
  let stores: StoreBundle;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cg-writer-'));
    stores = openSqliteStores(join(dir, 'changegate.db'));
  });
  afterEach(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores nothing of a batch whose last item fails, and every change in it stays owed', async () => {
    const changes = buildChanges(3, 1, { instance: 'sn-prod' });
    await stores.changes.applyPage('sn-prod', 'changes', changes.map((change) => ({ kind: 'change', change })), null);
    const batch = changes.map((c) => writesFor(c));
    const last = batch[2];
    if (last?.assessment == null || stores.assessmentWriter === undefined) throw new Error('no writer or no assessment');
    // An assessment that cannot be serialised fails the third item, after the first two were written in the transaction.
    batch[2] = { ...last, assessment: { ...last.assessment, assessment: { unserialisable: 1n } as unknown as Assessment } };
    await expect(stores.assessmentWriter.write(batch)).rejects.toMatchObject({ code: 'CG_STORE_FAILED' });
    expect(await stores.changes.listOwedAssessments({ limit: 10 })).toEqual(changes.map((c) => c.id).toSorted());
    expect((await stores.outbox.counts()).pending).toBe(0);
    for (const change of changes) {
      expect(await stores.assessments.latestAssessment(change.id)).toBeNull();
      expect(await stores.evidence.list(change.id)).toEqual([]);
    }
  });
});
