// What the embedded store costs a sync, per page of 1,000 realistic changes
// (~9 KB of JSON each, `raw` included), on a WAL file in a temp directory:
//   fetch    GET of the page's source payload (pre-serialised, from an in-process
//            HTTP server) + JSON.parse: the floor a sync pays before mapping
//   initial  first sync: every change new
//   overlap  the same page again: hashes equal, nothing written
//   update   every change modified: a new revision with a field diff each
// The store alone, one page after another; the end-to-end ratio against a bare
// fetch (simulator latency, the engine reading ahead while a page is stored)
// is what test/bench/mirror.bench.ts measures.
// Usage: npx node test/bench/sqlite-store.bench.ts [pages=50] [pageSize=1000]

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamItem } from '../../src/kit/connector.ts';
import type { Change } from '../../src/domain/change.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { at, buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const pages = Number(process.argv[2] ?? 50);
const pageSize = Number(process.argv[3] ?? 1000);

function pageOf(p: number, version: number): Change[] {
  return Array.from({ length: pageSize }, (_, i) => {
    const n = p * pageSize + i + 1;
    return buildChange({
      nativeId: sysId(n),
      key: changeNumber(n),
      title: `Change ${n}: roll service ${n % 97} to build ${version}.${n % 13}`,
      description: `Version ${version} of change ${n}. ${'Rollout notes for the service owners. '.repeat(1 + (n % 4))}`,
      state: version === 1 ? 'assess' : 'authorize',
      nativeRevision: version,
      updatedAt: at(n + version * 100_000),
    });
  });
}

interface Phase {
  name: string;
  ms: number[];
}

function summary({ name, ms }: Phase): string {
  const sorted = ms.toSorted((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const p50 = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? 0;
  return `${name.padEnd(8)} mean ${mean.toFixed(1).padStart(7)} ms/page   p50 ${p50.toFixed(1).padStart(7)}   p95 ${p95.toFixed(1).padStart(7)}   (${(mean / pageSize * 1000).toFixed(1)} µs/change)`;
}

const dir = mkdtempSync(join(tmpdir(), 'changegate-bench-'));
const path = join(dir, 'bench.db');
const store = SqliteChangeStore.open(path);
const fetchParse: Phase = { name: 'fetch', ms: [] };
const initial: Phase = { name: 'initial', ms: [] };
const overlap: Phase = { name: 'overlap', ms: [] };
const update: Phase = { name: 'update', ms: [] };
let bytes = 0;
let payload = '';
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(payload);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/now/table/change_request`;

try {
  for (const [version, phase] of [[1, initial], [2, update]] as const) {
    for (let p = 0; p < pages; p++) {
      const changes = pageOf(p, version);
      const items: StreamItem[] = changes.map((change) => ({ kind: 'change', change }));
      const last = changes.at(-1) as Change;
      const cursor = { updatedAt: last.updatedAt, id: last.nativeId };
      if (version === 1) {
        payload = JSON.stringify({ result: changes.map((c) => c.raw) });
        bytes += JSON.stringify(changes).length;
        const t0 = performance.now();
        const body = JSON.parse(await (await fetch(url)).text()) as { result: unknown[] };
        fetchParse.ms.push(performance.now() - t0);
        if (body.result.length !== pageSize) throw new Error('short page from the payload server');
      }
      const t1 = performance.now();
      const written = await store.applyPage('sn-prod', 'changes', items, cursor);
      phase.ms.push(performance.now() - t1);
      if (written.changesWritten !== pageSize) throw new Error(`page ${p} v${version}: expected ${pageSize} written, got ${JSON.stringify(written)}`);
      if (version === 1) {
        const t2 = performance.now();
        const again = await store.applyPage('sn-prod', 'changes', items, cursor);
        overlap.ms.push(performance.now() - t2);
        if (again.changesUnchanged !== pageSize) throw new Error(`page ${p}: overlap wrote ${JSON.stringify(again)}`);
      }
    }
  }
  console.log(`${pages} pages x ${pageSize} changes, ${(bytes / pages / pageSize / 1024).toFixed(1)} KB per change JSON, node ${process.version}`);
  for (const phase of [fetchParse, initial, overlap, update]) console.log(summary(phase));
  console.log(`database ${(statSync(path).size / 1024 / 1024).toFixed(0)} MB + WAL, ${await store.countChanges()} changes`);
} finally {
  server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
