// What the history says when the store cannot name a revision's author: a
// revision stored before changegate kept authors, and one the source named
// nobody for. It says so (`by: null` with the reason) rather than guess, and
// it does not take a write by the integration user for changegate's own when
// the write touched more than changegate writes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import type { RevisionEntry } from '../../src/assess/change-history.ts';
import { changeHistoryPage } from '../../src/assess/history-page.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-history-authors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OWN = { users: ['svc.changegate'], paths: ['raw.u_changegate_verdict', 'updatedAt', 'nativeRevision'] };

describe('revision authors in the history', () => {
  it('says why a revision names nobody, and marks only a write touching changegate\'s fields alone as its own', async () => {
    const path = join(dir, 'changegate.db');
    const store = SqliteChangeStore.open(path);
    const v1 = buildChange({ raw: { u_changegate_verdict: '' } });
    const v2 = buildChange({ raw: { u_changegate_verdict: '' }, title: 'renamed', nativeRevision: 4, updatedAt: '2026-03-02T10:00:00Z' });
    const v3 = buildChange({ raw: { u_changegate_verdict: 'blocked' }, title: 'renamed', nativeRevision: 5, updatedAt: '2026-03-02T11:00:00Z' });
    const v4 = buildChange({ raw: { u_changegate_verdict: 'allowed' }, title: 'renamed again', nativeRevision: 6, updatedAt: '2026-03-02T12:00:00Z' });
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v1, author: { id: 'abel.tuter', name: null } }], null);
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v2 }], null);
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v3, author: { id: 'svc.changegate', name: null } }], null);
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: v4, author: { id: 'svc.changegate', name: null } }], null);
    await store.close();
    // As an upgraded store holds it: the first revision was mirrored before authors were kept.
    const db = new DatabaseSync(path);
    db.exec('UPDATE revisions SET author = NULL, author_recorded = 0 WHERE seq = 1');
    db.close();

    const reopened = SqliteChangeStore.open(path);
    const [assessments, outbox] = [SqliteAssessmentStore.open(':memory:'), SqliteOutboxStore.open(':memory:')];
    const mc = await reopened.getChange(v1.id);
    const { items: entries } = await changeHistoryPage({ store: reopened, assessments, outbox, ownWritesOf: () => OWN }, mc as NonNullable<typeof mc>, { order: 'asc', limit: 1000 });
    const revisions = entries.filter((e): e is RevisionEntry => e.kind === 'revision').map((r) => ({ seq: r.seq, by: r.by, byUnknown: r.byUnknown, author: r.author }));
    expect(revisions).toEqual([
      { seq: 1, by: null, byUnknown: 'mirrored before changegate kept revision authors', author: null },
      { seq: 2, by: null, byUnknown: 'the source names no author for this version', author: null },
      // Only the verdict field moved: changegate's write-back.
      { seq: 3, by: 'changegate', byUnknown: undefined, author: { id: 'svc.changegate', name: null } },
      // The integration user also renamed the change: that is the user's edit, not changegate's.
      { seq: 4, by: { id: 'svc.changegate', name: null }, byUnknown: undefined, author: { id: 'svc.changegate', name: null } },
    ]);
    await Promise.all([reopened.close(), assessments.close(), outbox.close()]);
  });
});
