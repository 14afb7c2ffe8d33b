// The README's examples of `history` and `check --at` run as written, as a new
// user runs them on a fresh clone: `sync` the built-in demo into
// ./data/changegate.db, then each example, read from the README itself (so an
// edit there that breaks one fails here). Each runs as `changegate` with the
// example's own arguments, in a scratch directory standing for the clone's.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/serve-child.ts';

const PREFIX = 'npm run changegate -- ';

/** The README's shell lines that run `changegate` (comments dropped), from its ```sh blocks. */
function readmeExamples(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks
    .flatMap((b) => b.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith(PREFIX));
}

/** Words as a POSIX shell splits them (double quotes only: all the README uses). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

let dir: string;

function changegate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'src/main.ts'), ...args], { cwd: dir, env: { ...process.env, CHANGEGATE_CONFIG: '', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

const examples = readmeExamples();
const run = (line: string) => changegate(words(line.slice(PREFIX.length)));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-readme-'));
  const sync = examples.find((l) => /^npm run changegate -- sync$/.test(l));
  if (sync === undefined) throw new Error('the README no longer shows `npm run changegate -- sync`');
  const { code, stderr } = await run(sync);
  if (code !== 0) throw new Error(`the README's sync exited ${String(code)}: ${stderr}`);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the README\'s history and check --at examples, on the demo', () => {
  const history = examples.filter((l) => l.startsWith(`${PREFIX}history `));
  const checkAt = examples.filter((l) => l.startsWith(`${PREFIX}check `) && / --at /.test(l));

  it('shows them', () => {
    expect(history.length).toBeGreaterThanOrEqual(2);
    expect(checkAt.length).toBeGreaterThanOrEqual(1);
  });

  it('history prints a table of each change\'s revisions with their authors and its assessments, saying who acted', async () => {
    const tables = history.filter((l) => !l.includes('--json'));
    expect(tables.length).toBeGreaterThan(0);
    for (const line of tables) {
      const { code, stdout, stderr } = await run(line);
      expect({ line, code, stderr }).toEqual({ line, code: 0, stderr: '' });
      expect(stdout).toMatch(/^when +kind +by +what$/m);
      expect(stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +revision +[a-z]+\.[a-z]+ +revision 1 \(native \d+\): first seen in state /m);
      expect(stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +assessment +changegate +revision 1 · policy /m);
    }
  });

  it('history --json gives the same list as a format-1 document, each entry naming who acted or why nobody is named', async () => {
    const documents = history.filter((l) => l.includes('--json'));
    expect(documents.length).toBeGreaterThan(0);
    for (const line of documents) {
      const { code, stdout, stderr } = await run(line);
      expect({ line, code, stderr }).toEqual({ line, code: 0, stderr: '' });
      const doc = JSON.parse(stdout) as { format: number; exitCode: number; items: { kind: string; by: unknown; byUnknown?: string }[] };
      expect(doc).toMatchObject({ format: 1, exitCode: 0 });
      expect(doc.items.some((e) => e.kind === 'revision')).toBe(true);
      expect(doc.items.some((e) => e.kind === 'assessment' && e.by === 'changegate')).toBe(true);
      expect(doc.items.filter((e) => e.by === null && e.byUnknown === undefined)).toEqual([]);
    }
  });

  it('check --at judges the revision current then and names it', async () => {
    for (const line of checkAt) {
      const { code, stdout } = await run(line);
      expect({ line, code }).toEqual({ line, code: 0 });
      expect(stdout).toMatch(/judged as of \d{4}-\d\d-\d\dT[\d:.]+Z: revision 1 of 1 \(native \d+, updated [^,]+, by [a-z]+\.[a-z]+\)/);
    }
  });
});

describe('changegate history on a mistake', () => {
  it('exits 2 naming --limit or --order, followed by the command\'s own help, and 2 naming a change the mirror does not hold', async () => {
    for (const [args, named] of [[['--limit', '0'], '--limit "0"'], [['--order', 'sideways'], '--order "sideways"']] as const) {
      const { code, stderr } = await changegate(['history', 'CHG0030001', ...args]);
      expect(code).toBe(2);
      expect(stderr).toContain(`changegate history: ${named}`);
      expect(stderr).toContain('usage: changegate history KEY');
    }
    const missing = await changegate(['history', 'CHG9999999']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no mirrored change "CHG9999999"');
  });
});
