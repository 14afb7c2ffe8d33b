// `changegate evidence export` where the operator's --out or period is not one it can use: a
// directory or a missing folder for a bundle's file, a file for a period's directory, a period that
// ends before it starts. Each is a usage error naming the option, exit 2, never a stack trace or an
// empty export reported as done.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStores } from '../../src/store/open-stores.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';
import { changegate } from '../support/cli-child.ts';

const KEY = changeNumber(3);
const STACK = /\n\s+at |CG_INTERNAL/;

let dir: string;
let config: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-evidence-out-'));
  const stores = await openStores({ kind: 'sqlite', path: join(dir, 'changegate.db') });
  const change = buildChange({ nativeId: sysId(3), key: KEY });
  await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
  await stores.evidence.append(change.id, { kind: 'revision', at: '2026-03-02T09:00:00Z', actor: 'ops', source: 'servicenow:sn-prod', summary: 'created', payload: {} }, 'revision:1');
  await stores.close();
  config = join(dir, 'changegate.yaml');
  writeFileSync(config, `store: { kind: sqlite, path: ${join(dir, 'changegate.db')} }\nlog: { level: fatal }\ninstances:\n  - { id: sn-prod, system: servicenow, baseUrl: "http://127.0.0.1:9", auth: { kind: basic, username: admin, password: admin } }\n`);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('changegate evidence export --out and period', () => {
  it('refuses a period whose --since is not before its --until, naming both, and writes nothing', async () => {
    const out = join(dir, 'backwards');
    const { code, stdout, stderr } = await changegate(['evidence', 'export', '--since', '2026-04-01', '--until', '2026-01-01', '--out', out, '--config', config]);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(/^changegate evidence export: --since 2026-04-01T00:00:00\.000Z is not before --until 2026-01-01T00:00:00\.000Z: the period is empty\n\nusage: changegate evidence export /);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an --out it cannot write, naming it and why, with exit 2 and no stack trace', async () => {
    const file = join(dir, 'a file.json');
    writeFileSync(file, '{}');
    const [folder, missing, period] = await Promise.all([
      changegate(['evidence', 'export', KEY, '--out', dir, '--config', config]),
      changegate(['evidence', 'export', KEY, '--out', join(dir, 'no such folder', 'bundle.json'), '--config', config]),
      changegate(['evidence', 'export', '--since', '2026-01-01', '--until', '2026-04-01', '--out', file, '--config', config]),
    ]);
    for (const run of [folder, missing, period]) {
      expect(run.code).toBe(2);
      expect(run.stderr).not.toMatch(STACK);
    }
    expect(folder.stderr).toMatch(new RegExp(`^changegate evidence export: --out ${dir}: cannot write the file \\(EISDIR\\)\n\nusage: changegate evidence export `));
    expect(missing.stderr).toMatch(new RegExp(`^changegate evidence export: --out ${join(dir, 'no such folder', 'bundle.json')}: cannot write the file \\(ENOENT\\)\n`));
    expect(period.stderr).toMatch(new RegExp(`^changegate evidence export: --out ${file.replace('.', '\\.')}: cannot make the directory \\((EEXIST|ENOTDIR)\\)\n`));
  });
});
