// The fixtures copied from the shared samples folder are still the files they
// were copied from: a hand edit here and a change upstream both fail, naming the
// file and what to do (test/fixtures/README.md).

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures');
const SHARED = resolve(ROOT, '../shared/samples');

interface Manifest {
  copies: Record<string, { sample: string; sha256: string }>;
  notCopies: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'SOURCES.json'), 'utf8')) as Manifest;
const copies = Object.entries(manifest.copies);
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(FIXTURES, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .toSorted();
}

const listed = (file: string): boolean =>
  file in manifest.copies || Object.keys(manifest.notCopies).some((key) => (key.endsWith('/') ? file.startsWith(key) : file === key));

describe('fixtures copied from the shared samples', () => {
  it('lists copies', () => {
    expect(copies.length).toBeGreaterThan(0);
  });

  it('are unchanged since they were copied (a fixture edited by hand is no longer a copy)', () => {
    const edited = copies
      .filter(([fixture, { sha256: copied }]) => !existsSync(join(FIXTURES, fixture)) || sha256(join(FIXTURES, fixture)) !== copied)
      .map(([fixture]) => `${fixture}: missing or edited; restore it from ../shared/samples, or list it under notCopies with a reason`);
    expect(edited).toEqual([]);
  });

  it('still match the shared samples, where the shared folder is present', () => {
    const relativeSamples = copies.filter(([, { sample }]) => sample !== '' && !sample.startsWith('/') && !sample.split('/').includes('..'));
    // Without the shared folder only the manifest itself can be checked: every source is a path inside it.
    expect(relativeSamples.map(([fixture]) => fixture)).toEqual(copies.map(([fixture]) => fixture));
    if (!existsSync(SHARED)) return;
    const drifted = copies
      .filter(([, { sample, sha256: copied }]) => !existsSync(join(SHARED, sample)) || sha256(join(SHARED, sample)) !== copied)
      .map(([fixture, { sample }]) => `${fixture}: ../shared/samples/${sample} is gone or changed; copy it again and update SOURCES.json`);
    expect(drifted).toEqual([]);
  });

  it('account for every fixture: each file is a listed copy or says why it is not one', () => {
    expect(filesUnder(FIXTURES).filter((file) => !listed(file))).toEqual([]);
  });
});
