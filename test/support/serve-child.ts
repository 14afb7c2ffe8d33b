// Child `changegate serve` processes for the end-to-end tests and the fault
// campaign: a free port, a poll-until helper, and a spawn that hands back the
// child before it does anything, so a test can arm its hooks (kill on the Nth
// request, …) before the service's first sync can reach them.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

export interface UntilOptions {
  everyMs?: number;
  /** Called between polls; throw from it to give up early (the child died, …). */
  stillRunning?: () => void;
}

/** Polls `probe` until it yields a value; a probe that throws (the server not yet up) counts as "not yet". */
export async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, options: UntilOptions = {}): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    options.stillRunning?.();
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.everyMs ?? 100));
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeChild {
  child: ChildProcess;
  url: string;
  exited: Promise<Exit>;
  /** Resolves once /healthz answers; rejects if the child exits first or does not listen within 30 s. */
  ready: Promise<void>;
  /** pino's JSON lines on stdout so far. */
  lines: () => Record<string, unknown>[];
  /** stderr so far. */
  stderr: () => string;
}

export interface ServeChildOptions {
  configFile: string;
  port: number;
  cwd?: string;
  /** Node flags before the entry point (`--import`, heap limits). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Spawns `changegate serve` now; the caller awaits `ready` after arming whatever must see its first request. */
export function spawnServe(options: ServeChildOptions): ServeChild {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'src/main.ts', 'serve', '--config', options.configFile], {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: options.env } : {}),
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  let gone: Exit | null = null;
  const exited = new Promise<Exit>((done) =>
    child.on('exit', (code, signal) => {
      gone = { code, signal };
      done(gone);
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  const ready = until('the child to listen', 30_000, async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), {
    stillRunning: () => {
      if (gone !== null) throw new Error(`changegate serve exited before it listened (${JSON.stringify(gone)}): ${err.slice(-500)}`);
    },
  }).then(() => undefined);
  // A test that kills the child before it listens never awaits `ready`.
  ready.catch(() => undefined);
  const lines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, url, exited, ready, lines, stderr: () => err };
}
