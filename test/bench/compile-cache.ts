// The module compile cache the benchmarks' processes run with: every changegate process starts
// from bin/changegate.js, which turns Node's compile cache on before the first TypeScript module
// is read (a warm cache spares the type stripper and its memory). A process a benchmark spawns
// runs with the same cache, so its peak RSS and CPU are what the service's are.

import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** The environment for a child process: the user's NODE_COMPILE_CACHE, else the directory bin/changegate.js uses by default. */
export function compileCacheEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, NODE_COMPILE_CACHE: env['NODE_COMPILE_CACHE'] ?? join(tmpdir(), 'node-compile-cache') };
}

/** Fills the cache with the service's modules (as any earlier run of changegate would have), so no measured process compiles them. */
export function warmCompileCache(): void {
  execFileSync(process.execPath, [join(ROOT, 'bin/changegate.js'), '--help'], { env: compileCacheEnv(), stdio: 'ignore' });
}
