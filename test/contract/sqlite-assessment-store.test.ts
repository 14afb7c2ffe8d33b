// Runs the assessment store contract on SQLite (in memory and on a file), and
// checks that assessments survive reopening the file they share with the mirror.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/domain/assessment.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite-change-store.ts';
import { describeAssessmentStoreContract } from './assessment-store.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'changegate-assessments-'));
let files = 0;
const freshFile = (): string => join(dir, `n${++files}`, 'changegate.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeAssessmentStoreContract('SQLite in memory', async () => SqliteAssessmentStore.open(':memory:'));
describeAssessmentStoreContract('SQLite file', async () => SqliteAssessmentStore.open(freshFile()));

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
