// Gives the MongoDB store's suites a server. CI (.ci/run) starts FerretDB
// itself and sets MONGODB_URI; a developer's `npm test` gets one here, started
// by the same script, after building the pinned FerretDB once when it is not
// built yet (the README's quick start: `npm test` on a fresh clone). Where it
// cannot be built (no Go toolchain), the MongoDB suites fail saying how to run
// them (store-adapters.test.ts): they never pass without having run.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const SCRIPT = '.ci/ferretdb.sh';

export default function setup(): (() => void) | undefined {
  if (process.env['MONGODB_URI'] !== undefined && process.env['MONGODB_URI'] !== '') return undefined;
  const binary = execFileSync('bash', [SCRIPT, 'path'], { encoding: 'utf8' }).trim();
  if (!existsSync(binary)) {
    process.stderr.write('Building FerretDB v1.24.2 for the MongoDB store\'s tests, once (about 2 minutes; `bash .ci/ferretdb.sh install`)\n');
    try {
      execFileSync('bash', [SCRIPT, 'install'], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      return undefined;
    }
    if (!existsSync(binary)) return undefined;
  }
  const exports = execFileSync('bash', [SCRIPT, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const env: Record<string, string> = {};
  for (const match of exports.matchAll(/^export (\w+)='?([^'\n]*)'?$/gm)) env[match[1] as string] = match[2] as string;
  Object.assign(process.env, env);
  return () => {
    execFileSync('bash', [SCRIPT, 'stop'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    for (const name of Object.keys(env)) delete process.env[name];
  };
}
