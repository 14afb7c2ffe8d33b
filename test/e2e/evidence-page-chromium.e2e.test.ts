// The evidence page as an auditor sees it: the built-in demo synced by the real
// CLI, a change exported as JSON and as a page (`evidence export --format html`)
// and the page opened in headless Chromium (Debian's package; .ci/run installs
// it). What Chromium renders must show the change key, the entry count, the head
// hash the JSON bundle names and the gate results of the last decision; a
// summary carrying markup must stay text. A screenshot of the page is kept in
// test-artifacts/ (gitignored) for a person to look at.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleHtml } from '../../src/evidence/bundle-html.ts';
import { buildBundle, type EvidenceBundle } from '../../src/evidence/evidence-bundle.ts';
import { chainEntry } from '../../src/evidence/evidence-entry.ts';
import { ROOT } from '../support/serve-child.ts';

const CHROMIUM = 'chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
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

/** Headless Chromium on a file: its DOM after the page has loaded, or a screenshot. Its own profile, so runs side by side do not share one. */
function chromium(args: string[], file: string): string {
  const profile = mkdtempSync(join(tmpdir(), 'cg-chromium-'));
  try {
    const run = spawnSync(CHROMIUM, ['--headless', '--disable-gpu', '--no-sandbox', `--user-data-dir=${profile}`, ...args, pathToFileURL(file).href], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    if (run.error !== undefined) throw run.error;
    if (run.status !== 0) throw new Error(`chromium ${args.join(' ')} exited ${String(run.status)}:\n${run.stderr}`);
    return run.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The text a reader sees in an element of the dumped DOM (tags dropped, entities read). */
function shown(dom: string, id: string): string | null {
  const match = new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(dom);
  return match === null ? null : decode((match[2] ?? '').replace(/<[^>]+>/g, ''));
}
const decode = (html: string): string => html.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', '\'').replaceAll('&amp;', '&');

/** The rows of a table of the dumped DOM, each as the text of its cells. */
function rows(dom: string, id: string): string[][] {
  const table = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(dom)?.[1] ?? '';
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) => [...(r[1] ?? '').matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((c) => decode((c[1] ?? '').replace(/<[^>]+>/g, '')).trim()));
}

let key = '';
let bundle: EvidenceBundle;
let pageDom: string | null = null;
/** The exported page's DOM as Chromium rendered it (one run of Chromium for the tests that read it). */
const renderedPage = (): string => (pageDom ??= chromium(['--dump-dom'], join(dir, 'page.html')));

beforeAll(async () => {
  if (spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).status !== 0) {
    throw new Error('chromium is not installed: this test opens the evidence page in Debian\'s headless Chromium. Install it with `apt-get install -y chromium` (.ci/run does).');
  }
  dir = mkdtempSync(join(tmpdir(), 'cg-evidence-page-'));
  const sync = await changegate(['sync']);
  if (sync.code !== 0) throw new Error(`changegate sync exited ${String(sync.code)}: ${sync.stderr}`);
  const period = await changegate(['evidence', 'export', '--since', '2000-01-01', '--until', '2100-01-01', '--out', 'period']);
  if (period.code !== 0) throw new Error(`changegate evidence export (period) exited ${String(period.code)}: ${period.stderr}`);
  // A ServiceNow change of the demo whose last decision has a failing gate: the page must show it.
  const index = JSON.parse(readFileSync(join(dir, 'period', 'index.json'), 'utf8')) as { changes: { key: string; instance: string; file: string }[] };
  const candidate = index.changes.find((c) => {
    const b = JSON.parse(readFileSync(join(dir, 'period', c.file), 'utf8')) as EvidenceBundle;
    return c.key.startsWith('CHG') && JSON.stringify(b.entries.at(-1)?.payload ?? {}).includes('"result":"fail"');
  });
  if (candidate === undefined) throw new Error('the demo has no ServiceNow change with a failing gate');
  key = candidate.key;
  const json = await changegate(['evidence', 'export', key, '--out', 'bundle.json']);
  const html = await changegate(['evidence', 'export', key, '--format', 'html', '--out', 'page.html']);
  if (json.code !== 0 || html.code !== 0) throw new Error(`changegate evidence export ${key} exited ${String(json.code)} / ${String(html.code)}: ${json.stderr}${html.stderr}`);
  bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as EvidenceBundle;
}, 180_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('the evidence page in headless Chromium', () => {
  it('shows the change key, the entry count and the head hash the JSON bundle names', () => {
    const dom = renderedPage();
    expect(shown(dom, 'change-key')).toBe(`Evidence for ${key}`);
    expect(shown(dom, 'entry-count')).toBe(String(bundle.entries.length));
    expect(bundle.head?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(shown(dom, 'head-hash')).toBe(bundle.head?.hash);
    expect(shown(dom, 'check')).toMatch(/^intact every hash recomputed/);
    const entries = rows(dom, 'entries').slice(1);
    expect(entries.map((r) => r[0])).toEqual(bundle.entries.map((e) => String(e.seq)));
    expect(entries.map((r) => r[5])).toEqual(bundle.entries.map((e) => e.summary));
  });

  it('shows each gate of the last decision with its result and reason, as the bundle records them', () => {
    const dom = renderedPage();
    const last = bundle.entries.findLast((e) => e.kind === 'assessment')?.payload as { gates: { id: string; into: string; result: string; reason: string }[] };
    const failing = last.gates.find((g) => g.result === 'fail');
    expect(failing).toBeDefined();
    const gates = rows(dom, 'gates');
    expect(gates[0]).toEqual(['into', 'gate', 'result', 'reason']);
    expect(gates.slice(1)).toEqual(last.gates.map((g) => [g.into, g.id, g.result, g.reason]));
    expect(gates).toContainEqual([failing?.into, failing?.id, 'fail', failing?.reason]);
  });

  it('renders a summary carrying markup as text: no script runs, the title stays', () => {
    const hostile = '<script>document.title="owned";document.body.innerHTML="owned"</script>';
    const change = { id: 'servicenow:sn-demo:x', key: 'CHG0000001', instance: 'sn-demo', title: 'A title' };
    const entry = chainEntry(change.id, null, { kind: 'revision', at: '2026-12-01T00:00:00Z', actor: null, source: 'servicenow:sn-demo', summary: hostile, payload: {} });
    const file = join(dir, 'hostile.html');
    writeFileSync(file, bundleHtml(buildBundle(change, [entry], '2026-12-02T00:00:00Z')));
    const dom = chromium(['--dump-dom'], file);
    expect(dom).not.toMatch(/<script/i);
    expect(dom).toContain('<title>Evidence for CHG0000001: A title</title>');
    expect(rows(dom, 'entries')[1]?.[5]).toBe(hostile);
  });

  it('keeps a screenshot of the page as a test artifact', () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'evidence-page.png');
    rmSync(shot, { force: true });
    chromium(['--screenshot=' + shot, '--window-size=1200,1600', '--hide-scrollbars'], join(dir, 'page.html'));
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    // 1200 × 1600, as asked (the IHDR chunk's width and height).
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1200, 1600]);
    expect(statSync(shot).size).toBeGreaterThan(20_000); // a rendered page, not a blank one
  });
});
