// Where a first sync's disk writes go. Per size: `changegate sync --full` with
// its assessments (as `bench:mirror --e2e` runs it) against the skewed
// ServiceNow simulator, while a reader holds a snapshot taken before the sync,
// so no checkpoint can reset the write-ahead log and every page the sync
// logged is still in it. Each logged page is then charged to the table or
// index that owns that page at the end (SQLite's dbstat). A b-tree whose pages
// were logged many times each is one the sync rewrote at random: its cost
// grows faster than the data.
//
//   npm run bench:writes [-- --sizes 20000,100000 --top 20]

import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { startSimulatorProcess } from './bench-simulator.ts';
import { e2ePhase } from './mirror-e2e.ts';

const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '20000,100000' }, top: { type: 'string', default: '20' } } });
/** Pages logged per page at the end above which a b-tree counts as rewritten (rows and appends are logged about once). */
const REWRITTEN = 2;

interface Tree {
  name: string;
  logged: number;
  pages: number;
}

/** Page numbers of every frame in a write-ahead log, with the page size. */
function loggedPages(path: string): { pageSize: number; frames: Map<number, number>; total: number } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    const pageSize = header.readUInt32BE(8);
    const frames = new Map<number, number>();
    const frameHeader = Buffer.alloc(24);
    let total = 0;
    for (let at = 32; at + 24 + pageSize <= size; at += 24 + pageSize) {
      readSync(fd, frameHeader, 0, 24, at);
      const page = frameHeader.readUInt32BE(0);
      frames.set(page, (frames.get(page) ?? 0) + 1);
      total += 1;
    }
    return { pageSize, frames, total };
  } finally {
    closeSync(fd);
  }
}

async function measure(size: number): Promise<{ trees: Tree[]; total: number; pageSize: number }> {
  // No latency: the sync's writes, not its waits, are what is measured.
  const { info: { url }, stop } = await startSimulatorProcess<{ url: string }>('test/bench/serve-servicenow.ts', [String(size), '0', '3', '5', 'skewed'], ['--max-old-space-size=8192']);
  const dir = mkdtempSync(join(tmpdir(), 'cg-bench-writes-'));
  try {
    const db = join(dir, 'changegate.db');
    const holder = new DatabaseSync(db);
    holder.exec('PRAGMA journal_mode = WAL');
    holder.exec('BEGIN');
    holder.prepare('SELECT count(*) FROM sqlite_master').get();
    // The CLI's own JSON summary is not this bench's output.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    const result = await e2ePhase(url, 1000, dir).finally(() => {
      process.stdout.write = write;
    });
    const { pageSize, frames, total } = loggedPages(`${db}-wal`);
    const reader = new DatabaseSync(db, { readOnly: true });
    const owner = new Map<number, string>();
    const pages = new Map<string, number>();
    for (const row of reader.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]) {
      owner.set(row.pageno, row.name);
      pages.set(row.name, (pages.get(row.name) ?? 0) + 1);
    }
    reader.close();
    holder.exec('COMMIT');
    holder.close();
    const trees = new Map<string, Tree>();
    for (const [page, count] of frames) {
      const name = owner.get(page) ?? '(freed)';
      const tree = trees.get(name) ?? { name, logged: 0, pages: pages.get(name) ?? 0 };
      tree.logged += count;
      trees.set(name, tree);
    }
    console.log(`\n${f(size)} changes: ${f(result.records)} records, ${f(result.assessed)} assessed; ${f(total)} pages logged (${f((total * pageSize) / 2 ** 20)} MB)`);
    return { trees: [...trees.values()].toSorted((a, b) => b.logged - a.logged), total, pageSize };
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

console.log('where a first sync writes: `changegate sync --full` with assessments, skewed simulator, no latency; every page of the write-ahead log charged to its b-tree');
const shares: { size: number; rewritten: number; total: number }[] = [];
for (const size of args.sizes.split(',').map(Number)) {
  const { trees, total } = await measure(size);
  console.log(`  ${'b-tree'.padEnd(40)} ${'logged'.padStart(10)} ${'share'.padStart(7)} ${'pages at end'.padStart(13)} ${'logged/page'.padStart(12)}`);
  for (const t of trees.slice(0, Number(args.top))) {
    console.log(`  ${t.name.padEnd(40)} ${f(t.logged).padStart(10)} ${`${f((100 * t.logged) / total, 1)}%`.padStart(7)} ${f(t.pages).padStart(13)} ${f(t.logged / Math.max(1, t.pages), 1).padStart(12)}`);
  }
  const rewritten = trees.filter((t) => t.logged / Math.max(1, t.pages) > REWRITTEN).reduce((sum, t) => sum + t.logged, 0);
  console.log(`  rewritten b-trees (over ${REWRITTEN} logged pages per page): ${f((100 * rewritten) / total, 1)}% of the log`);
  shares.push({ size, rewritten, total });
}
for (let i = 1; i < shares.length; i++) {
  const [a, b] = [shares[i - 1], shares[i]] as [(typeof shares)[number], (typeof shares)[number]];
  console.log(`\n${f(a.size)} → ${f(b.size)} changes (${f(b.size / a.size, 1)}× the data): the log grew ${f(b.total / a.total, 2)}×, its rewritten b-trees ${f(b.rewritten / a.rewritten, 2)}×, the rest ${f((b.total - b.rewritten) / (a.total - a.rewritten), 2)}×`);
}
