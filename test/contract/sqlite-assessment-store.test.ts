// What only the SQLite assessment store promises: assessments survive
// reopening the file they share with the mirror. (The contract suite runs
// through store-adapters.test.ts.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/domain/assessment.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-assessments-'));
let files = 0;
const freshFile = (): string => join(dir, `n${++files}`, 'changegate.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteAssessmentStore on a file', () => {
  it('keeps assessments across reopening the file the mirror lives in', async () => {
    const path = freshFile();
    const mirror = SqliteChangeStore.open(path);
    const first = SqliteAssessmentStore.open(path);
    const body = { changeId: 'c', key: 'CHG1', state: 'new' } as unknown as Assessment;
    await first.saveAssessment({ changeId: 'c', revision: 1, policyVersion: 'p', outcomeHash: 'h', inputHash: 'i', evaluatedAt: '2026-03-02T09:00:00.000Z', wroteBack: true, assessment: body });
    await first.close();
    const reopened = SqliteAssessmentStore.open(path);
    expect(await reopened.latestAssessment('c')).toMatchObject({ revision: 1, outcomeHash: 'h', assessment: body });
    await reopened.close();
    await mirror.close();
  });
});
