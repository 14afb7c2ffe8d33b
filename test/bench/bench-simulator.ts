// A benchmark's simulator in a process of its own (serve-servicenow.ts or
// serve-jira.ts), so its CPU is not the measured process's: started, then
// known by the JSON line it prints first (its URL and row counts).

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '../..');

/** Runs `script` (relative to the repository) with `args`; resolves with its first line, parsed, and a stop. */
export function startSimulatorProcess<T>(script: string, args: readonly string[], nodeArgs: readonly string[] = []): Promise<{ info: T; stop: () => void }> {
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = (): void => {
    child.kill('SIGTERM');
  };
  return new Promise((done, fail) => {
    createInterface({ input: child.stdout }).once('line', (line) => done({ info: JSON.parse(line) as T, stop }));
    child.once('exit', (code) => fail(new Error(`simulator ${script} exited with ${code}`)));
  });
}
